#!/bin/bash
# The OCF resource agent tools/ocf/sangwd (ocf:sangw:sangwd) on one node:
# its meta-data validates against resource-agents' ra-api-1.dtd, Debian's
# ocf-tester reports no error (start, stop, monitor, probes with the
# binary missing, promote, demote, notify, idempotence), a probe with
# sangwd not installed says "not running" and a recurring monitor "not
# installed", monitor answers well within its timeout through the management
# socket, promote/demote show in gwcli, and a sangwd killed with SIGKILL is
# "not running" (so pacemaker restarts it). The 3-node pacemaker cluster:
# tests/cluster/pacemaker.sh.
. "$(dirname "$0")/../lib.sh"
need_program ocf-tester
need_program xmllint
AGENT=$SRC_TOP/tools/ocf/sangwd
DTD=/usr/share/resource-agents/ra-api-1.dtd
[ -r "$DTD" ] || skip "no $DTD (apt-get install resource-agents)"
export OCF_ROOT=/usr/lib/ocf
PID_FILE=$TEST_DIR/agent/sangwd.pid
PARAMS=(binary="$SANGWD" gwcli="$GWCLI" config= mgmt_socket="$MGMT_SOCK"
	state_dir="$STATE_DIR" pid_file="$PID_FILE" cluster=none
	"options=--listen $PORTAL --target $TARGET_IQN --lun null,size=16M --log-level debug")

# agent ACTION [KEY=VALUE...]: run the agent as pacemaker would; the
# exit status is the agent's.
agent() {
	local action=$1 p
	shift
	(
		for p in "${PARAMS[@]}" "$@"; do
			export "OCF_RESKEY_$p"
		done
		export OCF_RESOURCE_INSTANCE=sangw-test OCF_RESKEY_CRM_meta_timeout=30000
		"$AGENT" "$action"
	) >>"$TEST_DIR/agent.log" 2>&1
}

# The agent's detached sangwd is not our child: stop it whatever happens.
# Keeps the exit status for lib.sh's cleanup (a FAIL must exit 1).
end_agent_daemon() {
	local rc=$? pid
	pid=$(cat "$PID_FILE" 2>/dev/null) && kill -KILL "$pid" 2>/dev/null
	return $rc
}
trap 'end_agent_daemon; cleanup' EXIT

"$AGENT" meta-data >"$TEST_DIR/meta-data.xml" || fail "meta-data returned $?"
(cd "$(dirname "$DTD")" && xmllint --noout --dtdvalid "$DTD" "$TEST_DIR/meta-data.xml") \
	2>"$TEST_DIR/xmllint.err" || fail "meta-data does not validate against $DTD: $(head -5 "$TEST_DIR/xmllint.err")"
for a in start stop monitor promote demote notify validate-all meta-data; do
	grep -q "<action name=\"$a\"" "$TEST_DIR/meta-data.xml" || fail "meta-data lists no $a action"
done
grep -q '<version>1.1</version>' "$TEST_DIR/meta-data.xml" || fail "meta-data does not say OCF 1.1"

# Not installed: a probe says not running (7), a recurring monitor 5.
agent monitor binary=/nonexistent/sangwd CRM_meta_interval=0
rc=$?; [ $rc -eq 7 ] || fail "probe with sangwd missing returned $rc, expected 7 (OCF_NOT_RUNNING)"
agent monitor binary=/nonexistent/sangwd CRM_meta_interval=10000
rc=$?; [ $rc -eq 5 ] || fail "monitor with sangwd missing returned $rc, expected 5 (OCF_ERR_INSTALLED)"
agent validate-all cluster=bogus
rc=$?; [ $rc -eq 6 ] || fail "validate-all with cluster=bogus returned $rc, expected 6 (OCF_ERR_CONFIGURED)"

# Debian's ocf-tester.
ot_args=()
for p in "${PARAMS[@]}"; do
	ot_args+=(-o "$p")
