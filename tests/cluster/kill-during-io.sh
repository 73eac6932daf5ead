#!/bin/bash
# A node dies during I/O (issue 5). A client reads in a loop through node
# 2 (sangw-cluster-client read-loop, which measures the longest gap between
# two completed reads). Phase 1: node 3 (sangwd and corosync) is killed
# with SIGKILL: the reads go on with no gap of 10 s or more (the issue's
# acceptance), the ASYMMETRIC ACCESS STATE CHANGED unit attention (2A/06)
# reaches the client's nexus, REPORT TARGET PORT GROUPS through node 2 no
# longer shows node 3's group as active, and the registrations made before
# the kill -- node 3's own included, they survive the loss of the I_T
# nexus (SPC-4 5.13.1) -- are still reported, the same through nodes 1 and
# 2. Phase 2 (node 3 back first, so that the survivors keep a quorum):
# the client's own node 2 is killed; the client logs in through node 1,
# as a multipath initiator would, and keeps reading; its gap is reported.
TEST_NAME=cluster-kill-during-io
. "$(dirname "$0")/lib.sh"

key1=0x1001
key2=0x2002
key3=0x3003
type_wero=5        # Write Exclusive - Registrants Only (SPC-4 6.15.3.4)
max_gap_ms=${MAX_GAP_MS:-10000}
failover_max_gap_ms=${FAILOVER_MAX_GAP_MS:-30000}

cluster_up_shared_lu 3
session_start

# Registrations through each node, a reservation through node 1.
sess_open P1 1 "$INIT1_IQN"
sess_open P2 2 "$INIT2_IQN"
sess_open P3 3 "$INIT3_IQN"
sess_expect '^ok$' register P1 "$key1"
sess_expect '^ok$' reserve P1 "$key1" "$type_wero"
sess_expect '^ok$' register P2 "$key2"
sess_expect '^ok$' register P3 "$key3"
sess_expect '^ok groups=' rtpg P2
note "port groups before: $SESS_REPLY"

# The read loop: node 2 first, node 1 when node 2 is lost.
loop_log=$TEST_DIR/read-loop.log
client_spawn "$loop_log" "$CLUSTER_CLIENT" --timeout 5 read-loop "$(node_url 2),$(node_url 1)"
loop_pid=$SGWC_LAST_PID
wait_for_line "$loop_log" '^READY$' 30 || fail "the read loop did not start: $(tail -n 5 "$loop_log")"

loop_reads() { # the read count of the loop's last progress line
	awk '/^progress / { for (i = 1; i <= NF; i++) if ($i ~ /^reads=/) n = substr($i, 7) } END { print n + 0 }' "$loop_log"
}
loop_alive() {
	pid_gone "$loop_pid" && fail "the read loop ended: $(tail -n 5 "$loop_log")"
	return 0
}
# loop_advances N SECONDS: the loop completes N more reads within SECONDS.
loop_advances() {
	local from target
	from=$(loop_reads)
	target=$((from + $1))
	_loop_reached() { loop_alive && [ "$(loop_reads)" -ge "$target" ]; }
	wait_until "$2" _loop_reached ||
		fail "the read loop did not complete $1 reads within $2 s (at $(loop_reads), from $from): $(tail -n 5 "$loop_log")"
}
# loop_mark: end a phase; its longest gap (ms) in LOOP_GAP.
LOOP_GAP=
loop_mark() {
	local n
	n=$(grep -c '^mark ' "$loop_log")
	kill -USR1 "$loop_pid"
	_loop_marked() { [ "$(grep -c '^mark ' "$loop_log")" -gt "$n" ]; }
	wait_until 15 _loop_marked || fail "the read loop did not answer SIGUSR1"
	LOOP_GAP=$(grep '^mark ' "$loop_log" | tail -n 1 | sed -n 's/.*max_gap_ms=\([0-9]*\).*/\1/p')
}

loop_advances 50 10
loop_mark   # phase 1 starts here

# --- phase 1: a node the client does not use dies -------------------------------
node_kill 3
wait_nodes_quorate 2 1 2
loop_advances 200 30
# The implicit ALUA transition reaches the client's nexus through node 2.
wait_for_line "$loop_log" '^ua .* 6/2a/06 ' 15 ||
	fail "no ASYMMETRIC ACCESS STATE CHANGED unit attention reached the reading nexus: $(grep -E '^(ua|sense|lost|gap)' "$loop_log" | tail -n 5)"
