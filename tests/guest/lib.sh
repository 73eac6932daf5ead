# Run a test script inside a QEMU guest running Debian 12's own kernel, for
# what the host kernel cannot do here (the kernel's iSCSI initiator,
# dm-multipath, RDMA/iSER, FCoE). Source it from a test (tests/lib.sh first
# when the test uses it; this file needs nothing of it):
#
#   . "$(dirname "$0")/../guest/lib.sh"
#   guest_image || fail "no guest image"         # build once, cached
#   cp my-guest-part.sh "$GUEST_SHARE/"
#   guest_start --netns NS --bridge BR --addr 203.0.113.254/24 my-guest-part.sh ARG...
#   guest_wait_for io-running 120 || fail ...     # a file the guest wrote
#   ... act on the host ...; guest_signal go-on   # a file the guest waits for
#   guest_wait 300; [ "$GUEST_RC" = 0 ] || fail "$(tail -n 5 "$GUEST_OUTPUT")"
#
# The guest (tests/guest/build-image: debootstrap from the host's apt
# sources, cached under /var/cache/sangw-guest) boots directly into
# tests/guest/guest-init, which mounts the 9p share $GUEST_SHARE at /host,
# brings up udev and eth0, runs /host/SCRIPT ARGS with /host as its working
# folder (stdout and stderr to $GUEST_OUTPUT = /host/out/output), writes its
# exit status to /host/out/rc and powers off. Under TCG (no usable KVM
# here) it reaches the script in ~10 s.
#
# Networking: one virtio NIC (eth0) on a tap device inside a network
# namespace; QEMU runs under `ip netns exec` there. --nic TAP[,mtu=N] adds
# eth1, eth2, ... on more taps in the same namespace, without addresses
# (raw Ethernet for FCoE: a process on the host side of the tap talks to
# the guest's NIC). Either the caller names
# an existing namespace (--netns, and --bridge to put the tap on a bridge
# there, as the cluster harness's switch), or guest_start makes its own
# namespace sgwg-PID whose tap has 203.0.113.1/24 and the guest
# 203.0.113.2/24 (--addr, --host-addr change them).
#
# Never hangs, always cleans up: guest_wait kills QEMU (by PID) at its
# deadline; QEMU gets SIGKILL if the test's shell dies (setpriv
# --pdeathsig); guest_cleanup (on EXIT when this file installs the trap,
# see guest_install_trap) kills QEMU and deletes the tap and any namespace
# it made.
#
# In the guest, /host/.guest/lib.sh gives the script host_signal NAME
# (tell the host) and host_wait NAME SECONDS (wait for guest_signal NAME).

GUEST_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST_IMAGE=              # the image folder (vmlinuz, initrd.img, root.img)
GUEST_RUN_DIR=            # this run's folder: share/, console.log, qemu.log
GUEST_SHARE=              # mounted at /host in the guest
GUEST_OUTPUT=             # the script's stdout + stderr, as it is written
GUEST_CONSOLE=            # the guest's serial console (kernel messages)
GUEST_RC=                 # the script's exit status after guest_wait
GUEST_QEMU_PID=
GUEST_NETNS=
GUEST_OWN_NETNS=          # set when guest_start made the namespace
GUEST_TAP=
GUEST_NIC_TAPS=()         # the taps of the extra NICs (--nic), in GUEST_NETNS
GUEST_T0=
GUEST_DEADLINE=
GUEST_MEM=${GUEST_MEM:-2G}
GUEST_CPUS=${GUEST_CPUS:-2}

_guest_note() {
	if declare -F note >/dev/null; then note "guest: $*"; else echo "[guest] $*" >&2; fi
}

# guest_image: build the image unless it is cached; sets GUEST_IMAGE.
# The first build takes a few minutes (tests/guest/build-image).
# guest_need_iser_sangwd [PROGRAM...]: the iSER tests' preconditions: QEMU,
# setpriv, the given programs, and a $SANGWD built with the iSER transport.
guest_need_iser_sangwd() {
	need_program qemu-system-x86_64 setpriv "$SANGWD" "$@"
	"$SANGWD" --version | grep -q '^transports:.* iser' ||
		fail "sangwd was built without iSER (apt-get install librdmacm-dev libibverbs-dev): $("$SANGWD" --version | tr '\n' ' ')"
}

