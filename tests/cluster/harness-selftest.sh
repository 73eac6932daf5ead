#!/bin/bash
# The cluster harness itself: a failed test leaves nothing behind; three
# corosync nodes in namespaces form a quorate ring; a partitioned node loses
# quorum while the majority keeps it; the ring heals; a killed corosync
# leaves a quorate pair and rejoins when restarted; sangwd runs in every
# node and the client namespace reaches each one; the largest group
# (SGWC_MAX_NODES, 7) forms a quorate ring and survives a killed node;
# cluster_down and cluster_cleanup_stale leave no sgwc* namespace, link,
# process or folder.
. "$(dirname "$0")/lib.sh"

no_leftovers() {
	local left
	left=$(cluster_leftovers)
	[ -z "$left" ] || fail "$1: left behind: $(tr "\n" " " <<<"$left")"
}

note "a test that fails with a cluster up leaves nothing behind"
child=$TEST_DIR/failing-child.sh
cat >"$child" <<EOF
#!/bin/bash
. "$CLUSTER_LIB"
cluster_up 1
echo "corosync \${COROSYNC_PIDS[1]} \$CLUSTER_DIR" >&2
fail "deliberate failure"
EOF
chmod +x "$child"
t0=$SECONDS
out=$(TEST_NAME=failing-child "$child" 2>"$TEST_DIR/child.err")
rc=$?
grep 'cluster lock' "$TEST_DIR/child.err" >&2
note "the failing child took $((SECONDS - t0)) s"
[ $rc -eq 1 ] || fail "the failing child exited $rc, expected 1: $(tail -n 5 "$TEST_DIR/child.err")"
[ "$out" = "FAIL failing-child: deliberate failure" ] || fail "child verdict: '$out'"
read -r _ child_pid child_dir < <(grep '^corosync ' "$TEST_DIR/child.err")
[ -n "$child_pid" ] || fail "the child did not start corosync: $(tail -n 5 "$TEST_DIR/child.err")"
pid_gone "$child_pid" || fail "the child's corosync $child_pid still runs"
[ ! -e "$child_dir" ] || fail "the child's folder $child_dir is still there"
# Hold the lock before looking: another checkout's cluster test may take
# it the moment the child lets go, and its namespaces are not leftovers.
_sgwc_lock
no_leftovers "after the failing child"

note "three nodes"
cluster_up 3
for i in 1 2 3; do
	node_is_quorate "$i" 3 || fail "node $i: $(node_quorum "$i"), expected 'Yes 3'"
done
# Each namespace holds only what we made: lo and 192.0.2.I/24, one route.
for i in 1 2 3; do
	addrs=$(ip -n "$(node_ns "$i")" -o addr show | awk '{ print $2, $4 }' | tr '\n' ' ')
	[ "$addrs" = "lo 127.0.0.1/8 $(node_inner_veth "$i") $(node_addr "$i")/24 " ] ||
		fail "node $i has addresses: $addrs"
	routes=$(ip -n "$(node_ns "$i")" route show | tr '\n' ' ')
	[[ "$routes" == "192.0.2.0/24 dev $(node_inner_veth "$i") "* ]] && [ "$(ip -n "$(node_ns "$i")" route show | wc -l)" = 1 ] ||
		fail "node $i has routes: $routes"
done
[ -z "$(ip -n "$SGWC_SWITCH_NS" -o addr show)" ] || fail "the switch namespace has addresses: $(ip -n "$SGWC_SWITCH_NS" -o addr show)"
[ -z "$(_sgwc_our_links)" ] || fail "links of ours in the root namespace: $(_sgwc_our_links | tr "\n" " ")"

note "partition node 3"
node_link 3 down
wait_nodes_quorate 2 1 2
wait_nodes_inquorate 3
[ "$(node_quorum 3)" = "No 1" ] || fail "partitioned node 3 reports $(node_quorum 3), expected 'No 1'"

note "heal"
node_link 3 up
wait_nodes_quorate 3 1 2 3

note "kill node 2's corosync"
node_kill 2
[ "$(node_quorum 2)" = down ] || fail "node 2 still answers: $(node_quorum 2)"
wait_nodes_quorate 2 1 3

note "restart node 2"
node_start_corosync 2
wait_nodes_quorate 3 1 2 3

if [ -x "$SANGWD" ]; then
	kind=corosync
	lu=$TEST_DIR/shared-lu.img
	make_sparse_file "$lu" 64M
	for i in 1 2 3; do
		node_start_sangwd "$i" --cluster "$kind" --target "$TARGET_IQN" --lun "file:$lu"
	done
	for i in 1 2 3; do
		out=$(client_exec timeout 30 iscsi-ls -s "$(node_portal_url "$i")" 2>&1) ||
			fail "iscsi-ls through node $i failed: $out"
		grep -q "Target:$TARGET_IQN " <<<"$out" || fail "node $i did not list $TARGET_IQN: $out"
		grep -q "Lun:0 .*DIRECT_ACCESS" <<<"$out" || fail "node $i did not show LUN 0: $out"
	done
	note "iscsi-ls through nodes 1-3 (--cluster $kind): target and LUN 0 listed"
	node_stop_sangwd 1
	node_kill 3
	wait_nodes_quorate 2 1 2
else
	note "sangwd is not built at $SANGWD: its part was not run"
fi

note "tear down"
pids="${COROSYNC_PIDS[*]} ${NODE_SANGWD_PIDS[*]}"
cluster_down
for p in $pids; do
	pid_gone "$p" || fail "process $p still runs after cluster_down"
done
[ ! -e "$CLUSTER_DIR" ] || [ "${SANGW_KEEP_TMP:-0}" = 1 ] || fail "$CLUSTER_DIR is still there"
no_leftovers "after cluster_down"

note "the largest group: $SGWC_MAX_NODES nodes"
cluster_up "$SGWC_MAX_NODES"
for ((i = 1; i <= SGWC_MAX_NODES; i++)); do
	addrs=$(ip -n "$(node_ns "$i")" -o addr show | awk '{ print $2, $4 }' | tr '\n' ' ')
	[ "$addrs" = "lo 127.0.0.1/8 $(node_inner_veth "$i") $(node_addr "$i")/24 " ] ||
		fail "node $i has addresses: $addrs"
done
node_kill "$SGWC_MAX_NODES"
wait_nodes_quorate $((SGWC_MAX_NODES - 1)) $(seq 1 $((SGWC_MAX_NODES - 1)))
cluster_down
no_leftovers "after the $SGWC_MAX_NODES-node cluster"

note "stale objects of a crashed run are removed"
ip netns add sgwc-n2 || fail "cannot make a stale namespace"
ip link add sgwc-stale type veth peer name sgwc-stale-p || fail "cannot make a stale link"
cluster_cleanup_stale
no_leftovers "after cluster_cleanup_stale"
note "done in $SECONDS s"
pass
