#!/bin/bash
# State kept in RADOS (issue 10): with --state-store every node also writes
# the configuration and the APTPL reservations to one RADOS object, with a
# compare-and-set on the state version. Here:
#  1. 3 nodes, each with a --config file that holds only its portal; through
#     gwcli on different nodes: two targets with ACLs, rbd and file LUs;
#     APTPL registrations and a reservation through libiscsi.
#  2. Two nodes change the configuration at the same moment: the object's
#     version becomes every node's saved version and it holds both changes.
#  3. Compare-and-set: with the object's version raised above the cluster's
#     (by hand), a change is refused by the store (the object keeps its
#     content); once it is lowered again, the next change writes all of it.
#  4. Every sangwd stops; every node's --state-dir and --config file are
#     wiped (nodes 1 and 2 get a config file holding only their portal, as a
#     rebuilt node would; node 3 none at all, its portal from --listen). All
#     start again: every target, LU, ACL and the APTPL registrations and
#     reservation are back, read through each node.
#  5. A malformed object: a node that starts with its local state keeps it
#     and says why; the next change repairs the object.
TEST_NAME=cluster-rados-state
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../ceph/lib.sh"
need_program "$TESTCLIENT"
need_program "$GWCLI"
ceph_need_tools

t1=iqn.2026-11.org.sangw:rs-one
t2=iqn.2026-11.org.sangw:rs-two
init_a=iqn.2026-11.org.sangw:host-a
init_b=iqn.2026-11.org.sangw:host-b
key_a=0x5a6e7701
key_b=0x5a6e7702
object=sgwc.state

cluster_up 3
cluster_ceph_up
rbd_image_create rs-a 32M
rbd_image_create rs-b 32M
file_lu=$TEST_DIR/rs-file.img
make_sparse_file "$file_lu" 32M
store="rados:rbd,conf=$CEPH_CONF,object=$object"