guest_image() {
	local t0=$SECONDS
	GUEST_IMAGE=$("$GUEST_LIB_DIR/build-image") || return 1
	[ $((SECONDS - t0)) -gt 5 ] && _guest_note "image built in $((SECONDS - t0)) s: $GUEST_IMAGE"
	return 0
}

# guest_prepare [DIR]: make this run's folder and the share (once per run;
# guest_start calls it). Put files for the guest in $GUEST_SHARE before
# guest_start.
guest_prepare() {
	[ -n "$GUEST_RUN_DIR" ] && return 0
	GUEST_RUN_DIR=${1:-$(mktemp -d "${TEST_DIR:-${TMPDIR:-/tmp}}/guest.XXXXXX")}
	GUEST_SHARE=$GUEST_RUN_DIR/share
	GUEST_OUTPUT=$GUEST_SHARE/out/output
	GUEST_CONSOLE=$GUEST_RUN_DIR/console.log
	mkdir -p "$GUEST_SHARE/.guest" "$GUEST_SHARE/out" "$GUEST_SHARE/to-host" "$GUEST_SHARE/to-guest"
	cp "$GUEST_LIB_DIR/guest-init" "$GUEST_SHARE/.guest/init"
	cp "$GUEST_LIB_DIR/guest-lib.sh" "$GUEST_SHARE/.guest/lib.sh"
}

