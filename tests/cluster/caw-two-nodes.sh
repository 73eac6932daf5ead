#!/bin/bash
# COMPARE AND WRITE stays atomic when the same LU is written through two
# nodes (issue 5; SBC-3 5.2). Two initiators, one through node 1 and one
# through node 2, concurrently add 1 to a counter kept in one block with
# COMPARE AND WRITE (read, compare-and-write old -> old + 1, retry on
# MISCOMPARE). If two COMPARE AND WRITEs through different nodes could both
# compare against the same old value, both would succeed and one increment
# would be lost: the final counter must equal the number of successful
# COMPARE AND WRITEs of both clients.
TEST_NAME=cluster-caw-two-nodes
. "$(dirname "$0")/lib.sh"
need_program "$TESTCLIENT"

per_client=${CAW_PER_CLIENT:-200}
counter_lba=16

cluster_up_shared_lu 2
# Both nodes serve (a node takes I/O once it has the cluster's state).
for i in 1 2; do
	deadline=$((SECONDS + CLUSTER_TIMEOUT))
	until client_exec "$TESTCLIENT" --initiator "$INIT1_IQN" tur "$(node_url "$i")" 2>/dev/null
	do
		[ $SECONDS -ge $deadline ] && fail "node $i does not serve I/O"
		sleep 0.2
	done
done

pids=()
for i in 1 2; do
	client_spawn "$TEST_DIR/caw-$i.out" "$TESTCLIENT" --quiet \
		--initiator "iqn.2026-11.org.sangw:caw$i" \
		caw-increment "$(node_url "$i")" "$counter_lba" "$per_client"
	pids+=("$SGWC_LAST_PID")
done
for i in 1 2; do
	wait "${pids[$((i - 1))]}" ||
		fail "the client through node $i failed: $(cat "$TEST_DIR/caw-$i.out")"
done

total=0
for i in 1 2; do
	line=$(grep '^caws ' "$TEST_DIR/caw-$i.out") || fail "no result from the client through node $i"
	note "through node $i: $line"
	read -r _ caws _ _ _ _ <<<"$line"
	[ "$caws" -eq "$per_client" ] ||
		fail "client through node $i made $caws COMPARE AND WRITEs, not $per_client"
	total=$((total + caws))
done
for i in 1 2; do
	line=$(client_exec "$TESTCLIENT" --quiet caw-increment "$(node_url "$i")" "$counter_lba" 0) ||
		fail "reading the counter through node $i failed"
	counter=${line##* }
	[ "$counter" -eq "$total" ] ||
		fail "counter through node $i is $counter after $total successful COMPARE AND WRITEs"
done
note "counter $counter = $total successful COMPARE AND WRITEs through two nodes"
pass
