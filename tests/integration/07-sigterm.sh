#!/bin/bash
# SIGTERM while an initiator reads: sangwd stops listening, finishes or
# aborts what is in flight, flushes, and exits 0; acknowledged writes made
# just before are on disk after a restart.
. "$(dirname "$0")/../lib.sh"
need_program "$TESTCLIENT"

ARGS=(--target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=64M")
URL=$(iscsi_url "$TARGET_IQN" 0)
start_sangwd "${ARGS[@]}"
must testclient write "$URL" 0 2048 --seed 77

"$TESTCLIENT" read-loop "$URL" 120 --allow-disconnect >"$TEST_DIR/loop.out" 2>&1 &
LOOP_PID=$!
track_pid $LOOP_PID
wait_for_line "$TEST_DIR/loop.out" '^READY' 20 || fail "reader did not log in: $(cat "$TEST_DIR/loop.out")"
stop_sangwd                                  # SIGTERM, exit status 0
port_listening "$PORT" && fail "something still listens on $PORTAL after sangwd exited"

# The initiator notices and does not hang.
wait_pid_exit $LOOP_PID 30 || fail "the reader still runs 30 s after sangwd exited"
wait $LOOP_PID
rc=$?
[ $rc -eq 0 ] || fail "the reader failed before the shutdown: $(cat "$TEST_DIR/loop.out")"
note "reader: $(grep '^reads' "$TEST_DIR/loop.out")"

start_sangwd "${ARGS[@]}"
must testclient verify "$URL" 0 2048 --seed 77
stop_sangwd
pass