# guest_start [OPTIONS] SCRIPT [ARGS...]: boot the guest in the background
# to run $GUEST_SHARE/SCRIPT (copied there when SCRIPT is a path outside it).
#   --netns NS        run QEMU in namespace NS (default: make sgwg-PID)
#   --bridge BR       put the tap on bridge BR of that namespace
#   --tap NAME        the tap's name (default sgwg-tap0)
#   --addr CIDR       the guest's eth0 address (default 203.0.113.2/24)
#   --host-addr CIDR  the tap's address in a namespace guest_start made
#                     (default 203.0.113.1/24)
#   --route ROUTE     an extra `ip route add ROUTE` in the guest (repeatable)
#   --mount TAG=DIR   DIR shared read-only, mounted at /mnt/TAG (repeatable)
#   --nic TAP[,mtu=N] one more virtio NIC (eth1, eth2, ... in order) on tap
#                     TAP of the same namespace, up, no address; mtu=N sets
#                     the tap's MTU and the NIC's (virtio host_mtu: the
#                     guest's ethN starts with it), default 1500 (repeatable)
#   --append ARGS     more kernel command line
#   --timeout SECS    guest_wait's default deadline from now (600)
guest_start() {
	local netns='' bridge='' tap=sgwg-tap0 addr=203.0.113.2/24 host_addr=203.0.113.1/24
	local routes=() mounts=() nics=() append='' timeout=600 script m tag mdir i=0 ntap nmtu
	while [ $# -gt 0 ]; do
		case $1 in
		--netns) netns=$2; shift 2 ;;
		--bridge) bridge=$2; shift 2 ;;
		--tap) tap=$2; shift 2 ;;
		--addr) addr=$2; shift 2 ;;
		--host-addr) host_addr=$2; shift 2 ;;
		--route) routes+=("$2"); shift 2 ;;
		--mount) mounts+=("$2"); shift 2 ;;
		--nic) nics+=("$2"); shift 2 ;;
		--append) append=$2; shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		--) shift; break ;;
		-*) _guest_note "guest_start: unknown option $1"; return 2 ;;
		*) break ;;
		esac
	done
	[ $# -ge 1 ] || { _guest_note "guest_start: no script"; return 2; }
	[ -z "$GUEST_QEMU_PID" ] || { _guest_note "guest_start: a guest already runs ($GUEST_QEMU_PID)"; return 2; }
	[ -n "$GUEST_IMAGE" ] || guest_image || return 1
	command -v qemu-system-x86_64 >/dev/null || { _guest_note "qemu-system-x86_64 is not installed"; return 1; }
	guest_prepare
	script=$1
	shift
	if [ -f "$script" ] && [ "$(dirname "$(realpath "$script")")" != "$(realpath "$GUEST_SHARE")" ]; then
		cp "$script" "$GUEST_SHARE/"
	fi
	script=$(basename "$script")
	[ -f "$GUEST_SHARE/$script" ] || { _guest_note "guest_start: no $script in $GUEST_SHARE"; return 2; }
	rm -f "$GUEST_SHARE"/out/* "$GUEST_SHARE"/to-host/* "$GUEST_SHARE"/to-guest/*

	# The network: a tap in the caller's namespace (on its bridge), or in
	# one of our own with an address on it.
	if [ -z "$netns" ]; then
		_guest_remove_stale_netns
		netns=sgwg-$$
		ip netns add "$netns" || return 1
		GUEST_OWN_NETNS=$netns
		ip -n "$netns" link set lo up
	fi
	GUEST_NETNS=$netns
	ip -n "$netns" tuntap add dev "$tap" mode tap || return 1
	GUEST_TAP=$tap
	if [ -n "$bridge" ]; then
		ip -n "$netns" link set "$tap" master "$bridge" || return 1
	elif [ -n "$GUEST_OWN_NETNS" ]; then
		ip -n "$netns" addr add "$host_addr" dev "$tap" || return 1
	fi
	ip -n "$netns" link set "$tap" up || return 1
	for m in "${nics[@]}"; do
		ntap=${m%%,*} nmtu=1500
		[[ "$m" == *,mtu=* ]] && nmtu=${m##*,mtu=}
		ip -n "$netns" tuntap add dev "$ntap" mode tap || return 1
		GUEST_NIC_TAPS+=("$ntap")
		ip -n "$netns" link set "$ntap" mtu "$nmtu" up || return 1
	done

	# What guest-init reads: the script, the address, routes and mounts.
	{
		printf 'GUEST_SCRIPT=%q\n' "$script"
		printf 'GUEST_ADDR=%q\n' "$addr"
		printf 'GUEST_ARGS=('
		for m in "$@"; do printf '%q ' "$m"; done
		printf ')\nGUEST_ROUTES=('
		for m in "${routes[@]}"; do printf '%q ' "$m"; done
		printf ')\nGUEST_NICS=%d\nGUEST_MOUNTS=(' ${#nics[@]}
		for m in "${mounts[@]}"; do printf '%q ' "${m%%=*}"; done
		printf ')\n'
	} >"$GUEST_SHARE/.guest/env"

	local qemu=(qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot
		-accel tcg,thread=multi -cpu max -smp "$GUEST_CPUS" -m "$GUEST_MEM"
		-kernel "$GUEST_IMAGE/vmlinuz" -initrd "$GUEST_IMAGE/initrd.img"
		-append "console=ttyS0 root=/dev/vda rw panic=-1 net.ifnames=0 quiet mitigations=off $append"
		-drive "file=$GUEST_IMAGE/root.img,format=raw,if=virtio,snapshot=on"
		-virtfs "local,path=$GUEST_SHARE,mount_tag=host,security_model=none,id=host"
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no"
		-device "virtio-net-pci,netdev=n0,mac=52:54:00:53:47:01"
		-device virtio-rng-pci
		-serial "file:$GUEST_CONSOLE" -monitor none)
	for m in "${nics[@]}"; do
		ntap=${m%%,*} nmtu=1500
		[[ "$m" == *,mtu=* ]] && nmtu=${m##*,mtu=}
		i=$((i + 1))
		qemu+=(-netdev "tap,id=n$i,ifname=$ntap,script=no,downscript=no"
			-device "virtio-net-pci,netdev=n$i,mac=52:54:00:53:47:$(printf %02x $((i + 1))),host_mtu=$nmtu")
	done
	i=0
	for m in "${mounts[@]}"; do
		tag=${m%%=*} mdir=${m#*=}
		i=$((i + 1))
		qemu+=(-virtfs "local,path=$mdir,mount_tag=$tag,security_model=none,readonly=on,id=m$i")
	done
	GUEST_T0=$(date +%s.%N)
	GUEST_DEADLINE=$((SECONDS + timeout))
	# setpriv --pdeathsig: QEMU dies with the shell that started it, so a
	# test killed outright leaves no guest behind.
	# The cluster harness's lock (tests/cluster/lib.sh) stays with the test.
	if [ -n "${SGWC_LOCK_FD:-}" ]; then
		ip netns exec "$netns" setpriv --pdeathsig KILL -- "${qemu[@]}" \
			</dev/null >"$GUEST_RUN_DIR/qemu.log" 2>&1 {SGWC_LOCK_FD}<&- &
	else
		ip netns exec "$netns" setpriv --pdeathsig KILL -- "${qemu[@]}" \
			</dev/null >"$GUEST_RUN_DIR/qemu.log" 2>&1 &
	fi
	GUEST_QEMU_PID=$!
	_guest_note "QEMU $GUEST_QEMU_PID started in $netns (tap $tap${bridge:+ on $bridge}, guest $addr${nics[*]:+; more NICs on ${nics[*]}}): $script $*"
}

# _guest_remove_stale_netns: delete namespaces sgwg-PID left by a run
# that was killed outright (its QEMU died with it: pdeathsig), i.e. whose
# PID is gone and which hold no process.
_guest_remove_stale_netns() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^sgwg-[0-9]+$/ { print $1 }'); do
		pid=${ns#sgwg-}
		kill -0 "$pid" 2>/dev/null && continue
		[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] || continue
		_guest_note "removing stale namespace $ns"
		ip netns del "$ns"
	done
}

# guest_running: QEMU is still running.
guest_running() {
	[ -n "$GUEST_QEMU_PID" ] && kill -0 "$GUEST_QEMU_PID" 2>/dev/null &&
		[ "$(ps -o stat= -p "$GUEST_QEMU_PID" 2>/dev/null | cut -c1)" != Z ]
}

# guest_booted_after: seconds from guest_start until the script started
# (empty while it has not).
guest_booted_after() {
	[ -f "$GUEST_SHARE/out/started" ] || return 1
	# The file is created through 9p by QEMU: its time is the host's clock.
	awk -v t0="$GUEST_T0" -v t1="$(date -r "$GUEST_SHARE/out/started" +%s.%N)" \
		'BEGIN { printf "%.1f\n", t1 - t0 }'
}

# guest_wait_for NAME SECONDS: wait until the guest's script called
# host_signal NAME (the file to-host/NAME exists; its text in
# GUEST_SIGNAL_TEXT). Returns 1 at the deadline or when the guest ended.
GUEST_SIGNAL_TEXT=
guest_wait_for() {
	local f=$GUEST_SHARE/to-host/$1 deadline=$((SECONDS + $2))
	while [ ! -f "$f" ]; do
		guest_running || { [ -f "$f" ] && break; return 1; }
		[ $SECONDS -lt "$deadline" ] || return 1
		sleep 0.1
	done
	GUEST_SIGNAL_TEXT=$(cat "$f")
	return 0
}


# guest_step NAME SECONDS: guest_wait_for, and on failure show the guest's
# output so far and fail (tests/lib.sh's fail) with why: the guest's own
# failure note, the guest having ended, or the deadline.
guest_step() {
	guest_wait_for "$1" "$2" && return 0
	_guest_note "guest output so far:"
	tail -n 40 "$GUEST_OUTPUT" >&2
	[ -f "$GUEST_SHARE/to-host/failed" ] && fail "in the guest: $(cat "$GUEST_SHARE/to-host/failed")"
	guest_running || fail "the guest ended before '$1' (console: $(tail -n 3 "$GUEST_CONSOLE" | tr '\n' ' '))"
	fail "the guest did not reach '$1' within $2 s"
}

# guest_signal NAME [TEXT]: what the guest's host_wait NAME waits for.
guest_signal() {
	printf '%s\n' "${2:-}" >"$GUEST_SHARE/to-guest/.$1" && mv "$GUEST_SHARE/to-guest/.$1" "$GUEST_SHARE/to-guest/$1"
}

# guest_wait [SECONDS]: wait for the guest to power off (default: the
# deadline guest_start set); kill QEMU past it. GUEST_RC is the script's
# exit status, 124 on a timeout, 125 when the guest ended without running
# it to the end (see $GUEST_CONSOLE). Returns GUEST_RC.
guest_wait() {
	local secs=$((GUEST_DEADLINE - SECONDS)) watcher timed_out=$GUEST_RUN_DIR/timed-out
	[ -n "${1:-}" ] && secs=$1
	[ -n "$GUEST_QEMU_PID" ] || { GUEST_RC=125; return 125; }
	[ "$secs" -gt 0 ] || secs=1
	# A watcher kills QEMU at the deadline; `wait` returns when QEMU ends
	# either way. (Polling the process state instead races with the exit
	# of QEMU's threads.)
	rm -f "$timed_out"
	(
		# Not the cluster harness's lock; QEMU only while the test lives.
		[ -n "${SGWC_LOCK_FD:-}" ] && exec {SGWC_LOCK_FD}<&-
		trap 'kill $s 2>/dev/null; exit 0' TERM
		sleep "$secs" &
		s=$!
		wait $s
		kill -0 $$ || exit 0
		touch "$timed_out"
		kill -KILL "$GUEST_QEMU_PID"
	) 2>/dev/null &
	watcher=$!
	wait "$GUEST_QEMU_PID" 2>/dev/null
	kill -TERM "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null
	if [ -f "$timed_out" ]; then
		_guest_note "the guest did not finish within $secs s: QEMU $GUEST_QEMU_PID killed"
		GUEST_QEMU_PID=
		GUEST_RC=124
		return 124
	fi
	GUEST_QEMU_PID=
	GUEST_RC=$(cat "$GUEST_SHARE/out/rc" 2>/dev/null)
	if ! [[ "$GUEST_RC" =~ ^[0-9]+$ ]]; then
		_guest_note "the guest ended without an exit status from its script; QEMU said:"
		tail -n 10 "$GUEST_RUN_DIR/qemu.log" >&2
		_guest_note "console:"
		tail -n 20 "$GUEST_CONSOLE" >&2 2>/dev/null
		GUEST_RC=125
	fi
	_guest_note "guest finished: status $GUEST_RC, $(awk -v t0="$GUEST_T0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.0f", t1 - t0 }') s after start"
	return "$GUEST_RC"
}

# guest_run [OPTIONS] SCRIPT [ARGS...]: guest_start and guest_wait.
guest_run() {
	guest_start "$@" || return $?
	guest_wait
}

# guest_cleanup: kill QEMU if it runs, delete the tap and our namespace.
# Safe to call twice.
guest_cleanup() {
	if [ -n "$GUEST_QEMU_PID" ]; then
		kill -KILL "$GUEST_QEMU_PID" 2>/dev/null
		wait "$GUEST_QEMU_PID" 2>/dev/null
		GUEST_QEMU_PID=
	fi
	if [ -n "$GUEST_TAP" ] && [ -n "$GUEST_NETNS" ]; then
		ip -n "$GUEST_NETNS" link del "$GUEST_TAP" 2>/dev/null
		GUEST_TAP=
	fi
	local t
	for t in "${GUEST_NIC_TAPS[@]}"; do
		[ -n "$GUEST_NETNS" ] && ip -n "$GUEST_NETNS" link del "$t" 2>/dev/null
	done
	GUEST_NIC_TAPS=()
	if [ -n "$GUEST_OWN_NETNS" ]; then
		ip netns del "$GUEST_OWN_NETNS" 2>/dev/null
		GUEST_OWN_NETNS=
	fi
	return 0
}

# guest_install_trap: guest_cleanup on EXIT, before an EXIT trap already
# set (tests/lib.sh's cleanup), keeping the exit status.
guest_install_trap() {
	local prev
	prev=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
	# shellcheck disable=SC2064
	trap "_guest_rc=\$?; guest_cleanup; (exit \$_guest_rc); ${prev:-:}" EXIT
}