rados_cmd() { _ceph_tool rados -p rbd "$@"; }
# The object's version xattr (20 digits) as a number; empty if none.
stored_version() {
	local v
	v=$(rados_cmd getxattr "$object" version 2>/dev/null) || return 1
	[[ "$v" =~ ^[0-9]{20}$ ]] || return 1
	echo $((10#$v))
}
stored_doc() { rados_cmd get "$object" - 2>/dev/null; }
# A node's saved state version (STATE_DIR/state-version.json).
saved_version() {
	sed -n 's/.*"state_version":\([0-9]*\).*/\1/p' "$(node_dir "$1")/state/state-version.json" 2>/dev/null
}
node_config() { echo "$(node_dir "$1")/sangwd.json"; }
write_portal_config() {
	printf '{ "portals": ["%s"] }\n' "$(node_portal "$1")" >"$(node_config "$1")"
}
start_node() {
	node_start_sangwd "$1" --config "$(node_config "$1")" --state-store "$store" "${@:2}"
}
gw() { node_gwcli "$@" >/dev/null || fail "gwcli through node $1: '${*:2}' refused"; }

# node_has_all I: what phase 1 made, seen through node I: gwcli's listing
# (targets, LUs, ACLs) and PR IN through its portal.
node_has_all() {
	local i=$1 ls out
	ls=$(node_gwcli "$i" ls 2>&1) || return 1
	for want in "$t1" "$t2" "$init_a" "$init_b" "rbd:rbd/rs-a" "rbd:rbd/rs-b" "file:$file_lu"; do
		grep -qF -- "$want" <<<"$ls" || { MISSING="node $i: gwcli ls lacks $want"; return 1; }
	done
	out=$(client_exec "$TESTCLIENT" --quiet --initiator "$init_a" pr-show "$(node_url "$i" "$t1" 0)" 2>&1)
	grep -q "^keys $key_a$" <<<"$out" && grep -q "^reservation $key_a type 1$" <<<"$out" ||
		{ MISSING="node $i: $t1 LUN 0 PR: $(tr '\n' ' ' <<<"$out")"; return 1; }
	out=$(client_exec "$TESTCLIENT" --quiet --initiator "$init_b" pr-show "$(node_url "$i" "$t2" 0)" 2>&1)
	grep -q "^keys $key_b$" <<<"$out" && grep -q "^reservation $key_b type 1$" <<<"$out" ||
		{ MISSING="node $i: $t2 LUN 0 PR: $(tr '\n' ' ' <<<"$out")"; return 1; }
	return 0
}

# --- 1. state made through different nodes ----------------------------------
for i in 1 2 3; do
	write_portal_config "$i"
	start_node "$i"
done
gw 1 target create "$t1"
gw 1 lun create "$t1" "rbd:rbd/rs-a,conf=$CEPH_CONF"
gw 2 lun create "$t1" "file:$file_lu"
gw 2 acl create "$t1" "$init_a"
gw 3 target create "$t2"
gw 3 lun create "$t2" "rbd:rbd/rs-b,conf=$CEPH_CONF"
gw 1 acl create "$t2" "$init_b"
for i in 1 2 3; do node_wait_lus_ready "$i"; done
client_exec "$TESTCLIENT" --initiator "$init_a" pr-register-reserve "$(node_url 1 "$t1" 0)" "$key_a" 1 --aptpl ||
	fail "APTPL REGISTER + RESERVE on $t1 through node 1 failed"
client_exec "$TESTCLIENT" --initiator "$init_b" pr-register-reserve "$(node_url 2 "$t2" 0)" "$key_b" 1 --aptpl ||
	fail "APTPL REGISTER + RESERVE on $t2 through node 2 failed"
for i in 1 2 3; do
	MISSING=
	wait_until "$CLUSTER_TIMEOUT" node_has_all "$i" || fail "before the restart: $MISSING"
done
note "phase 1: targets, LUs, ACLs and APTPL state seen through every node"

# --- 2. two nodes change the configuration at once --------------------------
node_gwcli 1 target create iqn.2026-11.org.sangw:race-1 --demo >"$TEST_DIR/race1.out" 2>&1 &
r1=$!
node_gwcli 2 target create iqn.2026-11.org.sangw:race-2 --demo >"$TEST_DIR/race2.out" 2>&1 &
r2=$!
wait "$r1" || fail "concurrent target create through node 1: $(cat "$TEST_DIR/race1.out")"
wait "$r2" || fail "concurrent target create through node 2: $(cat "$TEST_DIR/race2.out")"
store_caught_up() {
	local v s1 s2 s3 doc
	v=$(stored_version) || return 1
	s1=$(saved_version 1) s2=$(saved_version 2) s3=$(saved_version 3)
	[ -n "$s1" ] && [ "$s1" = "$s2" ] && [ "$s2" = "$s3" ] && [ "$v" = "$s1" ] || return 1
	doc=$(stored_doc) || return 1
	grep -q race-1 <<<"$doc" && grep -q race-2 <<<"$doc"
}
wait_until 20 store_caught_up ||
	fail "the stored version ($(stored_version)) is not every node's saved version ($(saved_version 1)/$(saved_version 2)/$(saved_version 3)) with both concurrent changes: $(stored_doc | head -c 300)"
note "phase 2: stored version $(stored_version) = every node's, with both concurrent targets"
grep -q '"state_store"' <<<"$(node_gwcli 3 --json version)" || fail "gwcli version does not show the state store"
node_gwcli 3 version | grep -q "state store rados:rbd/$object: version" ||
	fail "gwcli version: $(node_gwcli 3 version)"

# --- 3. the compare-and-set refuses an older version ------------------------
before=$(stored_version)
rados_cmd setxattr "$object" version 99999999999999999999 || fail "cannot raise the object's version"
gw 3 target create iqn.2026-11.org.sangw:refused --demo
refused_seen() { node_gwcli 3 --json version | grep -q '"refused":[1-9]'; }
wait_until 20 refused_seen || fail "node 3 does not report a refused write: $(node_gwcli 3 --json version)"
sleep 1
stored_doc | grep -q ':refused' && fail "the store took a version older than the one it holds"
[ "$(rados_cmd getxattr "$object" version)" = 99999999999999999999 ] ||
	fail "the object's version went backwards: $(rados_cmd getxattr "$object" version)"
rados_cmd setxattr "$object" version "$(printf '%020d' "$before")" || fail "cannot lower the version"
gw 1 target create iqn.2026-11.org.sangw:after --demo
all_there() { stored_doc | grep -q ':refused' && stored_doc | grep -q ':after' && store_caught_up; }
wait_until 20 all_there || fail "after the version was lowered the object lacks a change: $(stored_doc | head -c 400)"
note "phase 3: an older version was refused, the next newer one carried everything"

# --- 4. whole-cluster restart with every state dir and config wiped ----------
for i in 1 2 3; do node_stop_sangwd "$i"; done
version=$(stored_version)
for i in 1 2 3; do
	rm -rf "$(node_dir "$i")/state" "$(node_config "$i")"
	mkdir -p "$(node_dir "$i")/state"
done
write_portal_config 1
write_portal_config 2
for i in 3 2 1; do
	if [ "$i" = 3 ]; then start_node 3 --listen "$(node_portal 3)"; else start_node "$i"; fi
done
for i in 1 2 3; do
	grep -q "state store rados:rbd/$object: restored state version $version" "$(node_dir "$i")/sangwd.log" ||
		fail "node $i did not restore version $version from RADOS: $(grep 'state store' "$(node_dir "$i")/sangwd.log" | tail -3)"
done
for i in 1 2 3; do node_wait_lus_ready "$i"; done
for i in 1 2 3; do
	MISSING=
	wait_until "$CLUSTER_TIMEOUT" node_has_all "$i" || fail "after the wiped restart: $MISSING"
	node_gwcli "$i" ls | grep -q ':race-2' || fail "node $i lost a concurrent change"
	note "node $i: targets, LUs, ACLs, registrations and the reservation are back"
done
grep -q "$t1" "$(node_config 3)" || fail "node 3 did not write the restored configuration to its --config file"
grep -q "$(node_portal 1)" "$(node_config 1)" || fail "node 1's restored configuration lost its portal"

# --- 5. a malformed stored state is refused, the local one kept -------------
node_stop_sangwd 1
echo 'this is not a stored state' | rados_cmd put "$object" - || fail "cannot spoil the object"
start_node 1
grep -q "the stored state is malformed, starting from the local state" "$(node_dir 1)/sangwd.log" ||
	fail "node 1 did not say the stored state is malformed"
MISSING=
wait_until "$CLUSTER_TIMEOUT" node_has_all 1 || fail "with a malformed object: $MISSING"
gw 2 target create iqn.2026-11.org.sangw:repair --demo
repaired() { stored_doc | grep -q ':repair' && store_caught_up; }
wait_until 20 repaired || fail "the next change did not repair the object: $(stored_doc | head -c 200)"
for i in 1 2 3; do pid_gone "${NODE_SANGWD_PIDS[$i]}" && fail "sangwd on node $i died"; done
pass
