#!/bin/bash
# ALUA across the cluster (issue 5): one target port group per node (id =
# node id), an LU whose policy makes node 1 Active/Optimized and the others
# Standby. REPORT TARGET PORT GROUPS through nodes 2 and 3 lists every
# node's group with the same states; the LU has the same NAA designator
# through every node. When node 1's sangwd is killed (kill -9), the lowest
# survivor, node 2, takes over: RTPG through nodes 2 and 3 shows node 1's
# group Unavailable and node 2's Active/Optimized, and the nexuses through
# nodes 2 and 3 get ASYMMETRIC ACCESS STATE CHANGED (2A/06). When node 1
# returns, the role goes back to it (implicit failback), again with 2A/06.
# Last, a state change requested through one node is seen through others.
TEST_NAME=cluster-alua-failover
. "$(dirname "$0")/lib.sh"
need_program "$TESTCLIENT"

cluster_up 3
lu=$TEST_DIR/shared-lu.img
make_sparse_file "$lu" 64M
# Each node its own file: the same target and LU, its own portal.
for i in 1 2 3; do
	cat >"$(node_dir "$i")/sangw.json" <<EOF
{
  "portals": ["$(node_portal "$i")"],
  "targets": [
    {"iqn": "$TARGET_IQN", "demo_mode": true,
     "luns": [{"lun": 0, "backstore": "file", "path": "$lu",
               "alua": {"policy": "preferred", "preferred_node": 1, "others": "standby"}},
              {"lun": 1, "backstore": "null", "size": "16M"}]}
  ]
}
EOF
done
for i in 1 2 3; do
	node_start_sangwd "$i" --config "$(node_dir "$i")/sangw.json"
done

# The same designator through every node: multipath groups the paths.
# (LUN 1, active/active: the test client's login wants a TEST UNIT READY
# that a standby path refuses.)
naa=
for i in 1 2 3; do
	out=$(client_exec "$TESTCLIENT" --quiet inquiry-vpd83 "$(node_url "$i" "$TARGET_IQN" 1)") ||
		fail "INQUIRY VPD 0x83 through node $i failed"
	[ -z "$naa" ] || [ "$out" = "$naa" ] || fail "node $i reports designator $out, node 1 $naa"
	naa=$out
done
note "NAA designator $naa through nodes 1-3"

session_start

# open_path NAME NODE INITIATOR: a session through NODE whose unit
# attentions are consumed once the node serves (until it has the cluster's
# state it answers NOT READY, transitioning: 2/04/0a).
open_path() {
	local deadline=$((SECONDS + CLUSTER_TIMEOUT))
	sess_expect '^ok' open "$1" "$(node_url "$2")" "$3"
	until sess clear-ua "$1"; [[ "$SESS_REPLY" != "check 2/04/0a"* ]]; do
		[ $SECONDS -ge $deadline ] && fail "node $2 did not serve I/O: $SESS_REPLY"
		sleep 0.2
	done
}
open_path B 2 "$INIT2_IQN"
open_path C 3 "$INIT3_IQN"

# rtpg_until SESSION GROUPS: RTPG through SESSION reports GROUPS
# ("1:ao,2:sb,3:sb") within CLUSTER_TIMEOUT seconds; UAs on the way are
# consumed. Every node applies membership changes on its own delivery.
rtpg_until() {
	local s=$1 want=$2 deadline=$((SECONDS + CLUSTER_TIMEOUT))
	while :; do
		sess rtpg "$s"
		[ "$SESS_REPLY" = "ok groups=$want" ] && return 0
		[ $SECONDS -ge $deadline ] && fail "RTPG through session $s: '$SESS_REPLY', expected groups=$want"
		[[ "$SESS_REPLY" == "check 6/"* ]] || sleep 0.2
	done
}

# Startup: the three nodes join one after another; once all are members,
# node 1 Active/Optimized, nodes 2 and 3 Standby, seen through 2 and 3.
rtpg_until B "1:ao,2:sb,3:sb"
rtpg_until C "1:ao,2:sb,3:sb"
sess_expect '^check 2/04/0b' clear-ua B       # standby: LU NOT ACCESSIBLE (SPC-4 5.16.2.4.4)
sess_expect '^check 2/04/0b' clear-ua C

# ua_after_change SESSION: poll with TEST UNIT READY until the answer is
# no longer READY's answer under the old state; it must be 2A/06.
ua_after_change() {
	local s=$1 old=$2 deadline=$((SECONDS + CLUSTER_TIMEOUT))
	while :; do
		sess tur "$s"
		[ "$SESS_REPLY" != "$old" ] && break
		[ $SECONDS -ge $deadline ] && fail "session $s: state did not change within $CLUSTER_TIMEOUT s"
		sleep 0.2
	done
	[ "$SESS_REPLY" = "check 6/2a/06" ] ||
		fail "session $s: first answer after the change '$SESS_REPLY', expected UNIT ATTENTION 2A/06"
}

# Node 1 dies: node 2 (lowest survivor) takes over; node 1's group stays
# listed as Unavailable.
node_kill_sangwd 1 KILL
note "node 1's sangwd killed"
ua_after_change B "check 2/04/0b"
ua_after_change C "check 2/04/0b"
rtpg_until B "1:un,2:ao,3:sb"
rtpg_until C "1:un,2:ao,3:sb"
sess_expect '^ok$' tur B                           # node 2 now serves I/O
sess_expect '^ok$' write B 0 8 7
sess_expect '^check 2/04/0b' tur C                 # node 3 still standby

# Node 1 returns: failback, 2A/06 again on both nexuses.
node_start_sangwd 1 --config "$(node_dir 1)/sangw.json"
ua_after_change B "ok"
ua_after_change C "check 2/04/0b"
rtpg_until B "1:ao,2:sb,3:sb"
rtpg_until C "1:ao,2:sb,3:sb"
open_path A 1 "$INIT1_IQN"
[[ "$SESS_REPLY" == ok* ]] || fail "node 1 does not serve I/O after its return: $SESS_REPLY"
rtpg_until A "1:ao,2:sb,3:sb"
sess_expect '^ok pattern$' read A 0 8 7            # the data written through node 2
sess_expect '^check 2/04/0b' tur B

# A state change requested on one node (gwcli alua set through node 3:
# SOP_ALUA_SET, the operation SET TARGET PORT GROUPS sends too) is applied
# by every node: node 3's group becomes Active/Optimized as seen through
# node 2, whose nexus gets 2A/06.
node_gwcli 3 alua set "$TARGET_IQN" 0 active-optimized >/dev/null ||
	fail "gwcli alua set through node 3 failed"
ua_after_change B "check 2/04/0b"
rtpg_until B "1:ao,2:sb,3:ao"
rtpg_until A "1:ao,2:sb,3:ao"
pass
