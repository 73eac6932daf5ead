#!/bin/bash
# Partition and heal (issue 5). Node 3 loses the cluster interconnect
# while initiators still reach it (node_isolate): it must refuse writes and
# PR changes at once -- CHECK CONDITION, NOT READY, LOGICAL UNIT NOT
# ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION (04/0A, SPC-4 5.16.2.6) or
# TARGET PORT IN UNAVAILABLE STATE (04/0C, 5.16.2.4.5) -- while nodes 1
# and 2 keep a quorum and carry on, a PR change included. After the heal
# node 3 serves I/O again and READ KEYS, READ RESERVATION and READ FULL
# STATUS are byte-identical through all three nodes. A second round cuts
# node 3's link altogether (node_link down), changes PR state on the
# majority, and heals again.
TEST_NAME=cluster-partition-heal
. "$(dirname "$0")/lib.sh"

key1=0x1111
key3=0x3333
key4=0x4444
key5=0x5555
type_wero=5   # Write Exclusive - Registrants Only (SPC-4 6.15.3.4)
# corosync's ring re-merge after a heal was measured at ~22 s once.
heal_timeout=${HEAL_TIMEOUT:-90}
refused='^check 2/04/0[ac]$'

cluster_up_shared_lu 3
session_start

# P1 through node 1 holds a Registrants Only reservation; P3 through node
# 3 is registered too, so both may write.
sess_open P1 1 "$INIT1_IQN"
sess_open P3 3 "$INIT3_IQN"
sess_expect '^ok$' register P1 "$key1"
sess_expect '^ok$' reserve P1 "$key1" "$type_wero"
sess_expect '^ok$' register P3 "$key3"
sess_expect '^ok$' write P3 0 8
sess_expect '^ok$' write P1 8 8

# sess_poll SECONDS REGEX COMMAND...: repeat COMMAND until its answer
# matches REGEX; fail after SECONDS with the last answer.
sess_poll() {
	local limit=$1 want=$2 t0=$SECONDS
	shift 2
	while :; do
		sess "$@"
		[[ "$SESS_REPLY" =~ $want ]] && return 0
		[ $((SECONDS - t0)) -lt "$limit" ] ||
			fail "'$*' still answers '$SESS_REPLY' after $limit s, expected /$want/"
		sleep 0.2
	done
}

# sess_refused COMMAND...: node 3 must refuse COMMAND (NOT READY, see the
# top); unit attentions that come first (2A/06 of a membership change,
# SAM-5 reports them before anything else) are passed over, at most 5.
sess_refused() {
	local n
	for ((n = 0; n < 5; n++)); do
		sess "$@"
		[[ "$SESS_REPLY" == "check 6/"* ]] || break
	done
	[[ "$SESS_REPLY" =~ $refused ]] ||
		fail "'$*' through the cut-off node answered '$SESS_REPLY', expected NOT READY 04/0A or 04/0C"
}

# same_pr_state EXPECTED_KEYS SESSION...: READ KEYS matches the key list
# and all three PR IN answers are byte-identical through every session.
same_pr_state() {
	local keys=$1 s sa raw first
	shift
	for sa in read-keys read-reservation read-full-status; do
		first=
		for s in "$@"; do
			sess_expect '^ok' clear-ua "$s"
			sess_expect '^ok' "$sa" "$s"
			[ "$sa" != read-keys ] || [[ "$SESS_REPLY" =~ keys=$keys\  ]] ||
				fail "$s: READ KEYS shows '$SESS_REPLY', expected keys=$keys"
			raw=$(pr_raw_of "$SESS_REPLY")
			[ -n "$raw" ] || fail "$s: $sa returned no data"
			if [ -z "$first" ]; then
				first=$raw
			elif [ "$raw" != "$first" ]; then
				fail "$sa through $s differs from $1's first answer: $raw vs $first"
			fi
		done
		note "$sa identical through $*"
	done
}

# --- round 1: node 3 cut off from the cluster, still reachable --------------
node_isolate 3
wait_nodes_inquorate 3
# Node 3 stops taking writes as soon as its sangwd hears of the lost
# quorum (a write may still pass before that moment, never after).
sess_poll 15 "$refused" write P3 0 8
note "node 3 refuses writes while cut off: $SESS_REPLY"
for attempt in 1 2 3; do
	sess_refused write P3 0 8
done
# ... and PR changes, and its reads too: it cannot know the state.
sess_refused register P3 "$key5"
sess_refused reserve P3 "$key3" "$type_wero"

# The majority carries on: I/O and a PR change through node 1.
wait_nodes_quorate 2 1 2
sess_poll 15 '^ok$' write P1 8 8
sess_open P4 1 iqn.2026-11.org.sangw:init4
sess_expect '^ok$' register P4 "$key4"
sess_open P2 2 "$INIT2_IQN"
same_pr_state "$key1,$key3,$key4" P1 P2
# Node 3 still refuses meanwhile.
sess_refused write P3 0 8

# Heal: node 3 merges, resynchronises, and serves again.
node_rejoin 3
CLUSTER_TIMEOUT=$heal_timeout wait_nodes_quorate 3 1 2 3
t0=$SECONDS
sess_poll "$heal_timeout" '^ok$' write P3 0 8
note "node 3 writes again $((SECONDS - t0)) s after its quorum came back"
same_pr_state "$key1,$key3,$key4" P1 P2 P3

# --- round 2: node 3's link down altogether -------------------------------------
node_link 3 down
wait_nodes_inquorate 3
wait_nodes_quorate 2 1 2
sess_poll 15 '^ok$' write P1 8 8
# A PR change on the majority while node 3 is away: P4 leaves, P2 joins
# (after the unit attentions of the membership change: 2A/06).
sess_expect '^ok' clear-ua P4
sess_expect '^ok' clear-ua P2
sess_expect '^ok$' unregister P4 "$key4"
sess_expect '^ok$' register P2 "$key5"
same_pr_state "$key1,$key3,$key5" P1 P2
node_link 3 up
CLUSTER_TIMEOUT=$heal_timeout wait_nodes_quorate 3 1 2 3
# The client's session to node 3 may not have survived the link loss.
t0=$SECONDS
while :; do
	sess write P3 0 8
	[ "$SESS_REPLY" = ok ] && break
	if [[ "$SESS_REPLY" == error* ]]; then
		sess close P3
		sess open P3 "$(node_url 3)" "$INIT3_IQN"
	fi
	[ $((SECONDS - t0)) -lt "$heal_timeout" ] ||
		fail "node 3 does not take P3's write $heal_timeout s after the link came back: $SESS_REPLY"
	sleep 0.2
done
note "node 3 writes again $((SECONDS - t0)) s after the link came back"
same_pr_state "$key1,$key3,$key5" P1 P2 P3
pass