done
start_ns=$(date +%s%N)
ocf-tester -n sangw-test "${ot_args[@]}" "$AGENT" >"$TEST_DIR/ocf-tester.log" 2>&1
rc=$?
note "ocf-tester: rc $rc in $(( ($(date +%s%N) - start_ns) / 1000000 )) ms: $(tail -1 "$TEST_DIR/ocf-tester.log")"
[ $rc -eq 0 ] && grep -q "passed all tests" "$TEST_DIR/ocf-tester.log" ||
	fail "ocf-tester: $(grep -v '^Beginning' "$TEST_DIR/ocf-tester.log" | head -5)"
grep -qi "error\|fail" "$TEST_DIR/ocf-tester.log" && fail "ocf-tester reported: $(cat "$TEST_DIR/ocf-tester.log")"

# start, a fast monitor, promote and demote as gwcli shows them.
# "Fast" is judged against the agent's own meta-data (monitor timeout 10 s,
# after which pacemaker fails the operation), not a wall-clock guess: every
# monitor well inside it (half), and the median under 2 s, so a monitor that
# sat out a socket or request timeout each time would fail. (It was "each
# under 1 s", which a loaded 2-CPU machine broke once at 1074 ms.)
agent start || fail "start returned $?"
SANGWD_PID=$(cat "$PID_FILE")
monitor_ms=()
for i in 1 2 3 4 5; do
	t0=$(date +%s%N)
	agent monitor CRM_meta_interval=10000
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $rc -eq 0 ] || fail "monitor of a started sangwd returned $rc"
	[ $ms -lt 5000 ] || fail "monitor took $ms ms (half of its 10 s timeout is 5000)"
	monitor_ms+=("$ms")
done
median_ms=$(printf '%s\n' "${monitor_ms[@]}" | sort -n | sed -n 3p)
[ "$median_ms" -lt 2000 ] || fail "monitor: median $median_ms ms of ${monitor_ms[*]} (must be under 2000)"
note "monitor: ${monitor_ms[*]} ms (median $median_ms)"
agent promote || fail "promote returned $?"
agent monitor CRM_meta_interval=9000
rc=$?; [ $rc -eq 8 ] || fail "monitor of a promoted sangwd returned $rc, expected 8 (OCF_RUNNING_PROMOTED)"
out=$(gwcli role) || fail "gwcli role failed"
grep -q "node 1 promoted; promoted node: 1" <<<"$out" || fail "gwcli role after promote: $out"
agent promote || fail "promote of a promoted sangwd returned $?"
agent demote || fail "demote returned $?"
out=$(gwcli role) || fail "gwcli role failed"
grep -q "node 1 unpromoted; promoted node: 0" <<<"$out" || fail "gwcli role after demote: $out"
out=$(gwcli --json role) || fail "gwcli --json role failed"
json_ok <<<"$out" || fail "node_role answer: $out"
grep -q '"ready":true' <<<"$out" || fail "a single node does not report ready: $out"
out=$(gwcli role sideways 2>&1) && fail "gwcli role sideways was accepted: $out"

# kill -9: "not running" at once, so pacemaker restarts it.
kill -KILL "$SANGWD_PID"
wait_until 10 pid_gone "$SANGWD_PID" || fail "sangwd $SANGWD_PID survived SIGKILL"
agent monitor CRM_meta_interval=10000
rc=$?; [ $rc -eq 7 ] || fail "monitor after kill -9 returned $rc, expected 7"
agent start || fail "start after kill -9 returned $?"
SANGWD_PID=$(cat "$PID_FILE")
agent monitor CRM_meta_interval=10000 || fail "monitor after the restart returned $?"
agent stop || fail "stop returned $?"
wait_until 10 pid_gone "$SANGWD_PID" || fail "sangwd $SANGWD_PID still runs after stop"
SANGWD_PID=
agent stop || fail "stop of a stopped sangwd returned $?"
pass
