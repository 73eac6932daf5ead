# Helpers for the integration tests; source it from a test script:
#
#   . "$(dirname "$0")/../lib.sh"
#   start_sangwd --target "$TARGET_IQN" --lun null,size=64M
#   ... checks, each ending in `fail "why"` when it goes wrong ...
#   stop_sangwd
#   pass
#
# A test prints exactly one verdict line on stdout, `PASS name`,
# `FAIL name: reason` or `SKIP name: reason`, and exits 0, 1 or 77
# (automake's "skipped"). Everything else goes to stderr or to files in
# $TEST_DIR, which is removed on exit (kept with SANGW_KEEP_TMP=1).
#
# Environment:
#   SANGW_BUILD       where sangwd, gwcli and tests/integration/* were built
#                     (default: the top of the source tree)
#   SANGW_PORT_RANGE  ports to pick from, "LOW-HIGH" (default 3300-3399)
#   SANGW_KEEP_TMP=1  keep the temporary folder for a post-mortem
#   SANGW_VERBOSE=1   trace the script (set -x) on stderr
#   SANGWD_LOG_LEVEL  --log-level given to sangwd (default debug; empty: none)
#   SANGW_WRAPPER     a command that start_sangwd puts before sangwd, split
#                     at spaces, e.g. "valgrind --error-exitcode=99"
#                     (tools/valgrind-check); it must exec sangwd in the
#                     same process (the PID is the daemon's)

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_TOP=$(cd "$TESTS_DIR/.." && pwd)
SANGW_BUILD=${SANGW_BUILD:-$SRC_TOP}
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}

SANGWD=${SANGWD:-$SANGW_BUILD/sangwd}
GWCLI=${GWCLI:-$SANGW_BUILD/gwcli}
TESTCLIENT=${TESTCLIENT:-$SANGW_BUILD/tests/integration/sangw-testclient}
BADPDU=${BADPDU:-$SANGW_BUILD/tests/integration/badpdu}

# Names every test may use; one target per test is the common case.
TARGET_IQN=iqn.2026-11.org.sangw:t1
INIT1_IQN=iqn.2026-11.org.sangw:init1
INIT2_IQN=iqn.2026-11.org.sangw:init2
INIT3_IQN=iqn.2026-11.org.sangw:init3

# Seconds to wait for the daemon to listen and to exit.
START_TIMEOUT=${START_TIMEOUT:-20}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}

SANGWD_PID=
BACKGROUND_PIDS=()
VERDICT_GIVEN=

[ "${SANGW_VERBOSE:-0}" = 1 ] && set -x

# --- verdicts ----------------------------------------------------------------

# Show what the daemon said last: the first thing one wants after a failure.
show_log_tail() {
	if [ -n "${SANGWD_LOG:-}" ] && [ -s "$SANGWD_LOG" ]; then
		echo "--- last lines of $SANGWD_LOG ---" >&2
		tail -n 30 "$SANGWD_LOG" >&2
		echo "---" >&2
	fi
}

fail() {
	VERDICT_GIVEN=1
	show_log_tail
	echo "FAIL $TEST_NAME: $*"
	exit 1
}

pass() {
	VERDICT_GIVEN=1
	echo "PASS $TEST_NAME"
	exit 0
}

skip() {
	VERDICT_GIVEN=1
	echo "SKIP $TEST_NAME: $*"
	exit 77
}

# Progress notes go to stderr so that stdout holds only the verdict.
note() {
	echo "[$TEST_NAME] $*" >&2
}

# Run a command that must succeed; fail the test with its output otherwise.
must() {
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "$out" >&2
		fail "'$*' exited $rc: $(echo "$out" | tail -n 1)"
	fi
	[ -n "$out" ] && echo "$out" >&2
	return 0
}

# Run a command that must fail (exit non-zero).
must_fail() {
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	[ -n "$out" ] && echo "$out" >&2
	[ $rc -ne 0 ] || fail "'$*' succeeded but should have failed"
	return 0
}

# need_program PROGRAM...: a path is one of our build products and must
# exist (a silent skip would hide a broken build: fail); a bare name is a
# system tool, and the test is skipped without it.
need_program() {
	local p
	for p in "$@"; do
		if [ "${p#/}" != "$p" ]; then
			[ -x "$p" ] || fail "$p is not built (make; make check builds the test clients)"
		else
			command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
		fi
	done
}

# --- temporary folder and cleanup ------------------------------------------

TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sangw-$TEST_NAME.XXXXXX") || {
	echo "FAIL $TEST_NAME: cannot create a temporary folder"
	exit 1
}
SANGWD_LOG=$TEST_DIR/sangwd.log

