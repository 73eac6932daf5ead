#!/bin/bash
# libiscsi's persistent-reservation suites with their two initiators on two
# different nodes (the second URL is the second initiator's path): every
# registration, reservation, conflict, PREEMPT and unit attention has to hold
# across gateways, as for one disk (issue 5). Judged per test from the
# verbose log: a [SKIPPED] test does not pass.
#
# ALL.ProutPreempt needs completion to be linearizable across nodes: its
# RemoveRegistration test PREEMPTs through node 2 and at once clears node
# 1's unit attentions expecting REGISTRATIONS PREEMPTED among them, so the
# PREEMPT may complete only once node 1 has applied it too
# (cluster_corosync.c waits for every synced member's ACK).
TEST_NAME=cluster-libiscsi-pr-two-nodes
. "$(dirname "$0")/lib.sh"
need_program iscsi-test-cu

cluster_up 2
lu=$TEST_DIR/shared-lu.img
make_sparse_file "$lu" 64M
for i in 1 2; do
	node_start_sangwd "$i" --cluster corosync --target "$TARGET_IQN" --lun "file:$lu"
done
log=$TEST_DIR/libiscsi.log
: >"$log"
for suite in ALL.PrinReadKeys ALL.PrinServiceactionRange ALL.PrinReportCapabilities \
	     ALL.ProutRegister ALL.ProutReserve ALL.ProutClear ALL.ProutPreempt ALL.Reserve6 ALL.MultipathIO; do
	client_exec timeout 300 iscsi-test-cu -t "$suite" -v -d "$(node_url 1)" "$(node_url 2)" >>"$log" 2>&1
done
results=$(awk -v family=ALL -f "$SRC_TOP/tests/conformance/parse-cunit-log.awk" "$log")
n=$(grep -c . <<<"$results")
bad=$(grep -v "[[:space:]]passed$" <<<"$results")
note "$n tests, $(grep -c "[[:space:]]passed$" <<<"$results") passed through nodes 1 and 2"
[ "$n" -ge 20 ] || fail "only $n results in $log"
[ -z "$bad" ] || fail "not passed across two nodes: $(tr '\n' ';' <<<"$bad")"
for i in 1 2; do pid_gone "${NODE_SANGWD_PIDS[$i]}" && fail "sangwd on node $i died"; done
pass
