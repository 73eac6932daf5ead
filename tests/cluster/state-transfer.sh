#!/bin/bash
# State transfer to a node that joins later (issue 5): a registration and a
# Write Exclusive reservation are made through node 1 (and a second
# registration through node 2) while node 3's sangwd is not running. Node 3
# then starts, receives a snapshot of the shared state from a member
# (gateway/state_snapshot.c) and must report, byte for byte, the same READ
# KEYS, READ RESERVATION and READ FULL STATUS as node 1, and enforce the
# reservation. A change made through node 3 afterwards is seen through
# node 1: node 3 is a full member, in the same delivery order.
TEST_NAME=cluster-state-transfer
. "$(dirname "$0")/lib.sh"

key_a=0xa1a1
key_b=0xb2b2
key_c=0xc3c3
type_we=1   # Write Exclusive (SPC-4 6.16.3)

cluster_up 3
lu=$TEST_DIR/shared-lu.img
make_sparse_file "$lu" 64M
for i in 1 2; do
	node_start_sangwd "$i" --target "$TARGET_IQN" --lun "file:$lu"
done
session_start

sess_open A 1 "$INIT1_IQN"
sess_open B 2 "$INIT2_IQN"
sess_expect '^ok$' register A "$key_a"
sess_expect '^ok$' reserve A "$key_a" "$type_we"
sess_expect '^ok$' register B "$key_b"

declare -A want
for what in read-keys read-reservation read-full-status; do
	sess_expect '^ok ' "$what" A
	want[$what]=$(pr_raw_of "$SESS_REPLY")
	[ -n "${want[$what]}" ] || fail "no raw data in '$SESS_REPLY'"
done
[[ "$SESS_REPLY" =~ ^ok ]] || fail "READ FULL STATUS through node 1: $SESS_REPLY"

# Node 3 joins now. It serves no I/O before its state transfer is done
# (NOT READY until then), so wait for TEST UNIT READY to pass.
node_start_sangwd 3 --target "$TARGET_IQN" --lun "file:$lu"
sess_expect '^ok' open C "$(node_url 3)" "$INIT3_IQN"
node3_ready() {
	sess clear-ua C
	[[ "$SESS_REPLY" =~ ^ok ]]
}
wait_until "$CLUSTER_TIMEOUT" node3_ready ||
	fail "node 3 did not become ready after joining: $SESS_REPLY"
grep -q "state transfer: loaded configuration version" "$(node_dir 3)/sangwd.log" ||
	fail "node 3 did not load a state snapshot (see its sangwd.log)"

for what in read-keys read-reservation read-full-status; do
	sess_expect '^ok ' "$what" C
	got=$(pr_raw_of "$SESS_REPLY")
	[ "$got" = "${want[$what]}" ] ||
		fail "$what through node 3 ($got) differs from node 1 (${want[$what]})"
	note "$what identical through nodes 1 and 3"
done
sess_expect "^ok gen=0x[0-9a-f]+ keys=$key_a,$key_b raw=" read-keys C
sess_expect "^ok gen=0x[0-9a-f]+ reservation=$key_a type=$type_we raw=" read-reservation C

# Enforced on node 3: C is not registered, so Write Exclusive refuses its
# write with RESERVATION CONFLICT.
sess_expect '^status 0x18' write C 0 8

# Node 3 is a full member: its change is seen through node 1.
sess_expect '^ok$' register C "$key_c"
sess_expect '^ok' clear-ua A   # node 3's port group arrived (ALUA: 2A/06)
sess_expect "^ok gen=0x[0-9a-f]+ keys=$key_a,$key_b,$key_c raw=" read-keys A
for i in 1 2 3; do pid_gone "${NODE_SANGWD_PIDS[$i]}" && fail "sangwd on node $i died"; done
pass
