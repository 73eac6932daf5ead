#!/usr/bin/env bash
# The rbd backstore against a real (throw-away) Ceph cluster: LUs that open
# in the background, images created on demand, images refused for
# exclusive-lock, one image exported by two gateways (data written through
# one is read through the other; COMPARE AND WRITE is atomic across both),
# verified I/O, and an OSD that stops answering: commands end with a status
# the initiator retries, then I/O resumes.
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../ceph/lib.sh
. "$(dirname "$0")/../ceph/lib.sh"

need_program iscsi-inq
ceph_need_tools
ceph_up

rbd_image_create disk1 64M || fail "cannot create image disk1"
spec() { echo "rbd:rbd/$1,conf=$CEPH_CONF${2:+,$2}"; }

# LUN 0: an existing image. LUN 1: missing for now. LUN 2: made by sangwd.
start_sangwd --target "$TARGET_IQN" --lun "$(spec disk1 timeout=3)" --lun "$(spec late)" \
	--lun "$(spec made size=32M,create=1)"
url() { echo "iscsi://$PORTAL/$TARGET_IQN/$1"; }

note "a missing image: NOT READY, MANUAL INTERVENTION REQUIRED, and gwcli says why"
missing_reported() { gwcli ls 2>/dev/null | grep -q "image rbd/late does not exist"; }
wait_until 30 missing_reported || fail "gwcli ls does not say that rbd/late is missing: $(gwcli ls 2>&1)"
out=$(timeout 30 iscsi-inq "$(url 1)" 2>&1)
echo "$out" | grep -q "NOT READY" && echo "$out" | grep -q "0x0403" ||
	fail "LUN 1 without its image answered: $out"

note "create=1 made rbd/made with layering only"
info=$(rbd_cmd info rbd/made) || fail "rbd/made was not created"
echo "$info" | grep -q "size 32 MiB" || fail "rbd/made has the wrong size: $info"
echo "$info" | grep -q "exclusive-lock" && fail "rbd/made has exclusive-lock: $info"

note "the missing image appears: the LU becomes ready by itself"
rbd_image_create late 16M || fail "cannot create image late"
wait_lus_ready 30
testclient write-read "$(url 1)" 0 64 || fail "I/O on LUN 1 after its image appeared"

note "an image with exclusive-lock is refused with the fix in the message"
rbd_cmd create --size 16M rbd/locked || fail "cannot create image locked"
gwcli lun create "$TARGET_IQN" "$(spec locked)" --lun 3 >/dev/null || fail "gwcli lun create refused the spec"
locked_reported() { gwcli ls 2>/dev/null | grep -q "rbd feature disable rbd/locked"; }
wait_until 30 locked_reported || fail "no exclusive-lock message: $(gwcli ls 2>&1)"
gwcli lun delete "$TARGET_IQN" 3 >/dev/null || fail "cannot delete LUN 3"
out=$(gwcli lun create "$TARGET_IQN" "rbd:nopool" 2>&1) && fail "gwcli accepted rbd:nopool"
echo "$out" | grep -q "POOL/IMAGE" || fail "unclear error for rbd:nopool: $out"

note "a second gateway on the same image reads what the first wrote"
B_DIR=$TEST_DIR/b
mkdir -p "$B_DIR/state"
B_PORT=$((PORT + 1))
port_listening "$B_PORT" && fail "port $B_PORT is taken"
"$SANGWD" -f --listen "127.0.0.1:$B_PORT" --state-dir "$B_DIR/state" --mgmt-socket "$B_DIR/mgmt.sock" \
	--target "$TARGET_IQN" --lun "$(spec disk1)" >"$B_DIR/sangwd.log" 2>&1 &
B_PID=$!
track_pid "$B_PID"
b_ready() {
	timeout 10 "$GWCLI" --socket "$B_DIR/mgmt.sock" --json ls 2>/dev/null | grep -q '"backing":"ready"'
}
wait_until 30 b_ready || fail "gateway B did not open rbd/disk1: $(tail -5 "$B_DIR/sangwd.log")"
url_b="iscsi://127.0.0.1:$B_PORT/$TARGET_IQN/0"
testclient write "$(url 0)" 80000 256 --seed 7 || fail "write through gateway A"
testclient verify "$url_b" 80000 256 --seed 7 || fail "gateway B does not read what A wrote"
testclient write "$url_b" 90000 64 --seed 9 || fail "write through gateway B"
testclient verify "$(url 0)" 90000 64 --seed 9 || fail "gateway A does not read what B wrote"

