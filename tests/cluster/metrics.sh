#!/bin/bash
# The metrics endpoint across a cluster (docs/metrics.md): three nodes,
# each with sangwd --metrics on its own address, scraped from the client
# namespace. Every node reports itself, the configured nodes (names and
# addresses), three members, every node up, quorate and ready, the same
# configuration and state versions and one port group per node on the
# shared LU. Node 3 is killed (sangwd and corosync): nodes 1 and 2 report
# two members, node 3 down, still quorate and ready, node 3's port group
# Unavailable; a configuration change through node 2 shows the same new
# version on both; every page passes promtool.
TEST_NAME=cluster-metrics
. "$(dirname "$0")/lib.sh"
need_program curl promtool

MPORT=9573
L="target=\"$TARGET_IQN\",lun=\"0\""

cluster_up 3
shared_lu_make
for i in 1 2 3; do
	node_start_sangwd "$i" --target "$TARGET_IQN" --lun "$SHARED_LU_SPEC" --metrics "$(node_addr "$i"):$MPORT"
done
for i in 1 2 3; do
	node_wait_lus_ready "$i"
done

# scrape I NAME: node I's page, from the client namespace, into NAME.prom.
scrape() {
	local out=$TEST_DIR/$2.prom
	client_exec curl -sS --max-time 10 -o "$out" "http://$(node_addr "$1"):$MPORT/metrics" ||
		fail "node $1: cannot scrape its metrics"
	promtool check metrics <"$out" >"$TEST_DIR/$2.promtool" 2>&1 ||
		fail "node $1: promtool check metrics: $(head -3 "$TEST_DIR/$2.promtool")"
}

value() { # NAME SERIES
	local v
	v=$(awk -v k="$2" '$1 == k { print $2; exit }' "$TEST_DIR/$1.prom")
	[ -n "$v" ] || fail "scrape $1 has no sample $2"
	echo "$v"
}

expect() { # NAME SERIES VALUE
	local v
	v=$(value "$1" "$2") || exit 1
	[ "$v" = "$3" ] || fail "scrape $1: $2 is $v, expected $3"
}

# all_see NAME I...: every listed node's current page in NAME-I.prom.
all_see() {
	local name=$1 i
	shift
	for i in "$@"; do
		scrape "$i" "$name-$i"
	done
}

note "three nodes: each sees three members up, ready, one port group each"
all_see up 1 2 3
for i in 1 2 3; do
	expect "up-$i" sangw_cluster_node_id "$i"
	expect "up-$i" sangw_cluster_members 3
	expect "up-$i" sangw_cluster_ready 1
	expect "up-$i" sangw_cluster_quorate 1
	for n in 1 2 3; do
		expect "up-$i" "sangw_cluster_node_info{node=\"$n\",name=\"sgwc-n$n\",address=\"$(node_addr "$n")\"}" 1
		expect "up-$i" "sangw_cluster_node_up{node=\"$n\"}" 1
		expect "up-$i" "sangw_alua_port_group_state{$L,tpg=\"$n\",state=\"active-optimized\"}" 1
	done
done
for v in sangw_config_version sangw_state_version; do
	[ "$(value up-1 $v)" = "$(value up-2 $v)" ] && [ "$(value up-1 $v)" = "$(value up-3 $v)" ] ||
		fail "$v differs: $(value up-1 $v) $(value up-2 $v) $(value up-3 $v)"
done

note "node 3 killed: nodes 1 and 2 see two members, node 3 down, its group unavailable"
node_kill 3
wait_nodes_quorate 2 1 2
node3_down() {
	local i
	for i in 1 2; do
		client_exec curl -s --max-time 5 "http://$(node_addr "$i"):$MPORT/metrics" |
			grep -qx 'sangw_cluster_node_up{node="3"} 0' || return 1
	done
}
wait_until 30 node3_down || fail "sangw_cluster_node_up{node=\"3\"} did not drop to 0 on nodes 1 and 2"
all_see down 1 2
for i in 1 2; do
	expect "down-$i" sangw_cluster_members 2
	expect "down-$i" sangw_cluster_ready 1
	expect "down-$i" sangw_cluster_quorate 1
	expect "down-$i" 'sangw_cluster_node_up{node="1"}' 1
	expect "down-$i" 'sangw_cluster_node_up{node="2"}' 1
	expect "down-$i" "sangw_alua_port_group_state{$L,tpg=\"3\",state=\"unavailable\"}" 1
	expect "down-$i" "sangw_alua_port_group_state{$L,tpg=\"3\",state=\"active-optimized\"}" 0
done
client_exec curl -s --max-time 5 -o /dev/null "http://$(node_addr 3):$MPORT/metrics" &&
	fail "node 3's endpoint still answers after the kill"

note "a change through node 2 shows the same new version on nodes 1 and 2"
before=$(value down-1 sangw_config_version)
must node_gwcli 2 lun create "$TARGET_IQN" null,size=8M --lun 1
all_see changed 1 2
for i in 1 2; do
	[ "$(value "changed-$i" sangw_config_version)" -gt "$before" ] ||
		fail "node $i: sangw_config_version did not grow ($before -> $(value "changed-$i" sangw_config_version))"
	expect "changed-$i" "sangw_lu_size_bytes{target=\"$TARGET_IQN\",lun=\"1\"}" $((8 * 1024 * 1024))
done
[ "$(value changed-1 sangw_config_version)" = "$(value changed-2 sangw_config_version)" ] ||
	fail "nodes 1 and 2 disagree on the configuration version"
[ "$(value changed-1 sangw_state_version)" = "$(value changed-2 sangw_state_version)" ] ||
	fail "nodes 1 and 2 disagree on the state version"
pass
