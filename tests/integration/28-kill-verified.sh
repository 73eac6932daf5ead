#!/bin/bash
# kill -9 of sangwd in the middle of verified writes on file LUs, three
# rounds: one writer puts FUA on every write, another writes plainly and
# sends SYNCHRONIZE CACHE after every 16 writes, while sangw-bench --verify
# keeps a third LU busy. After each SIGKILL the daemon is started again and
# every write acknowledged with FUA, or followed by a completed
# SYNCHRONIZE CACHE, in any round so far reads back with its generation
# or a newer one (SBC-4 4.15 and 5.26: what the initiator was told is
# durable is).
# With SANGW_KILL_BACKING=rbd the two logged LUs are rbd images on the
# throw-away Ceph cluster of tests/ceph/lib.sh instead.
. "$(dirname "$0")/../lib.sh"
CLIENT=$SANGW_BUILD/tests/integration/sangw-cluster-client
BENCH=$SANGW_BUILD/sangw-bench
need_program "$CLIENT" "$BENCH"
ROUNDS=${SANGW_KILL_ROUNDS:-3}
MIN_ACKED=200      # acknowledged writes per writer before each kill
blocks=8192        # each writer's range: the first 4 MiB

if [ "${SANGW_KILL_BACKING:-file}" = rbd ]; then
	# shellcheck source=../ceph/lib.sh
	. "$(dirname "$0")/../ceph/lib.sh"
	ceph_need_tools
	ceph_up
	rbd_image_create fua 16M || fail "cannot create image fua"
	rbd_image_create sync 16M || fail "cannot create image sync"
	LUNS=(--lun "rbd:rbd/fua,conf=$CEPH_CONF" --lun "rbd:rbd/sync,conf=$CEPH_CONF")
else
	LUNS=(--lun "file:$TEST_DIR/fua.img,size=16M" --lun "file:$TEST_DIR/sync.img,size=16M")
fi
LUNS+=(--lun "file:$TEST_DIR/bench.img,size=64M")
FUA_LU=$(iscsi_url "$TARGET_IQN" 0)
SYNC_LU=$(iscsi_url "$TARGET_IQN" 1)
BENCH_LU=$(iscsi_url "$TARGET_IQN" 2)

acked_at_least() {
	[ "$(grep -c '^acked ' "$1")" -ge "$2" ]
}

# check_logs WHAT: every write acknowledged so far is on the LUs.
check_logs() {
	local lu log out
	for lu in fua sync; do
		log=$TEST_DIR/$lu.all
		if [ $lu = fua ]; then url=$FUA_LU; else url=$SYNC_LU; fi
		out=$(timeout 120 "$CLIENT" check-log "$url" "$log" 2>&1) ||
			fail "$1: a write acknowledged on the $lu LU is lost: $out"
		note "$1, $lu LU: $out"
	done
}

: >"$TEST_DIR/fua.all"
: >"$TEST_DIR/sync.all"
start_sangwd --target "$TARGET_IQN" "${LUNS[@]}"
wait_lus_ready 30
for ((round = 1; round <= ROUNDS; round++)); do
	gen=$((round * 1000000))
	"$CLIENT" --timeout 5 --fua --first-gen "$gen" write-log "$FUA_LU" "$blocks" \
		>"$TEST_DIR/fua.$round" 2>&1 &
	fua_writer=$!
	track_pid "$fua_writer"
	"$CLIENT" --timeout 5 --sync-every 16 --first-gen "$gen" write-log "$SYNC_LU" "$blocks" \
		>"$TEST_DIR/sync.$round" 2>&1 &
	sync_writer=$!
	track_pid "$sync_writer"
	"$BENCH" -Q -w mix -V -t 60 -q 16 "$BENCH_LU" >"$TEST_DIR/bench.$round" 2>&1 &
	bench=$!
	track_pid "$bench"
	wait_until 60 acked_at_least "$TEST_DIR/fua.$round" "$MIN_ACKED" ||
		fail "round $round: FUA writer: $(tail -2 "$TEST_DIR/fua.$round")"
	wait_until 60 acked_at_least "$TEST_DIR/sync.$round" "$MIN_ACKED" ||
		fail "round $round: SYNCHRONIZE CACHE writer: $(tail -2 "$TEST_DIR/sync.$round")"

	kill -KILL "$SANGWD_PID"
	wait "$SANGWD_PID" 2>/dev/null
	SANGWD_PID=
	echo "=== $(date +%T.%N) killed (SIGKILL)" >>"$SANGWD_LOG"
	for pid in "$fua_writer" "$sync_writer" "$bench"; do
		wait_pid_exit "$pid" 30 || fail "round $round: a client did not notice the kill"
		wait "$pid" 2>/dev/null
	done
	BACKGROUND_PIDS=()
	for lu in fua sync; do
		cat "$TEST_DIR/$lu.$round" >>"$TEST_DIR/$lu.all"
		note "round $round, $lu LU: $(grep -c '^acked ' "$TEST_DIR/$lu.$round") acknowledged," \
		     "$(grep -c '^written ' "$TEST_DIR/$lu.$round") written not yet synced; $(grep -m1 '^stopped' "$TEST_DIR/$lu.$round")"
	done

	start_sangwd --target "$TARGET_IQN" "${LUNS[@]}"
	wait_lus_ready 30
	check_logs "after kill $round"
done
stop_sangwd
pass
