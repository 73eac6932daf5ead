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