loop_mark
gap=$LOOP_GAP
note "phase 1 (node 3 killed, client on node 2): longest gap $gap ms"
[ -n "$gap" ] && [ "$gap" -lt "$max_gap_ms" ] ||
	fail "the read loop through node 2 stalled $gap ms when node 3 died (limit $max_gap_ms ms)"
grep -q '^lost ' "$loop_log" && fail "the read loop lost its session to node 2: $(grep '^lost ' "$loop_log")"

# RTPG through node 2: node 3's group is gone or no longer active.
sess_expect '^ok' clear-ua P2
sess_expect '^ok groups=' rtpg P2
groups=${SESS_REPLY#ok groups=}
[[ ",$groups," =~ ,3:(ao|an), ]] && fail "RTPG through node 2 still shows node 3's group active: $groups"
[[ ",$groups," =~ ,2:(ao|an), ]] || fail "RTPG through node 2 does not show node 2's own group active: $groups"
note "port groups after node 3 died: $groups"

# No PR state lost: nodes 1 and 2 report every registration (node 3's
# too) and the reservation, byte for byte the same.
compare_pr() { # EXPECTED_KEYS SESSION...
	local keys=$1 sa s raw first
	shift
	for sa in read-keys read-reservation read-full-status; do
		first=
		for s in "$@"; do
			sess_expect '^ok' clear-ua "$s"
			sess_expect '^ok' "$sa" "$s"
			[ "$sa" != read-keys ] || [[ "$SESS_REPLY" =~ keys=$keys\  ]] ||
				fail "$s: READ KEYS shows '$SESS_REPLY', expected keys=$keys"
			[ "$sa" != read-reservation ] || [[ "$SESS_REPLY" =~ reservation=$key1\ type=$type_wero ]] ||
				fail "$s: READ RESERVATION shows '$SESS_REPLY', expected $key1 type $type_wero"
			raw=$(pr_raw_of "$SESS_REPLY")
			[ -z "$first" ] || [ "$raw" = "$first" ] ||
				fail "$sa through $s differs from $1: $raw vs $first"
			first=$raw
		done
	done
	note "PR state identical through $*"
}
compare_pr "$key1,$key2,$key3" P1 P2

# --- phase 2: the client's own node dies ----------------------------------------
# Node 3 comes back first, so that nodes 1 and 3 keep a quorum without 2.
sess close P3
node_start_corosync 3
wait_nodes_quorate 3 1 2 3
node_start_sangwd 3 --target "$TARGET_IQN" --lun "$SHARED_LU_SPEC"
node_wait_lus_ready 3
sess_expect '^ok' open P3 "$(node_url 3)" "$INIT3_IQN"
t0=$SECONDS
while sess clear-ua P3; [ "${SESS_REPLY%% *}" != ok ]; do
	[ $((SECONDS - t0)) -lt 60 ] || fail "restarted node 3 does not serve I/O after 60 s: $SESS_REPLY"
	sleep 0.2
done
note "node 3 serves I/O again ($((SECONDS - t0)) s after its sangwd listened)"
loop_advances 50 10
loop_mark   # phase 2 starts here

node_kill 2
wait_nodes_quorate 2 1 3
wait_for_line "$loop_log" "^connected .* url=$(node_url 1)\$" 60 ||
	fail "the read loop did not log in through node 1 after node 2 died: $(tail -n 5 "$loop_log")"
loop_advances 200 30
loop_mark
gap=$LOOP_GAP
note "phase 2 (the client's node 2 killed, reconnect through node 1): longest gap $gap ms"
[ -n "$gap" ] && [ "$gap" -lt "$failover_max_gap_ms" ] ||
	fail "failover to node 1 took $gap ms (limit $failover_max_gap_ms ms)"
# The restarted node 3 got the PR state from the others (state transfer).
compare_pr "$key1,$key2,$key3" P1 P3

kill -TERM "$loop_pid"
wait_pid_exit "$loop_pid" 15 || fail "the read loop did not stop on SIGTERM"
grep '^summary ' "$loop_log" >&2
grep -q ' errors=0$' "$loop_log" || fail "the read loop saw read errors: $(grep -E '^(sense|summary)' "$loop_log" | tail -n 5)"
pass
