#!/bin/bash
# sangwd.service (tools/systemd/) passes `systemd-analyze verify`, and
# sangwd speaks systemd's notification protocol as that unit (Type=notify,
# WatchdogSec=) expects: READY=1 (with STATUS=) only once its portal
# listens and the node serves, WATCHDOG=1 at least every half watchdog
# interval, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 on
# SIGTERM. The notification socket is a datagram socket this test reads,
# as systemd's own. A build without libsystemd sends nothing: skipped.
. "$(dirname "$0")/../lib.sh"
need_program systemd-analyze
need_program python3
UNIT=$SRC_TOP/tools/systemd/sangwd.service

# The unit, with ExecStart pointing at this build and our man pages.
mkdir -p "$TEST_DIR/unit" "$TEST_DIR/man/man8"
cp "$SRC_TOP"/docs/*.8 "$TEST_DIR/man/man8/"
sed "s#/usr/sbin/sangwd#$SANGWD#" "$UNIT" >"$TEST_DIR/unit/sangwd.service"
MANPATH=$TEST_DIR/man systemd-analyze verify "$TEST_DIR/unit/sangwd.service" >"$TEST_DIR/verify.log" 2>&1 ||
	fail "systemd-analyze verify: $(cat "$TEST_DIR/verify.log")"
[ -s "$TEST_DIR/verify.log" ] && fail "systemd-analyze verify said: $(cat "$TEST_DIR/verify.log")"
grep -q '^Type=notify' "$UNIT" || fail "the unit is not Type=notify"
grep -q '^RuntimeDirectory=sangw' "$UNIT" || fail "the unit has no RuntimeDirectory for the management socket"

"$SANGWD" --version >/dev/null 2>&1 || fail "sangwd --version failed"
ldd "$SANGWD" | grep -q 'libsystemd\.so' ||
	skip "built without libsystemd: sangwd sends no notifications"

# Each datagram to one line of $NOTES (newlines inside a datagram as '|').
NOTIFY_SOCKET=$TEST_DIR/notify.sock
NOTES=$TEST_DIR/notes.log
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    out.write(s.recv(4096).decode().replace("\n", "|") + "\n")
' "$NOTIFY_SOCKET" "$NOTES" &
track_pid $!
wait_until 10 test -S "$NOTIFY_SOCKET" || fail "the notification listener did not start"

cat >"$TEST_DIR/sangw.json" <<JSON
{"portals": ["$PORTAL"],
 "targets": [{"iqn": "$TARGET_IQN", "luns": [{"lun": 0, "backstore": "null", "size": "16M"}]}]}
JSON
NOTIFY_SOCKET=$NOTIFY_SOCKET WATCHDOG_USEC=2000000 start_sangwd --config "$TEST_DIR/sangw.json"
wait_for_line "$NOTES" '^READY=1' 10 || fail "no READY=1 within 10 s: $(cat "$NOTES")"
port_listening "$PORT" || fail "READY=1 sent but nothing listens on $PORTAL"
grep -q '^READY=1|STATUS=node 1 serving; members 1; config version' "$NOTES" ||
	fail "READY=1 without the expected STATUS: $(head -3 "$NOTES")"
# WATCHDOG_USEC=2 s: a ping at least every second.
sleep 3
pings=$(grep -c '^WATCHDOG=1' "$NOTES")
[ "$pings" -ge 3 ] || fail "$pings WATCHDOG=1 in 3 s with WatchdogSec=2"
note "READY=1 and $pings watchdog pings in 3 s"

kill -HUP "$SANGWD_PID"
wait_until 10 grep -q '^RELOADING=1' "$NOTES" || fail "no RELOADING=1 after SIGHUP: $(tail -5 "$NOTES")"
wait_until 10 sh -c "sed -n '/^RELOADING=1/,\$p' '$NOTES' | grep -q '^READY=1'" ||
	fail "no READY=1 after RELOADING=1: $(tail -5 "$NOTES")"
assert_alive
stop_sangwd
wait_for_line "$NOTES" '^STOPPING=1' 5 || fail "no STOPPING=1 at SIGTERM: $(tail -5 "$NOTES")"
# Outside systemd nothing is sent and nothing breaks.
grep -q 'systemd:' "$SANGWD_LOG" || fail "sangwd did not log its READY=1"
pass
