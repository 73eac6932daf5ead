#!/bin/bash
# Ceph faults under a gateway cluster (issue 10). Three nodes export two RBD
# images (LUN 0 from the start, LUN 1 added through gwcli on node 3);
# sangw-bench --verify runs on LUN 0 through node 1 and generation-stamped
# writes go to LUN 1 through node 2 while Ceph's monitor restarts and its
# OSD stops and comes back. I/O stalls and resumes: zero I/O errors, zero verify
# mismatches, every acknowledged stamped write reads back through nodes 1,
# 2 and 3, and no gateway was fenced or taken over for a fault of Ceph's.
TEST_NAME=cluster-ceph-faults
SGWC_BACKING=rbd
. "$(dirname "$0")/lib.sh"
need_program "$CLUSTER_CLIENT"
BENCH=$SANGW_BUILD/sangw-bench
need_program "$BENCH"
blocks=4096

cluster_up_shared_lu 3
node_gwcli 3 lun create "$TARGET_IQN" "rbd:rbd/stamped,conf=$CEPH_CONF,size=64M,create=1" --lun 1 \
	>/dev/null || fail "cannot add LUN 1 through node 3"
for i in 1 2 3; do
	node_wait_lus_ready "$i"
done

bench_log=$TEST_DIR/bench.log
client_spawn "$bench_log" "$BENCH" -w mix -V -t 40 -q 16 --io-timeout 60 "$(node_url 1)"
bench=$SGWC_LAST_PID
stamp_log=$TEST_DIR/write-log
client_spawn "$stamp_log" "$CLUSTER_CLIENT" --timeout 60 --seconds 40 write-log "$(node_url 2 "$TARGET_IQN" 1)" "$blocks"
writer=$SGWC_LAST_PID
bench_running() { node_gwcli 1 --json stats 2>/dev/null | grep -q '"write_cmds":[1-9]'; }
wait_until 30 bench_running || fail "no writes reach node 1: $(tail -3 "$bench_log")"
wait_for_line "$stamp_log" '^acked ' 30 || fail "no stamped write through node 2: $(tail -3 "$stamp_log")"

ceph_fault_cycle

wait "$bench"
rc=$?
note "node 1: $(tail -4 "$bench_log" | tr -s ' ' | tr '\n' ' ')"
[ $rc -eq 0 ] || fail "sangw-bench through node 1 failed (status $rc): $(tail -4 "$bench_log")"
bench_verified "$bench_log" "sangw-bench through node 1 across the faults"
wait "$writer" || fail "the stamped writer through node 2 failed: $(tail -3 "$stamp_log")"
note "node 2: $(grep -c '^acked ' "$stamp_log") stamped writes acknowledged; $(grep '^stopped' "$stamp_log" || echo 'no error')"
grep -q '^stopped' "$stamp_log" && fail "a stamped write through node 2 failed: $(grep '^stopped' "$stamp_log")"
for i in 1 2 3; do
	out=$(client_exec "$CLUSTER_CLIENT" check-log "$(node_url "$i" "$TARGET_IQN" 1)" "$stamp_log" 2>&1) ||
		fail "an acknowledged write is missing through node $i: $out"
	note "node $i: $out"
done
for i in 1 2 3; do
	out=$(node_gwcli "$i" fencing) || fail "gwcli fencing on node $i: $out"
	grep -Eq 'being-fenced|fenced' <<<"$out" && fail "node $i reports a fence after Ceph faults: $out"
done
note "no node fenced: $(node_gwcli 1 fencing | tail -n +3 | tr -s ' ' | tr '\n' ';')"
pass
