#!/bin/bash
# Persistence across a whole-cluster restart (issue 5): every node writes
# the configuration (its --config file, here under its state directory) and
# the APTPL reservation state (STATE_DIR/pr) as operations are applied, with
# the cluster's state version (STATE_DIR/state-version.json). After all
# nodes stop, the restarted group elects the newest saved state.
#
# Node 3 stops first, so it keeps an older state; then an APTPL
# registration + reservation is made through node 1 and a target is added
# with gwcli through node 2. All nodes stop and start again in the reverse
# order (node 3, with the old state, first): every node must report the
# registration, the reservation and the new target.
TEST_NAME=cluster-restart-persistence
. "$(dirname "$0")/lib.sh"
need_program "$TESTCLIENT"
need_program "$GWCLI"

key=0x5a6e77
new_target=iqn.2026-11.org.sangw:persisted

cluster_up 3
lu=$TEST_DIR/shared-lu.img
make_sparse_file "$lu" 64M

# write_config I: node I's configuration file, in its state directory.
write_config() {
	local dir
	dir=$(node_dir "$1")/state
	mkdir -p "$dir"
	cat >"$dir/sangwd.json" <<-EOF
	{
	  "portals": ["$(node_portal "$1")"],
	  "targets": [
	    {"iqn": "$TARGET_IQN", "demo_mode": true,
	     "luns": [{"lun": 0, "backstore": "file", "path": "$lu"}]}
	  ]
	}
	EOF
}

start_node() {
	node_start_sangwd "$1" --config "$(node_dir "$1")/state/sangwd.json"
}

node_ready() {
	client_exec "$TESTCLIENT" --quiet tur "$(node_url "$1")" >/dev/null 2>&1
}

wait_ready() {
	local i
	for i in "$@"; do
		wait_until "$CLUSTER_TIMEOUT" node_ready "$i" || fail "node $i is not serving I/O"
	done
}

# node_has_state I: node I reports the registration, the reservation and
# the target added with gwcli.
node_has_state() {
	local out
	out=$(client_exec "$TESTCLIENT" --quiet pr-show "$(node_url "$1")" 2>&1) || return 1
	grep -q "^keys $key$" <<<"$out" && grep -q "^reservation $key type 1$" <<<"$out" &&
		node_gwcli "$1" ls 2>/dev/null | grep -q "$new_target"
}

for i in 1 2 3; do
	write_config "$i"
	start_node "$i"
done
wait_ready 1 2 3

# Node 3 leaves with the state as it is now.
node_stop_sangwd 3

client_exec "$TESTCLIENT" pr-register-reserve "$(node_url 1)" "$key" 1 --aptpl ||
	fail "APTPL REGISTER/RESERVE through node 1 failed"
node_gwcli 2 target create "$new_target" --demo || fail "gwcli target create through node 2 failed"
node_gwcli 2 lun create "$new_target" "null,size=16M" || fail "gwcli lun create through node 2 failed"
for i in 1 2; do
	wait_until "$CLUSTER_TIMEOUT" node_has_state "$i" ||
		fail "node $i does not report the registration and the new target before the restart"
	grep -q "$new_target" "$(node_dir "$i")/state/sangwd.json" ||
		fail "node $i did not write the new target to its configuration file"
	ls "$(node_dir "$i")"/state/pr/*.json >/dev/null 2>&1 ||
		fail "node $i did not write the APTPL state under its state directory"
done
grep -q "$new_target" "$(node_dir 3)/state/sangwd.json" &&
	fail "node 3 was stopped, yet its configuration file has the new target"

node_stop_sangwd 1
node_stop_sangwd 2

# The whole cluster starts again, the node with the oldest state first.
for i in 3 2 1; do
	start_node "$i"
done
wait_ready 3 2 1
for i in 1 2 3; do
	wait_until "$CLUSTER_TIMEOUT" node_has_state "$i" ||
		fail "after the restart node $i does not report the registration and the new target: $(client_exec "$TESTCLIENT" --quiet pr-show "$(node_url "$i")" 2>&1 | tr '\n' ' ')"
	note "node $i: registration, reservation and $new_target restored"
done
grep -q "$new_target" "$(node_dir 3)/state/sangwd.json" ||
	fail "node 3 did not write the restored configuration to its file"
for i in 1 2 3; do pid_gone "${NODE_SANGWD_PIDS[$i]}" && fail "sangwd on node $i died"; done
pass
