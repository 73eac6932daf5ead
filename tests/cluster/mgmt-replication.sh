#!/bin/bash
# Management changes are replicated (issue 5): gwcli against one node's
# management socket adds a target, an LU and an ACL and changes
# parameters; every node shows the change through its own gwcli and
# serves it to initiators (REPORT LUNS, login allowed or refused), because
# each change is one SOP_CONFIG operation every node applies in the same
# order. Changes are made through node 1, then node 3, then node 2, so no
# node is special. Portals are the exception: each node listens on its
# own addresses, so a portal added through one node stays that node's.
TEST_NAME=cluster-mgmt-replication
. "$(dirname "$0")/lib.sh"
need_program "$GWCLI" "$TESTCLIENT" python3

T2=iqn.2026-11.org.sangw:t2

cluster_up 3
lu=$TEST_DIR/shared-lu.img
lu_a=$TEST_DIR/shared-a.img
lu_b=$TEST_DIR/shared-b.img
make_sparse_file "$lu" 64M
# The new LUs' files exist beforehand: every node opens the same file.
make_sparse_file "$lu_a" 32M
make_sparse_file "$lu_b" 16M
for i in 1 2 3; do
	node_start_sangwd "$i" --target "$TARGET_IQN" --lun "file:$lu"
done

gw() { # NODE ARGS...: gwcli on NODE; must succeed
	local out
	out=$(node_gwcli "$@" 2>&1) || fail "gwcli on node $1: '${*:2}' failed: $out"
	note "node $1: gwcli ${*:2}${out:+ -> $(echo $out | head -c 200)}"
}

# target_json NODE: node's `gwcli --json ls` entry for T2 as compact JSON
# with what must be the same on every node: LUNs with their specs and NAA
# designators, ACLs, parameters, demo mode ("absent" when there is none).
target_json() {
	node_gwcli "$1" --json ls | python3 -c '
import json, sys
doc = json.load(sys.stdin)
def find(o):
    if isinstance(o, dict):
        if o.get("iqn") == sys.argv[1]:
            return o
        o = list(o.values())
    if isinstance(o, list):
        for v in o:
            r = find(v)
            if r is not None:
                return r
    return None
t = find(doc)
if t is None:
    print("absent")
    sys.exit(0)
luns = sorted(t.get("luns", []), key=lambda l: l["lun"])
print(json.dumps({"luns": [l["lun"] for l in luns], "specs": [l.get("spec") for l in luns],
                  "naa": [l.get("naa") for l in luns],
                  "acls": sorted(a["initiator"] for a in t.get("acls", [])),
                  "params": t.get("params", {}), "demo_mode": t.get("demo_mode")},
                 sort_keys=True))
' "$T2"
}

# same_everywhere WHAT: every node's view of T2 equals node 1's (polled
# briefly: a node applies a change when it is delivered there); prints it.
same_everywhere() {
	local want i view
	want=$(target_json 1) || fail "gwcli --json ls on node 1 failed"
	for i in 2 3; do
		_same() { view=$(target_json "$i") && [ "$view" = "$want" ]; }
		wait_until 10 _same ||
			fail "node $i shows $T2 as '$view', node 1 as '$want' ($1)"
	done
	note "all nodes show $T2 as $want ($1)"
	echo "$want"
}

url_t2() { node_url "$1" "$T2" "${2:-0}"; }

# --- through node 1: a target, an LU and an ACL ------------------------------------
gw 1 target create "$T2"
gw 1 lun create "$T2" "file:$lu_a" --lun 0
gw 1 acl create "$T2" "$INIT1_IQN"
view=$(same_everywhere "target, LU and ACL created through node 1")
[[ "$view" == *'"luns": [0]'* ]] || fail "the LU is not in the view: $view"
[[ "$view" == *"$INIT1_IQN"* ]] || fail "the ACL is not in the view: $view"
for i in 1 2 3; do
	luns=$(client_exec timeout 60 "$TESTCLIENT" --quiet --initiator "$INIT1_IQN" report-luns "$(url_t2 "$i")") ||
		fail "$INIT1_IQN cannot use $T2 through node $i"
	[ "$(echo $luns)" = 0 ] || fail "REPORT LUNS through node $i shows '$(echo $luns)', expected 0"
	client_exec timeout 60 "$TESTCLIENT" --quiet --initiator "$INIT2_IQN" login-fail "$(url_t2 "$i")" \
		--expect-status 0x0202,0x0203 ||
		fail "$INIT2_IQN (no ACL) was not refused by node $i"