# In sanitizer builds, LeakSanitizer must not fail our libiscsi clients for
# what libiscsi itself leaks when a connection drops under a sync call
# (sangwd does not link libiscsi, so its own leaks are still reported).
echo "leak:libiscsi.so" >"$TEST_DIR/lsan.supp"
export LSAN_OPTIONS="suppressions=$TEST_DIR/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
STATE_DIR=$TEST_DIR/state
MGMT_SOCK=$TEST_DIR/mgmt.sock

# Remember a background process of ours so cleanup can end it (by PID).
# Start such processes as programs ("$TESTCLIENT" ... &), not through the
# shell functions below: $! of a backgrounded function is a subshell, and
# ending it would leave the program running.
track_pid() {
	BACKGROUND_PIDS+=("$1")
}

# End the test's background processes, then its sangwd (SIGTERM, SIGKILL
# after STOP_TIMEOUT). Also called early by tests/ceph/lib.sh's exit
# handler: the daemon must end before the Ceph cluster it uses.
end_test_processes() {
	local pid
	for pid in "${BACKGROUND_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${BACKGROUND_PIDS[@]}"; do
		wait_pid_exit "$pid" 10 || kill -KILL "$pid" 2>/dev/null
	done
	if [ -n "$SANGWD_PID" ] && kill -0 "$SANGWD_PID" 2>/dev/null; then
		kill -TERM "$SANGWD_PID" 2>/dev/null
		wait_pid_exit "$SANGWD_PID" "$STOP_TIMEOUT" || kill -KILL "$SANGWD_PID" 2>/dev/null
		wait "$SANGWD_PID" 2>/dev/null
	fi
}

