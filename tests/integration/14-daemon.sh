#!/bin/bash
# Without -f sangwd detaches: the command returns 0 once the daemon serves
# (pid file written), or non-zero with the reason on stderr when start-up
# fails. The detached daemon keeps every thread it needs (workers, the file
# backstore's flush helper): SIGTERM flushes and exits, and acknowledged
# writes are there after a restart.
. "$(dirname "$0")/../lib.sh"
need_program "$TESTCLIENT"

mkdir -p "$STATE_DIR"
PID_FILE=$TEST_DIR/sangwd.pid
ARGS=(--state-dir "$STATE_DIR" --mgmt-socket "$MGMT_SOCK" --listen "$PORTAL"
      --pid-file "$PID_FILE" --target "$TARGET_IQN"
      --lun "file:$TEST_DIR/lu0.img,size=64M")
URL=$(iscsi_url "$TARGET_IQN" 0)

# A start-up error reaches the caller even though the daemon had forked.
"$SANGWD" "${ARGS[@]}" --lun "nonsense:x" 2>"$TEST_DIR/bad.err"
rc=$?
[ $rc -ne 0 ] || fail "a bad --lun in daemon mode returned 0"
grep -q "nonsense" "$TEST_DIR/bad.err" || fail "no reason on stderr: $(cat "$TEST_DIR/bad.err")"
[ -e "$PID_FILE" ] && fail "a failed start left a pid file"
port_listening "$PORT" && fail "a failed start left something listening on $PORTAL"

# Foreground start-up failures: a clear reason, exit 1 or 2, nothing leaked
# (the daemon releases what it had built: loops, workers, cluster, LUs
# already opened, portals, listeners), nothing left listening.
start_fails_with "cannot create $TEST_DIR/no/such/dir/x.img" --listen "$PORTAL" --target "$TARGET_IQN" \
	--lun "file:$TEST_DIR/lu0.img,size=64M" --lun "file:$TEST_DIR/no/such/dir/x.img,size=1M"
start_fails_with "unknown --cluster 'nosuch'" --listen "$PORTAL" --cluster nosuch --lun null
echo '{"targets": [' >"$TEST_DIR/bad.json"
start_fails_with "bad.json: JSON" --config "$TEST_DIR/bad.json"
port_listening "$PORT" && fail "a failed start left something listening on $PORTAL"
# The portal is taken by another process: after the LUs were opened.
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("up", flush=True); time.sleep(60)' "$PORT" >"$TEST_DIR/holder.out" &
holder=$!
track_pid "$holder"
wait_until 10 file_has_line "$TEST_DIR/holder.out" up || fail "the port holder did not start"
start_fails_with "cannot listen on $PORTAL: Address already in use" --listen "$PORTAL" --target "$TARGET_IQN" \
	--lun "file:$TEST_DIR/lu0.img,size=64M" --lun null
kill "$holder"; wait "$holder" 2>/dev/null

start_detached() {
	"$SANGWD" "${ARGS[@]}" >>"$SANGWD_LOG" 2>&1 || fail "sangwd (detached) returned $?"
	[ -s "$PID_FILE" ] || fail "no pid file after the detached start returned"
	DAEMON_PID=$(cat "$PID_FILE")
	SANGWD_PID=$DAEMON_PID      # so that lib.sh's cleanup stops it on failure
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "pid $DAEMON_PID from the pid file is not running"
	port_listening "$PORT" || fail "the detached daemon does not listen on $PORTAL"
}

# The detached daemon is not our child: wait for it by polling its pid.
stop_detached() {
	kill -TERM "$DAEMON_PID" || fail "cannot signal $DAEMON_PID"
	wait_until "$STOP_TIMEOUT" pid_gone "$DAEMON_PID" ||
		{ kill -KILL "$DAEMON_PID"; fail "the detached daemon did not exit within $STOP_TIMEOUT s of SIGTERM (flush at shutdown hung?)"; }
	SANGWD_PID=
}

start_detached
must testclient write "$URL" 0 4096 --seed 14
stop_detached

start_detached
must testclient verify "$URL" 0 4096 --seed 14
stop_detached
pass