note "COMPARE AND WRITE through both gateways at once: no increment is lost"
# Block 100000 was never written: the counter starts at 0.
start=$(testclient caw-increment "$(url 0)" 100000 1 --quiet | awk '{print $6}')
[ -n "$start" ] || fail "caw-increment printed nothing"
"$TESTCLIENT" caw-increment "$(url 0)" 100000 150 --quiet >"$TEST_DIR/caw-a" 2>&1 &
caw_a=$!
"$TESTCLIENT" caw-increment "$url_b" 100000 150 --quiet >"$TEST_DIR/caw-b" 2>&1 &
caw_b=$!
wait "$caw_a" || fail "caw-increment through A: $(cat "$TEST_DIR/caw-a")"
wait "$caw_b" || fail "caw-increment through B: $(cat "$TEST_DIR/caw-b")"
final=$(testclient caw-increment "$url_b" 100000 1 --quiet | awk '{print $6}')
[ "$final" = $((start + 301)) ] ||
	fail "counter $final after $start + 301 increments (A: $(cat "$TEST_DIR/caw-a"), B: $(cat "$TEST_DIR/caw-b"))"
note "CAW: A $(cat "$TEST_DIR/caw-a"); B $(cat "$TEST_DIR/caw-b")"

note "verified random I/O through gateway A"
# Only the first 32 MiB: the blocks written above (LBA 80000 on) must survive.
"$SANGW_BUILD/sangw-bench" -Q -w mix -V -t 3 -q 16 --size 32M "$(url 0)" >"$TEST_DIR/bench" 2>&1 ||
	fail "sangw-bench --verify: $(tail -3 "$TEST_DIR/bench")"
bench_verified "$TEST_DIR/bench" "sangw-bench through gateway A"

note "gwcli lun resize: the image grows and the initiator gets CAPACITY DATA HAS CHANGED"
testclient capacity-changed "$(url 2)" --expect-blocks 131072 \
	--exec "$GWCLI --socket $MGMT_SOCK lun resize $TARGET_IQN 2 64M" || fail "resize of LUN 2"
rbd_cmd info rbd/made | grep -q "size 64 MiB" || fail "rbd/made was not resized: $(rbd_cmd info rbd/made)"

note "rbd resize outside sangw: both gateways report CAPACITY DATA HAS CHANGED and the new size"
"$TESTCLIENT" capacity-changed "$(url 0)" --expect-blocks 196608 --timeout 10 >"$TEST_DIR/cap-a" 2>&1 &
cap_a=$!
"$TESTCLIENT" capacity-changed "$url_b" --expect-blocks 196608 --timeout 10 >"$TEST_DIR/cap-b" 2>&1 &
cap_b=$!
wait_for_line "$TEST_DIR/cap-a" '^READY' 20 && wait_for_line "$TEST_DIR/cap-b" '^READY' 20 ||
	fail "capacity-changed clients did not start: $(cat "$TEST_DIR/cap-a" "$TEST_DIR/cap-b")"
t0=$(date +%s.%N)
rbd_cmd resize --size 96M rbd/disk1 >/dev/null 2>&1 || fail "rbd resize failed"
wait "$cap_a" || fail "gateway A missed the resize: $(cat "$TEST_DIR/cap-a")"
wait "$cap_b" || fail "gateway B missed the resize: $(cat "$TEST_DIR/cap-b")"
note "both gateways reported 96 MiB $(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.2f", t1 - t0 }') s after rbd resize returned"

note "the OSD stops: a write ends with ABORTED COMMAND (retryable) after timeout=3"
"$MICRO_CLUSTER" stop-osd "$CEPH_DIR" >&2 || fail "cannot stop the OSD"
out=$(testclient write "$(url 0)" 3000 8 --seed 3 --timeout 30 2>&1) && fail "a write succeeded with the OSD down"
echo "$out" | grep -q "key 0xb asc/ascq 0x0801" ||
	fail "the write with the OSD down did not end with ABORTED COMMAND: $out"
assert_alive
"$MICRO_CLUSTER" start-osd "$CEPH_DIR" >&2 || fail "cannot start the OSD again"
testclient write-read "$(url 0)" 3000 8 --timeout 30 || fail "I/O did not resume after the OSD came back"
testclient verify "$url_b" 80000 256 --seed 7 || fail "data written before the OSD stop is gone"

kill -TERM "$B_PID"
wait_pid_exit "$B_PID" "$STOP_TIMEOUT" || fail "gateway B did not stop on SIGTERM"
wait "$B_PID" || fail "gateway B exited with status $? (log: $(tail -5 "$B_DIR/sangwd.log"))"
stop_sangwd
pass
