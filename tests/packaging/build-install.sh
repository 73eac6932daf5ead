#!/bin/bash
# The Debian packages (issue 12): `dpkg-buildpackage -us -uc -b` on a copy
# of the source tree builds sangwd, gwcli and sangw-resource-agents;
# lintian reports no error; the packages hold what they should; and in a
# throw-away root (an overlay of / in a private mount and network namespace:
# nothing on the machine changes) `apt-get install ./*.deb` installs them,
# the installed unit passes `systemd-analyze verify`, and the daemon
# started with the unit's own command line (ExecStart, /etc/default/sangwd,
# the RuntimeDirectory, a notification socket as systemd gives) sends
# READY=1, answers gwcli on /run/sangw/sangwd.sock, the installed agent's
# monitor says "running", and SIGTERM stops it with STOPPING=1.
# Takes a few minutes (a full build without sanitizers). Skipped without
# dpkg-buildpackage, debhelper or lintian (tests/run installs them).
TEST_NAME=packaging
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip "the throw-away root needs root"
need_program dpkg-buildpackage
need_program lintian
need_program unshare
need_program git
dpkg-query -W -f='${Status}' debhelper 2>/dev/null | grep -q "install ok installed" ||
	skip "debhelper is not installed"
dpkg-checkbuilddeps "$SRC_TOP/debian/control" 2>"$TEST_DIR/builddeps.err" ||
	fail "build dependencies missing: $(cat "$TEST_DIR/builddeps.err")"

# A clean copy of the tree: the files git knows plus new ones not ignored
# (no build folders, no generated configure).
SRC=$TEST_DIR/src/sangw-0.1.0
mkdir -p "$SRC"
(cd "$SRC_TOP" && git ls-files -z --cached --others --exclude-standard) |
	(cd "$SRC_TOP" && tar --null -T - -cf -) | tar -xf - -C "$SRC" ||
	fail "cannot copy the source tree"
t0=$SECONDS
(cd "$SRC" && dpkg-buildpackage -us -uc -b -j2) >"$TEST_DIR/build.log" 2>&1 ||
	{ tail -30 "$TEST_DIR/build.log" >&2; fail "dpkg-buildpackage failed (last lines above)"; }
note "dpkg-buildpackage: $((SECONDS - t0)) s"
debs=()
for p in sangwd gwcli sangw-resource-agents; do
	f=$(ls "$TEST_DIR"/src/${p}_0.1.0-1_*.deb 2>/dev/null)
	[ -n "$f" ] || fail "no $p package was built: $(ls "$TEST_DIR/src")"
	debs+=("$f")
done

# Contents.
has() { # DEB PATH
	dpkg-deb -c "$1" | awk '{ print $6 }' | grep -qx "./$2" || fail "$(basename "$1") lacks /$2"
}
has "${debs[0]}" usr/sbin/sangwd
has "${debs[0]}" lib/systemd/system/sangwd.service
has "${debs[0]}" etc/sangw/sangw.json
has "${debs[0]}" etc/default/sangwd
has "${debs[0]}" usr/share/man/man8/sangwd.8.gz
has "${debs[0]}" usr/share/doc/sangwd/pacemaker.md.gz
has "${debs[1]}" usr/bin/gwcli
has "${debs[1]}" usr/share/man/man8/gwcli.8.gz
has "${debs[2]}" usr/lib/ocf/resource.d/sangw/sangwd

t0=$SECONDS
lintian --fail-on error "${debs[@]}" >"$TEST_DIR/lintian.log" 2>&1
rc=$?
note "lintian ($((SECONDS - t0)) s): $(grep -c '^E:' "$TEST_DIR/lintian.log") errors, $(grep -c '^W:' "$TEST_DIR/lintian.log") warnings"
grep '^[EW]:' "$TEST_DIR/lintian.log" >&2
[ $rc -eq 0 ] && ! grep -q '^E:' "$TEST_DIR/lintian.log" || fail "lintian: $(grep '^E:' "$TEST_DIR/lintian.log" | head -5)"

