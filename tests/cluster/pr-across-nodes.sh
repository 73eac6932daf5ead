#!/bin/bash
# Issue 5's first scenario: a persistent reservation made through node 1 is
# reported through nodes 2 and 3 (READ KEYS / READ RESERVATION) and enforced
# there, because every PR change is one operation delivered to all nodes in
# corosync's agreed order. Three nodes in network namespaces (lib.sh), one
# LU shared by all (a file, or one RBD image with SGWC_BACKING=rbd),
# sangwd --cluster corosync on each.
TEST_NAME=cluster-pr-across-nodes
. "$(dirname "$0")/lib.sh"
need_program "$TESTCLIENT"

cluster_up_shared_lu 3 --cluster corosync

# Register and reserve (Write Exclusive) through node 1.
client_exec "$TESTCLIENT" pr-register-reserve "$(node_url 1)" 0x5a6e77 1 ||
	fail "REGISTER/RESERVE through node 1 failed"
for i in 1 2 3; do
	out=$(client_exec "$TESTCLIENT" --quiet pr-show "$(node_url "$i")") ||
		fail "PR IN through node $i failed"
	note "node $i: $(echo $out)"
	grep -q "^keys 0x5a6e77$" <<<"$out" || fail "node $i does not report the key: $out"
	grep -q "^reservation 0x5a6e77 type 1$" <<<"$out" || fail "node $i does not report the reservation: $out"
done

# Enforced on another node: an unregistered initiator's write through
# node 3 gets RESERVATION CONFLICT (the write fails), a read does not.
if out=$(client_exec "$TESTCLIENT" --initiator iqn.2026-11.org.sangw:other write "$(node_url 3)" 0 8 --seed 3 2>&1); then
	fail "a write by an unregistered initiator through node 3 succeeded under Write Exclusive"
fi
grep -q "status 0x18" <<<"$out" || fail "the write through node 3 failed, but not with RESERVATION CONFLICT: $out"
client_exec "$TESTCLIENT" --initiator iqn.2026-11.org.sangw:other tur "$(node_url 3)" ||
	fail "TEST UNIT READY through node 3 refused"
pass