cleanup() {
	local rc=$? pid
	end_test_processes
	for pid in "${BACKGROUND_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	# A script that ends (set -e, a typo, a signal) without a verdict fails.
	if [ -z "$VERDICT_GIVEN" ]; then
		show_log_tail
		echo "FAIL $TEST_NAME: ended without a verdict (exit status $rc)"
		[ $rc -eq 0 ] && rc=1
	fi
	if [ "${SANGW_KEEP_TMP:-0}" = 1 ]; then
		echo "[$TEST_NAME] kept $TEST_DIR" >&2
	else
		rm -rf "$TEST_DIR"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- ports -------------------------------------------------------------------

port_listening() {
	ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# Print a TCP port nobody listens on, from SANGW_PORT_RANGE, starting at a
# random point so concurrent tests rarely pick the same one.
pick_free_port() {
	local range=${SANGW_PORT_RANGE:-3300-3399}
	local low=${range%-*} high=${range#*-}
	local span=$((high - low + 1)) i port
	local start=$((RANDOM % span))
	for ((i = 0; i < span; i++)); do
		port=$((low + (start + i) % span))
		# Also skip ports with connections lingering (TIME_WAIT etc.).
		if ! port_listening "$port" &&
		   ! ss -Htan "( sport = :$port or dport = :$port )" 2>/dev/null | grep -q .; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

PORT=$(pick_free_port) || fail "no free port in ${SANGW_PORT_RANGE:-3300-3399}"
PORTAL=127.0.0.1:$PORT

# iscsi_url [IQN [LUN]] -> iscsi://127.0.0.1:PORT/IQN/LUN. LUN is the LU's
# index (0, 1, ... in --lun order); SANGW_LUN_OFFSET=1 dry-runs the scripts
# against tgtd, whose LUN 0 is its controller.
iscsi_url() {
	echo "iscsi://$PORTAL/${1:-$TARGET_IQN}/$(( ${2:-0} + ${SANGW_LUN_OFFSET:-0} ))"
}

# portal_url [USER PASSWORD] -> iscsi://[USER%PASSWORD@]127.0.0.1:PORT
portal_url() {
	if [ $# -ge 2 ]; then
		echo "iscsi://$1%$2@$PORTAL"
	else
		echo "iscsi://$PORTAL"
	fi
}

# --- waiting without fixed sleeps -------------------------------------------

# wait_until SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_until() {
	local limit=$(( $1 * 10 )) i
	shift
	for ((i = 0; i < limit; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

pid_gone() {
	! kill -0 "$1" 2>/dev/null
}

wait_pid_exit() {
	wait_until "$2" pid_gone "$1"
}

# wait_for_line FILE REGEX SECONDS: until a line of FILE matches.
file_has_line() {
	[ -f "$1" ] && grep -qE -- "$2" "$1"
}
wait_for_line() {
	wait_until "$3" file_has_line "$1" "$2"
}

# --- the daemon --------------------------------------------------------------

# Our daemon (not some other program that took the port meanwhile) listens.
daemon_ready() {
	local listeners
	pid_gone "$SANGWD_PID" && return 2
	listeners=$(ss -Hltnp "sport = :$PORT" 2>/dev/null)
	[ -n "$listeners" ] || return 1
	# ss names the owner only when allowed to see it; trust the port then.
	grep -q "pid=" <<<"$listeners" || return 0
	grep -q "pid=$SANGWD_PID," <<<"$listeners" && return 0
	fail "another program listens on $PORTAL: $listeners"
}

# The management socket appears when the API listens; tests that use gwcli
# wait for it.
wait_mgmt_socket() {
	wait_until "$START_TIMEOUT" test -S "$MGMT_SOCK" ||
		fail "sangwd did not create its management socket $MGMT_SOCK"
}

# start_sangwd ARGS...: start ./sangwd -f in the background with its state
# and management socket in TEST_DIR and a log in $SANGWD_LOG, and wait until
# it listens. Without --config in ARGS it listens on 127.0.0.1:$PORT; with
# --config the configuration names the portal (use $PORTAL in it).
start_sangwd() {
	local args=() have_config='' i
	need_program "$SANGWD"
	for i in "$@"; do
		[ "$i" = --config ] && have_config=1
	done
	mkdir -p "$STATE_DIR"
	args=(-f --state-dir "$STATE_DIR" --mgmt-socket "$MGMT_SOCK")
	[ -n "${SANGWD_LOG_LEVEL-debug}" ] && args+=(--log-level "${SANGWD_LOG_LEVEL-debug}")
	[ -z "$have_config" ] && args+=(--listen "$PORTAL")
	rm -f "$MGMT_SOCK"
	local wrapper=()
	[ -n "${SANGW_WRAPPER:-}" ] && read -r -a wrapper <<<"$SANGW_WRAPPER"
	echo "=== $(date +%T.%N) start: ${wrapper[*]} $SANGWD ${args[*]} $*" >>"$SANGWD_LOG"
	"${wrapper[@]}" "$SANGWD" "${args[@]}" "$@" >>"$SANGWD_LOG" 2>&1 &
	SANGWD_PID=$!
	local limit=$((START_TIMEOUT * 10)) n
	for ((n = 0; n < limit; n++)); do
		daemon_ready
		case $? in
		0) note "sangwd $SANGWD_PID listening on $PORTAL"; return 0 ;;
		2) wait "$SANGWD_PID"
		   local rc=$?
		   SANGWD_PID=
		   fail "sangwd exited with status $rc during start-up" ;;
		esac
		sleep 0.1
	done
	fail "sangwd did not listen on $PORTAL within $START_TIMEOUT s"
}

# start_fails_with PATTERN ARGS...: sangwd (foreground, our state dir and
# management socket) must refuse to start: exit 1 or 2 within 20 s, saying
# PATTERN, and with no sanitizer report (a failed start releases what it
# built: LeakSanitizer would exit 134 otherwise).
start_fails_with() {
	local pattern=$1 out rc
	shift
	mkdir -p "$STATE_DIR"
	out=$(timeout 20 "$SANGWD" -f --state-dir "$STATE_DIR" --mgmt-socket "$MGMT_SOCK" "$@" 2>&1)
	rc=$?
	echo "$out" >>"$SANGWD_LOG"
	[ $rc -ne 0 ] || fail "sangwd $* started (exit 0); expected a refusal"
	[ $rc -ne 124 ] || fail "sangwd $* did not exit"
	echo "$out" | grep -q -- "$pattern" || fail "sangwd $* exited $rc without saying '$pattern': $(echo "$out" | tail -n 2)"
	if [ $rc -gt 2 ] || grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' <<<"$out"; then
		fail "sangwd $* exited $rc with a sanitizer report or a crash: $(grep -m1 -E 'Sanitizer|runtime error' <<<"$out")"
	fi
}

# sangwd_in_netns NS: from now on start_sangwd runs sangwd inside the
# network namespace NS (through a wrapper script), and the readiness and
# port checks look for its TCP portal there.
sangwd_in_netns() {
	SANGWD_NETNS=$1
	local wrap=$TEST_DIR/sangwd-in-ns
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$1" "$SANGWD" >"$wrap"
	chmod +x "$wrap"
	SANGWD=$wrap
	daemon_ready() {
		pid_gone "$SANGWD_PID" && return 2
		port_listening "$PORT"
	}
	port_listening() {
		ip netns exec "$SANGWD_NETNS" ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
	}
}

# stop_sangwd: SIGTERM, wait, and require exit status 0 (SIGTERM contract).
stop_sangwd() {
	local rc
	[ -n "$SANGWD_PID" ] || fail "stop_sangwd: sangwd is not running"
	kill -TERM "$SANGWD_PID" 2>/dev/null || {
		wait "$SANGWD_PID"
		rc=$?
		SANGWD_PID=
		fail "sangwd had already exited (status $rc) before SIGTERM"
	}
	if ! wait_pid_exit "$SANGWD_PID" "$STOP_TIMEOUT"; then
		kill -KILL "$SANGWD_PID" 2>/dev/null
		wait "$SANGWD_PID" 2>/dev/null
		SANGWD_PID=
		fail "sangwd did not exit within $STOP_TIMEOUT s of SIGTERM"
	fi
	wait "$SANGWD_PID"
	rc=$?
	SANGWD_PID=
	[ $rc -eq 0 ] || fail "sangwd exited with status $rc after SIGTERM, expected 0"
	echo "=== $(date +%T.%N) stopped, exit status 0" >>"$SANGWD_LOG"
	note "sangwd stopped cleanly"
}

# assert_alive: the daemon still runs and still accepts connections.
assert_alive() {
	[ -n "$SANGWD_PID" ] || fail "sangwd is not running"
	if pid_gone "$SANGWD_PID"; then
		wait "$SANGWD_PID"
		local rc=$?
		SANGWD_PID=
		fail "sangwd died (exit status $rc)"
	fi
	port_listening "$PORT" || fail "sangwd no longer listens on $PORTAL"
	return 0
}

# reload_sangwd: SIGHUP and require the daemon to survive it.
reload_sangwd() {
	[ -n "$SANGWD_PID" ] || fail "reload_sangwd: sangwd is not running"
	kill -HUP "$SANGWD_PID" || fail "cannot send SIGHUP to sangwd"
	assert_alive
}

# bench_verified LOG WHAT: a sangw-bench --verify log reports no I/O error
# and no verify mismatch; fails naming WHAT otherwise.
bench_verified() {
	grep -q " 0 errors" "$1" || fail "$2: I/O errors: $(tail -4 "$1")"
	grep -q " 0 mismatches" "$1" || fail "$2: data lost (verify mismatches): $(tail -4 "$1")"
}

# bench_finished PID LOG WHAT: wait for a sangw-bench --verify run in the
# background, show its last lines, and require exit 0 and bench_verified.
bench_finished() {
	local rc
	wait "$1"
	rc=$?
	note "$(tail -4 "$2" | tr -s ' ')"
	[ $rc -eq 0 ] || fail "sangw-bench failed (status $rc): $(tail -4 "$2")"
	bench_verified "$2" "$3"
}

# wait_lus_ready [SECONDS]: every LU's backing is open and none of its port
# groups is Transitioning (rbd LUs open in the background and answer NOT
# READY until then); fails with the reason gwcli shows when one is not
# ready in time (default START_TIMEOUT).
wait_lus_ready() {
	wait_lus_ready_via "${1:-$START_TIMEOUT}" gwcli
}

# wait_lus_ready_via SECONDS GWCLI...: the same through a gwcli command of
# the caller's (tests/cluster/lib.sh: node_gwcli I).
wait_lus_ready_via() {
	local limit=$(($1 * 10)) n out
	shift
	for ((n = 0; n < limit; n++)); do
		out=$("$@" --json ls 2>/dev/null) || { sleep 0.1; continue; }
		# Transitioning: e.g. a cluster node publishing its new Ceph
		# clients before it serves them (fencing, docs/cluster.md).
		case $out in
		*'"backing":"opening"'* | *'"backing":"failed"'* | *'"state":"transitioning"'*) ;;
		*) return 0 ;;
		esac
		sleep 0.1
	done
	fail "an LU did not become ready within $((limit / 10)) s: $("$@" ls 2>&1 | grep -A1 backing | tr -s ' ' | head -4)"
}

# --- clients -----------------------------------------------------------------

# testclient ARGS...: our libiscsi client with a bounded run time.
testclient() {
	timeout "${CLIENT_TIMEOUT:-60}" "$TESTCLIENT" "$@"
}

gwcli() {
	timeout "${CLIENT_TIMEOUT:-60}" "$GWCLI" --socket "$MGMT_SOCK" "$@"
}

# json_ok: stdin is one well-formed JSON document.
json_ok() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import json,sys; json.load(sys.stdin)'
	else
		# Without python: a crude shape check, first and last characters.
		local text
		text=$(tr -d ' \t\r\n')
		case $text in
		'{'*'}' | '['*']') return 0 ;;
		*) return 1 ;;
		esac
	fi
}

# make_sparse_file PATH SIZE: a thin file to back an LU.
make_sparse_file() {
	truncate -s "$2" "$1" || fail "cannot create $1"
}
