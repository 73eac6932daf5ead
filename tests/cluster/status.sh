#!/bin/bash
# gwcli status and sessions across the cluster (issue 11): every node
# shows the same picture (each node's state, the quorum, per LU the ALUA
# state each node reports); a session through node 2 is listed with its
# node by every node; a partitioned node shows itself alone and without
# quorum, the others show it down; a change on the minority is refused
# with an error naming the missing nodes; a killed node is shown down and
# gwcli still answers within its timeout.
TEST_NAME=cluster-status
. "$(dirname "$0")/lib.sh"
need_program "$GWCLI" python3

cluster_up_shared_lu 3

# status_of NODE: node's `gwcli --json status` without what depends on the
# node asked (node_id), canonical, so equal pictures compare equal.
status_of() {
	node_gwcli "$1" --timeout 5 --json status | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ok"], d
d.pop("node_id")
print(json.dumps(d, sort_keys=True))'
}

# check NODE PYTHON-EXPR: the expression holds for node NODE's status (d).
check() {
	local out
	out=$(node_gwcli "$1" --timeout 5 --json status | python3 -c '
import json, sys
d = json.load(sys.stdin)
nodes = {n["id"]: n for n in d["nodes"]}
ok = eval(sys.argv[1])
print("ok" if ok else "FAILED: " + json.dumps(d))' "$2") || fail "node $1: gwcli status failed"
	[ "$out" = ok ] || fail "node $1: status does not satisfy '$2': $out"
}

# same_everywhere NODE...: the nodes' status pictures are equal (a moment
# after a change they may still be converging: retry, up to 60 s on a
# loaded machine).
same_everywhere() {
	local first i deadline=$((SECONDS + 60)) same
	while :; do
		first=$(status_of "$1")
		same=1
		for i in "${@:2}"; do
			[ "$(status_of "$i")" = "$first" ] || same=
		done
		[ -n "$same" ] && break
		[ $SECONDS -lt $deadline ] || fail "nodes $* show different status pictures"
		sleep 0.5
	done
	note "nodes $* show the same picture: ${first:0:300}"
}

# --- all up ------------------------------------------------------------------
same_everywhere 1 2 3
for i in 1 2 3; do
	check "$i" 'len(d["nodes"]) == 3 and all(nodes[k]["up"] and nodes[k]["state"] == "up" for k in (1, 2, 3))'
	check "$i" 'd["quorum"]["quorate"] and d["quorum"]["missing"] == [] and d["quorum"]["configured"] == 3'
	check "$i" 'all(n["quorate"] and n["ready"] and n["name"] == "sgwc-n%d" % n["id"] for n in d["nodes"])'
	check "$i" 'len(set(n["config_version"] for n in d["nodes"])) == 1'
	# one LU, every node reports its own group's state
	check "$i" 'len(d["luns"]) == 1 and all(d["luns"][0]["alua"][str(k)] for k in (1, 2, 3))'
done
out=$(node_gwcli 2 status) || fail "gwcli status (human) failed"
grep -q 'quorate, 3 of 3 configured nodes up' <<<"$out" || fail "human status: $out"
note "gwcli status on node 2:
$out"

# ALUA as each node reports it follows an alua set made through node 3.
node_gwcli 3 alua set "$TARGET_IQN" 0 standby --tpg 2 >/dev/null || fail "alua set failed"
for i in 1 2 3; do
	check "$i" 'd["luns"][0]["alua"]["2"] == "standby"'
done
node_gwcli 3 alua set "$TARGET_IQN" 0 active-optimized --tpg 2 >/dev/null || fail "alua set back failed"

# --- sessions with their node ---------------------------------------------------
session_start
sess_open s2 2 iqn.2026-11.org.sangw:status-init
for i in 1 3; do
	out=$(node_gwcli "$i" --json sessions) || fail "gwcli sessions on node $i failed"
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
s = [x for x in d["sessions"] if x["initiator"] == "iqn.2026-11.org.sangw:status-init"]
assert len(s) == 1 and s[0]["node"] == 2, d' "$out" || fail "node $i: sessions do not show the one on node 2: $out"
done
out=$(node_gwcli 1 sessions) || fail "gwcli sessions (human) failed"
grep -Eq '^2 +iqn.2026-11.org.sangw:status-init' <<<"$out" || fail "human sessions lack the node column: $out"
check 1 'nodes[2]["sessions"] == 1 and nodes[1]["sessions"] == 0'

# --- node 3 partitioned ---------------------------------------------------------
node_isolate 3
wait_nodes_inquorate 3
wait_until 20 eval "status_of 1 | grep -q '\"id\": 3, \"name\": \"sgwc-n3\", \"state\": \"down\", \"up\": false'" ||
	fail "node 1 does not show the partitioned node 3 down"
same_everywhere 1 2
check 1 'd["quorum"]["quorate"] and d["quorum"]["missing"] == [3] and not nodes[3]["up"]'
# the minority sees itself alone, without quorum
check 3 'not d["quorum"]["quorate"] and d["quorum"]["missing"] == [1, 2] and nodes[3]["up"] and not nodes[3]["ready"] and not nodes[1]["up"] and not nodes[2]["up"]'
out=$(node_gwcli 3 target create iqn.2026-11.org.sangw:minority 2>&1) &&
	fail "a change on the minority was accepted: $out"
grep -q 'no quorum' <<<"$out" && grep -q 'node 1 (sgwc-n1' <<<"$out" && grep -q 'node 2 (sgwc-n2' <<<"$out" ||
	fail "the refusal does not name the missing nodes: $out"
note "refused on node 3: $out"
node_gwcli 1 target create iqn.2026-11.org.sangw:majority >/dev/null || fail "a change on the majority failed"
node_rejoin 3
wait_nodes_quorate 3 1 2 3
node_wait_lus_ready 3
same_everywhere 1 2 3
check 3 'all(nodes[k]["up"] for k in (1, 2, 3)) and len(set(n["config_version"] for n in d["nodes"])) == 1'

# --- node 2 killed ------------------------------------------------------------------
# Right after the kill corosync forms a new membership (token + consensus,
# a few seconds) and delivers nothing meanwhile: the node asked shows
# itself, and the others as not answering, within the timeout.
node_kill 2
for i in 1 3; do
	start=$(date +%s%N)
	check "$i" "not nodes[2][\"up\"] and nodes[2][\"state\"] in (\"down\", \"not answering\") and nodes[$i][\"up\"]"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	# sangwd waits up to its 5 s answer timeout for the dead node; gwcli's
	# and the check's own start-up come on top (over a second at load 10):
	# what must not happen is a status that waits for the membership change.
	[ "$ms" -lt 10000 ] || fail "node $i: gwcli status took $ms ms with node 2 dead (answer timeout 5 s)"
	note "node $i: status with node 2 dead answered in $ms ms"
done
wait_until 20 eval "status_of 1 | grep -q '\"id\": 2, \"name\": \"sgwc-n2\", \"state\": \"down\"'" ||
	fail "node 1 does not show the killed node 2 down"
same_everywhere 1 3
check 3 'nodes[1]["up"] and nodes[3]["up"] and d["quorum"]["quorate"] and d["quorum"]["missing"] == [2]'
out=$(node_gwcli 3 --json sessions) || fail "gwcli sessions with node 2 dead failed"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
n = {x["id"]: x for x in d["nodes"]}
assert not n[2]["up"] and d["sessions"] == [], d' "$out" || fail "sessions with node 2 dead: $out"
pass