done
note "nodes 1-3 serve LUN 0 of $T2 to $INIT1_IQN and refuse $INIT2_IQN"
# Data written through node 2 reads back through node 3 (one LU, one file).
client_exec timeout 60 "$TESTCLIENT" --initiator "$INIT1_IQN" --seed 7 write "$(url_t2 2)" 0 16 >&2 ||
	fail "write through node 2 failed"
client_exec timeout 60 "$TESTCLIENT" --initiator "$INIT1_IQN" --seed 7 verify "$(url_t2 3)" 0 16 >&2 ||
	fail "what node 2 wrote does not read back through node 3"

# --- through node 3: a second LU and a parameter -------------------------------------
gw 3 lun create "$T2" "file:$lu_b" --lun 1
gw 3 param set "$T2" queue_depth 17
gw 3 param set "$T2" chap_algorithms sha256,sha3-256
view=$(same_everywhere "LU 1, queue_depth and chap_algorithms set through node 3")
[[ "$view" == *'"luns": [0, 1]'* ]] || fail "LU 1 is not in the view: $view"
[[ "$view" == *'"queue_depth": 17'* ]] || fail "queue_depth 17 is not in the view: $view"
[[ "$view" == *'"chap_algorithms": ["sha256", "sha3-256"]'* ]] ||
	fail "chap_algorithms [sha256, sha3-256] is not in the view: $view"
for i in 1 2; do
	luns=$(client_exec timeout 60 "$TESTCLIENT" --quiet --initiator "$INIT1_IQN" report-luns "$(url_t2 "$i")") ||
		fail "REPORT LUNS through node $i failed"
	[ "$(echo $luns)" = "0 1" ] || fail "REPORT LUNS through node $i shows '$(echo $luns)', expected 0 1"
	out=$(client_exec timeout 60 "$TESTCLIENT" --quiet --initiator "$INIT1_IQN" read-capacity "$(url_t2 "$i" 1)") ||
		fail "READ CAPACITY of LUN 1 through node $i failed"
	[ "$out" = "32768 512" ] || fail "LUN 1 through node $i has capacity '$out', expected 32768 512 (16 MiB)"
done

# --- through node 2: demo mode on, then the ACL removed --------------------------------
gw 2 param set "$T2" demo_mode true
same_everywhere "demo_mode on through node 2" >/dev/null
for i in 1 3; do
	client_exec timeout 60 "$TESTCLIENT" --quiet --initiator "$INIT2_IQN" login "$(url_t2 "$i")" ||
		fail "with demo mode on (set through node 2), node $i still refuses $INIT2_IQN"
done
gw 2 param set "$T2" demo_mode false
gw 2 acl delete "$T2" "$INIT1_IQN"
view=$(same_everywhere "demo mode off and the ACL removed through node 2")
[[ "$view" == *"$INIT1_IQN"* ]] && fail "the removed ACL is still in the view: $view"
for i in 1 3; do
	client_exec timeout 60 "$TESTCLIENT" --quiet --initiator "$INIT1_IQN" login-fail "$(url_t2 "$i")" \
		--expect-status 0x0202,0x0203 ||
		fail "after the ACL was removed through node 2, node $i still lets $INIT1_IQN in"
done
# --- portals are per node: one added through node 1 is node 1's alone -------------
# A wildcard portal: had it been replicated, every node could bind it.
extra_port=$((CLUSTER_PORT + 1))
gw 1 portal create "0.0.0.0:$extra_port"
client_exec timeout 60 "$TESTCLIENT" --quiet tur "iscsi://$(node_addr 1):$extra_port/$TARGET_IQN/0" ||
	fail "node 1 does not serve on the portal added through its gwcli"
for i in 2 3; do
	portals=$(node_gwcli "$i" --json ls) || fail "gwcli --json ls on node $i failed"
	[[ "$portals" == *":$extra_port"* ]] &&
		fail "node $i took node 1's portal 0.0.0.0:$extra_port: $(echo "$portals" | grep -o '"portals":\[[^]]*\]')"
	client_exec timeout 60 "$TESTCLIENT" --quiet tur "iscsi://$(node_addr "$i"):$extra_port/$TARGET_IQN/0" \
		2>/dev/null && fail "node $i serves on port $extra_port, a portal added through node 1"
done
gw 1 portal delete "0.0.0.0:$extra_port"
note "a portal added through node 1 is served by node 1 only"

# The first target was never touched.
for i in 1 2 3; do
	client_exec timeout 60 "$TESTCLIENT" --quiet tur "$(node_url "$i")" ||
		fail "$TARGET_IQN through node $i stopped working"
done
pass
