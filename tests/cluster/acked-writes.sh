#!/bin/bash
# What one gateway acknowledged, every gateway reads, even after it dies.
# Three nodes export one shared LU (a file, or with SGWC_BACKING=rbd one RBD
# image every node reaches over the network). Verified random I/O through
# node 1 (sangw-bench --verify); generation-stamped writes through node 1
# read back through nodes 2 and 3; then node 1's sangwd is killed (SIGKILL)
# in the middle of a stream of writes, and every write it acknowledged
# before dying is read back, with its generation or a newer one, through
# nodes 2 and 3.
TEST_NAME=cluster-acked-writes
. "$(dirname "$0")/lib.sh"
need_program "$CLUSTER_CLIENT"
BENCH=$SANGW_BUILD/sangw-bench
need_program "$BENCH"
blocks=8192        # the stamped writes' range: the first 4 MiB

cluster_up_shared_lu 3

note "verified random I/O through node 1"
client_exec timeout 60 "$BENCH" -Q -w mix -V -t 3 -q 16 "$(node_url 1)" >"$TEST_DIR/bench" 2>&1 ||
	fail "sangw-bench --verify through node 1: $(tail -3 "$TEST_DIR/bench")"
bench_verified "$TEST_DIR/bench" "sangw-bench through node 1"

note "stamped writes through node 1, read back through nodes 2 and 3"
log1=$TEST_DIR/write-log-1
client_exec "$CLUSTER_CLIENT" --seconds 3 write-log "$(node_url 1)" "$blocks" >"$log1" 2>&1 ||
	fail "write-log through node 1: $(tail -3 "$log1")"
for i in 2 3; do
	out=$(client_exec "$CLUSTER_CLIENT" check-log "$(node_url "$i")" "$log1" 2>&1) ||
		fail "node $i does not return what node 1 acknowledged: $out"
	note "node $i: $out"
done

note "node 1 dies in the middle of a stream of writes"
log2=$TEST_DIR/write-log-2
client_spawn "$log2" "$CLUSTER_CLIENT" --timeout 5 write-log "$(node_url 1)" "$blocks"
writer=$SGWC_LAST_PID
wait_for_line "$log2" '^READY$' 30 || fail "the writer did not start: $(tail -3 "$log2")"
enough_acked() { [ "$(grep -c '^acked ' "$log2")" -ge 300 ]; }
wait_until 60 enough_acked || fail "fewer than 300 writes acknowledged in 60 s: $(tail -3 "$log2")"
node_kill_sangwd 1
writer_done() { pid_gone "$writer"; }
wait_until 30 writer_done || fail "the writer did not notice node 1's death"
note "$(grep -c '^acked ' "$log2") writes acknowledged; $(grep '^stopped' "$log2")"
for i in 2 3; do
	out=$(client_exec "$CLUSTER_CLIENT" check-log "$(node_url "$i")" "$log2" 2>&1) ||
		fail "an acknowledged write is missing through node $i: $out"
	note "node $i: $out"
done
pass
