#!/bin/bash
# Worker threads (sangwd --workers N): sessions are spread over the
# workers and keep their data right under concurrent verified I/O; shared
# state changed on the control thread (a reservation, a capacity change)
# reaches sessions on other workers while they run; the management API
# sums the per-worker statistics exactly; --workers 1 works and bad
# values are refused. No timing is asserted.
. "$(dirname "$0")/../lib.sh"
BENCH=${SANGW_BENCH:-$SANGW_BUILD/sangw-bench}
need_program "$BENCH"
need_program "$TESTCLIENT"
need_program python3

# py EXPR: evaluate a Python expression over the JSON on stdin (as j).
py() {
	python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}

bench() {
	timeout 120 "$BENCH" --quiet "$@"
}

note "bad --workers values are refused"
for bad in 0 65 two -1 ""; do
	if "$SANGWD" -f --workers "$bad" --listen "$PORTAL" --state-dir "$TEST_DIR/bad" \
		--mgmt-socket "$TEST_DIR/bad.sock" >"$TEST_DIR/bad.out" 2>&1; then
		fail "--workers '$bad' was accepted"
	fi
	grep -q -- "--workers" "$TEST_DIR/bad.out" || fail "no message for --workers '$bad'"
done

ARGS=(--target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=64M" --lun "null,size=64M"
      --lun "file:$TEST_DIR/lu2.img,size=16M")
FILE_LU=$(iscsi_url "$TARGET_IQN" 0)
NULL_LU=$(iscsi_url "$TARGET_IQN" 1)
PR_LU=$(iscsi_url "$TARGET_IQN" 2)

start_sangwd --workers 2 "${ARGS[@]}"
grep -q "2 worker threads started" "$SANGWD_LOG" || fail "sangwd did not start 2 workers"

note "4 sessions of verified random mix, 2 client threads, while sessions are listed"
bench --json --verify --rw mix --sessions 4 --threads 2 --qd 16 --time 8 "$FILE_LU" \
	>"$TEST_DIR/mix.json" 2>"$TEST_DIR/mix.err" &
BENCH_PID=$!
workers_seen=
for ((i = 0; i < 100; i++)); do
	workers_seen=$(gwcli --json sessions 2>/dev/null |
		py "' '.join(sorted({str(s['details'].get('worker')) for s in j['sessions']}))") || workers_seen=
	[ "$workers_seen" = "1 2" ] && break
	sleep 0.05
done
wait "$BENCH_PID" || { cat "$TEST_DIR/mix.json" "$TEST_DIR/mix.err" >&2; fail "verified mix exited $?"; }
[ "$workers_seen" = "1 2" ] || fail "sessions were not on both workers (saw: '$workers_seen')"
mism=$(py "j['verify']['mismatches']" <"$TEST_DIR/mix.json")
errs=$(py "j['errors']" <"$TEST_DIR/mix.json")
verified=$(py "j['verify']['verified_blocks']" <"$TEST_DIR/mix.json")
[ "$mism" = 0 ] || fail "$mism mismatches across workers"
[ "$errs" = 0 ] || fail "$errs I/O errors across workers"
[ "$verified" -gt 0 ] || fail "nothing was verified"

note "statistics: the per-worker counters add up to what the clients did"
before=$(gwcli --json stats | py "sum(l['read_cmds'] + l['write_cmds'] for l in j['luns'] if l['lun'] == 1)")
bench --json --rw mix --sessions 4 --threads 2 --qd 8 --ios 20000 "$NULL_LU" >"$TEST_DIR/stats.json" ||
	fail "the counted run failed"
ios=$(py "j['ios']" <"$TEST_DIR/stats.json")
after=$(gwcli --json stats | py "sum(l['read_cmds'] + l['write_cmds'] for l in j['luns'] if l['lun'] == 1)")
[ "$ios" = 20000 ] || fail "sangw-bench did $ios I/Os, not 20000"
[ $((after - before)) = 20000 ] || fail "stats counted $((after - before)) reads+writes for 20000 I/Os"

note "a reservation made through one worker stops writes of a live session on the other"
# init1 writes for a while (8 s: long enough for the listing below on a
# loaded machine, where each gwcli + python round takes seconds; its
# session lands on the emptier worker), then
# init2 registers and takes Write Exclusive through a new session, which
# goes to the other worker: init1's later writes get RESERVATION CONFLICT.
bench --json --initiator "$INIT1_IQN" --rw write --qd 4 --time 8 "$PR_LU" \
	>"$TEST_DIR/pr.json" 2>"$TEST_DIR/pr.err" &
BENCH_PID=$!
for ((i = 0; i < 100; i++)); do
	[ "$(gwcli --json sessions | py "len(j['sessions'])")" -ge 1 ] && break
	sleep 0.05
done
w1=$(gwcli --json sessions | py "[s['details']['worker'] for s in j['sessions'] if s['initiator'] == '$INIT1_IQN'][0]") ||
	fail "init1's session is not listed"
testclient --initiator "$INIT2_IQN" pr-register-reserve "$PR_LU" 0x2222 1 ||
	fail "init2 could not register and reserve"
w2=$(grep -o "session of $INIT2_IQN .*worker [0-9]*" "$SANGWD_LOG" | tail -n 1 | grep -o '[0-9]*$')
[ -n "$w2" ] || fail "init2's session is not in the log"
[ "$w2" != "$w1" ] || fail "init2's session went to init1's worker $w1"
wait "$BENCH_PID" && fail "init1 kept writing under init2's Write Exclusive reservation"
errors=$(py "j['errors']" <"$TEST_DIR/pr.json") || { cat "$TEST_DIR/pr.err" >&2; fail "no report from init1's run"; }
[ "$errors" -gt 0 ] || fail "init1 saw no error under the reservation"
grep -qi "conflict" "$TEST_DIR/pr.err" || { cat "$TEST_DIR/pr.err" >&2; fail "init1's errors are not reservation conflicts"; }
note "init1 (worker $w1): $errors writes refused after init2 (worker $w2) reserved"
testclient --quiet pr-show "$PR_LU" | grep -q "reservation 0x2222 type 1" || fail "the reservation is not reported"

note "a capacity change made by the admin reaches a session on a busy worker pair"
bench --rw read --qd 2 --time 3 "$NULL_LU" >/dev/null 2>&1 &
BENCH_PID=$!
testclient capacity-changed "$FILE_LU" --expect-blocks 262144 \
	--exec "$GWCLI --socket $MGMT_SOCK lun resize $TARGET_IQN 0 128M" ||
	fail "no CAPACITY DATA HAS CHANGED after a resize"
wait "$BENCH_PID" || fail "the background reader failed"
stop_sangwd

note "--workers 1: the same verified mix"
start_sangwd --workers 1 "${ARGS[@]}"
grep -q "1 worker threads started" "$SANGWD_LOG" || fail "sangwd did not start 1 worker"
bench --json --verify --rw mix --sessions 3 --qd 8 --time 2 "$FILE_LU" >"$TEST_DIR/one.json" ||
	fail "verified mix with --workers 1 exited $?"
[ "$(py "j['verify']['mismatches']" <"$TEST_DIR/one.json")" = 0 ] || fail "mismatches with --workers 1"
stop_sangwd
pass
