#!/usr/bin/env bash
# Ceph faults under load: while sangw-bench --verify writes and reads an rbd
# LU, the monitor restarts and the OSD stops and comes back. I/O stalls
# and resumes within the operation timeout: zero I/O errors, zero verify
# mismatches, and every block written before and during the faults reads
# back intact at the end (sangw-bench's final read-back).
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../ceph/lib.sh
. "$(dirname "$0")/../ceph/lib.sh"

ceph_need_tools
ceph_up
rbd_image_create faults 64M || fail "cannot create image faults"
start_sangwd --target "$TARGET_IQN" --lun "rbd:rbd/faults,conf=$CEPH_CONF"
wait_lus_ready 30
url="iscsi://$PORTAL/$TARGET_IQN/0"

bench_log=$TEST_DIR/bench.log
"$SANGW_BUILD/sangw-bench" -w mix -V -t 40 -q 16 --io-timeout 60 "$url" >"$bench_log" 2>&1 &
bench=$!
track_pid "$bench"
# Faults once I/O flows: the LU has completed writes.
bench_running() { gwcli --json stats 2>/dev/null | grep -q '"write_cmds":[1-9]'; }
wait_until 30 bench_running || fail "no writes reach the LU: $(tail -3 "$bench_log")"

ceph_fault_cycle assert_alive

bench_finished "$bench" "$bench_log" "across the faults"
stop_sangwd
pass