# The throw-away root. Inside: install, verify the unit, start from it.
mkdir -p "$TEST_DIR/overlay"
cp "${debs[@]}" "$TEST_DIR/overlay/"
cat >"$TEST_DIR/overlay/inside.sh" <<'INSIDE'
set -u
cd /tmp/debs
export DEBIAN_FRONTEND=noninteractive
apt-get install -y /tmp/debs/sangwd_*.deb /tmp/debs/gwcli_*.deb /tmp/debs/sangw-resource-agents_*.deb \
	>/tmp/debs/apt.log 2>&1 || { echo "apt-get install failed"; tail -20 /tmp/debs/apt.log; exit 1; }
dpkg-query -W -f='${Status}\n' sangwd gwcli sangw-resource-agents | grep -vc "install ok installed" | grep -qx 0 ||
	{ echo "not every package is installed"; exit 1; }
out=$(systemd-analyze verify /lib/systemd/system/sangwd.service 2>&1) || { echo "systemd-analyze verify: $out"; exit 1; }
[ -z "$out" ] || { echo "systemd-analyze verify said: $out"; exit 1; }
# What systemd would do: RuntimeDirectory, EnvironmentFile, ExecStart.
mkdir -p /run/sangw /var/lib/sangw
SANGWD_OPTIONS=
. /etc/default/sangwd
cmd=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/sangwd.service | sed "s|\$SANGWD_OPTIONS|$SANGWD_OPTIONS|")
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/notify.sock")
out = open("/tmp/debs/notes.log", "a", buffering=1)
while True:
    out.write(s.recv(4096).decode().replace("\n", "|") + "\n")
' &
listener=$!
for i in $(seq 50); do [ -S /run/notify.sock ] && break; sleep 0.1; done
echo "ExecStart: $cmd"
NOTIFY_SOCKET=/run/notify.sock WATCHDOG_USEC=30000000 $cmd >/tmp/debs/sangwd.log 2>&1 &
pid=$!
ok=
for i in $(seq 100); do grep -q '^READY=1' /tmp/debs/notes.log 2>/dev/null && { ok=1; break; }; sleep 0.1; done
[ -n "$ok" ] || { echo "no READY=1 from the installed sangwd"; cat /tmp/debs/sangwd.log; kill $pid $listener; exit 1; }
gwcli version || { echo "gwcli version failed"; kill $pid $listener; exit 1; }
OCF_ROOT=/usr/lib/ocf OCF_RESKEY_cluster=none OCF_RESKEY_CRM_meta_interval=10000 \
	/usr/lib/ocf/resource.d/sangw/sangwd monitor
rc=$?
[ $rc -eq 0 ] || { echo "the installed agent's monitor returned $rc"; kill $pid $listener; exit 1; }
kill -TERM $pid
wait $pid
rc=$?
kill $listener
[ $rc -eq 0 ] || { echo "sangwd exited $rc after SIGTERM"; exit 1; }
grep -q '^STOPPING=1' /tmp/debs/notes.log || { echo "no STOPPING=1"; exit 1; }
echo "inside: installed, verified, READY=1, gwcli and the agent answered, stopped"
INSIDE
t0=$SECONDS
# shellcheck disable=SC2016
unshare -m -n --propagation private sh -c '
	d=$1
	mkdir -p "$d/ov" && mount -t tmpfs tmpfs "$d/ov" &&
	mkdir -p "$d/ov/upper" "$d/ov/work" "$d/ov/root" &&
	mount -t overlay overlay -o "lowerdir=/,upperdir=$d/ov/upper,workdir=$d/ov/work" "$d/ov/root" &&
	mount --rbind /proc "$d/ov/root/proc" && mount --rbind /sys "$d/ov/root/sys" &&
	mount --rbind /dev "$d/ov/root/dev" &&
	mount -t tmpfs tmpfs "$d/ov/root/run" && mount -t tmpfs tmpfs "$d/ov/root/tmp" || exit 1
	mkdir -p "$d/ov/root/tmp/debs" && cp "$d"/overlay/* "$d/ov/root/tmp/debs/" || exit 1
	ip link set lo up
	chroot "$d/ov/root" bash /tmp/debs/inside.sh
	' sh "$TEST_DIR" >"$TEST_DIR/inside.log" 2>&1
rc=$?
note "throw-away root ($((SECONDS - t0)) s): $(tail -1 "$TEST_DIR/inside.log")"
[ $rc -eq 0 ] || fail "in the throw-away root: $(tail -15 "$TEST_DIR/inside.log")"
pass
