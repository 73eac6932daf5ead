#!/bin/bash
# A backstore that stalls: two LUs are loop devices over files on an ext4
# filesystem that is frozen (FIFREEZE) while sangw-bench --verify writes to
# one of them with more commands queued than the CmdSN window holds, and a
# raw client (badpdu immediate-flood) sends immediate WRITEs, which take no
# CmdSN slot, to the other. While the store stalls:
#   - the CmdSN window closes: ExpCmdSN = MaxCmdSN + 1 and MaxCmdSN stays
#     (RFC 7143 3.2.2.1), so the initiator queues the rest itself;
#   - immediate commands beyond a full window get TASK SET FULL (SAM-5
#     5.3.1): exactly queue_depth + 1 are taken, the rest refused at once;
#   - sangwd's memory stays bounded (RSS before and during is printed);
#   - a third LU on another filesystem keeps serving new sessions.
# After the thaw every stalled command completes GOOD, the window opens
# again, and sangw-bench reads back every block it wrote (0 errors, 0
# mismatches).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fs-faults.inc"
BENCH=$SANGW_BUILD/sangw-bench
need_program "$BENCH" "$BADPDU" "$TESTCLIENT" python3
fault_need_root
QUEUE_DEPTH=128    # the target's default CmdSN window
FLOOD=200          # immediate WRITEs: QUEUE_DEPTH + 1 taken, the rest refused
RSS_BOUND_KB=$((64 * 1024))

mount_ext4 "$TEST_DIR/ext4" 96
for i in 0 1; do
	truncate -s 32M "$TEST_DIR/ext4/stall$i.img" || fail "cannot create a backing file"
	attach_loop "$TEST_DIR/ext4/stall$i.img"
	dev[i]=$LOOP_DEV
	# Requests beyond the loop device's 128 driver tags wait in the I/O
	# scheduler instead of blocking io_submit() for a free tag.
	q=/sys/block/$(basename "${dev[i]}")/queue
	echo mq-deadline >"$q/scheduler" && echo 1024 >"$q/nr_requests" ||
		skip "cannot give ${dev[i]} a deeper request queue"
done
start_sangwd --target "$TARGET_IQN" --lun "file:${dev[0]}" --lun "file:${dev[1]}" \
	--lun "file:$TEST_DIR/ok.img,size=16M"
wait_mgmt_socket
BENCH_LU=$(iscsi_url "$TARGET_IQN" 0)
OK_LU=$(iscsi_url "$TARGET_IQN" 2)

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$SANGWD_PID/status"
}

# The bench session's ExpCmdSN and MaxCmdSN, "EXP MAX".
bench_window() {
	gwcli --json sessions 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin).get("sessions", []):
    d = s.get("details", {})
    if "bench" in s.get("initiator", "") and "max_cmd_sn" in d:
        print(d["exp_cmd_sn"], d["max_cmd_sn"])'
}
window_closed() {
	local w
	w=$(bench_window) && [ -n "$w" ] && [ "${w% *}" = $(( (${w#* } + 1) & 0xffffffff )) ]
}
bench_wrote() { gwcli --json stats 2>/dev/null | grep -q '"write_cmds":[1-9]'; }
refusals() { grep -c "TASK SET FULL" "$SANGWD_LOG"; }
all_refused() { [ "$(refusals)" -ge $((FLOOD - QUEUE_DEPTH - 1)) ]; }

bench_log=$TEST_DIR/bench.log
"$BENCH" -Q -w mix -V -q 192 -t 15 --io-timeout 120 "$BENCH_LU" >"$bench_log" 2>&1 &
bench=$!
track_pid "$bench"
wait_until 30 bench_wrote || fail "no writes reach the LU: $(tail -3 "$bench_log")"
rss_before=$(rss_kb)

note "the filesystem under LUs 0 and 1 freezes"
freeze_fs "$TEST_DIR/ext4"
wait_until 30 window_closed || fail "the CmdSN window did not close: ExpCmdSN MaxCmdSN = $(bench_window)"
stalled_window=$(bench_window)
note "window closed: ExpCmdSN MaxCmdSN = $stalled_window"

flood_log=$TEST_DIR/flood.log
"$BADPDU" --only immediate-flood --immediate-flood "$FLOOD" --flood-lun 1 --timeout 120000 \
	"$(iscsi_url "$TARGET_IQN" 2)" >"$flood_log" 2>&1 &
flood=$!
track_pid "$flood"
wait_until 30 all_refused || fail "$(refusals) immediate commands refused, expected $((FLOOD - QUEUE_DEPTH - 1))"

note "a new session on the LU of another filesystem is served"
must testclient write-read "$OK_LU" 1000 64   # (badpdu checks LBA 0)
rss_during=$(rss_kb)
note "sangwd RSS: ${rss_before} kB before the stall, ${rss_during} kB during it"
[ $((rss_during - rss_before)) -le $RSS_BOUND_KB ] ||
	fail "RSS grew by $((rss_during - rss_before)) kB during the stall"
[ "$(bench_window)" = "$stalled_window" ] || fail "MaxCmdSN moved while stalled: $(bench_window)"
pid_gone "$bench" && fail "sangw-bench ended during the stall: $(tail -3 "$bench_log")"

note "the filesystem thaws"
thaw_fs "$TEST_DIR/ext4"
wait "$flood"
rc=$?
note "$(grep immediate-flood "$flood_log")"
[ $rc -eq 0 ] || fail "immediate-flood: $(tail -2 "$flood_log")"
grep -q "$FLOOD immediate WRITEs: $((QUEUE_DEPTH + 1)) GOOD, $((FLOOD - QUEUE_DEPTH - 1)) TASK SET FULL" \
	"$flood_log" || fail "immediate-flood: $(grep immediate-flood "$flood_log")"
bench_finished "$bench" "$bench_log" "across the stall"
assert_alive
stop_sangwd
pass
