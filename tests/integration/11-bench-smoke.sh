#!/bin/bash
# The benchmark tools run: sangw-bench drives sangwd with --verify (random
# mix and sequential writes over several sessions and threads) and checks
# every block it wrote, prints valid JSON, catches data that is not what
# was written (a null LU), and refuses bad options; then a tiny
# tools/bench-compare run against sangwd and tgtd prints its table.
# No timing is ever asserted: this machine's numbers are noise here.
. "$(dirname "$0")/../lib.sh"
BENCH=${SANGW_BENCH:-$SANGW_BUILD/sangw-bench}
COMPARE=$SRC_TOP/tools/bench-compare
need_program "$BENCH"

start_sangwd --target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=64M" --lun "null,size=64M"
FILE_LU=$(iscsi_url "$TARGET_IQN" 0)
NULL_LU=$(iscsi_url "$TARGET_IQN" 1)

# bench_json NAME ARGS...: run sangw-bench --json, keep its output in
# $TEST_DIR/NAME.json and its messages in NAME.err; returns its status.
bench_json() {
	local name=$1
	shift
	timeout 60 "$BENCH" --json --quiet "$@" >"$TEST_DIR/$name.json" 2>"$TEST_DIR/$name.err"
}

# json_field NAME KEY: a number or word from that run's flat JSON.
json_field() {
	grep -o "\"$2\": [^,}]*" "$TEST_DIR/$1.json" | head -n 1 | sed 's/^[^:]*: //'
}

show_run() {
	cat "$TEST_DIR/$1.json" "$TEST_DIR/$1.err" >&2
}

note "random 70/30 mix with --verify, 2 sessions on 2 threads, ~2 s"
bench_json mix --verify --rw mix --mix-read 70 --sessions 2 --threads 2 --qd 8 --time 2 "$FILE_LU" ||
	{ show_run mix; fail "sangw-bench --verify mix exited $?"; }
json_ok <"$TEST_DIR/mix.json" || { show_run mix; fail "sangw-bench --json is not valid JSON"; }
[ "$(json_field mix ok)" = true ] || { show_run mix; fail "the mix run is not ok"; }
[ "$(json_field mix mismatches)" = 0 ] || { show_run mix; fail "the mix run found mismatches"; }
[ "$(json_field mix errors)" = 0 ] || { show_run mix; fail "the mix run had I/O errors"; }
[ "$(json_field mix verified_blocks)" -gt 0 ] || { show_run mix; fail "the mix run verified nothing"; }
[ "$(json_field mix writes)" -gt 0 ] && [ "$(json_field mix reads)" -gt 0 ] ||
	{ show_run mix; fail "the mix run did not both read and write"; }
ios=$(json_field mix ios)
[ "$ios" -eq $(($(json_field mix reads) + $(json_field mix writes))) ] ||
	{ show_run mix; fail "ios is not reads + writes"; }

note "sequential 64K writes, then read back, by I/O count"
bench_json seq --verify --rw write --pattern seq --bs 64k --qd 4 --ios 500 "$FILE_LU" ||
	{ show_run seq; fail "sangw-bench --verify seq write exited $?"; }
[ "$(json_field seq ios)" = 500 ] || { show_run seq; fail "--ios 500 did $(json_field seq ios) I/Os"; }
[ "$(json_field seq readback_chunks)" -gt 0 ] || { show_run seq; fail "nothing was read back"; }
[ "$(json_field seq mismatches)" = 0 ] || { show_run seq; fail "the seq run found mismatches"; }

note "the text report has latency percentiles"
out=$(timeout 60 "$BENCH" --quiet --time 1 --qd 4 "$FILE_LU" 2>&1) || fail "sangw-bench read run failed: $out"
echo "$out" >&2
grep -q "p99.9" <<<"$out" || fail "no latency percentiles in the text report"

note "--verify catches a target that does not keep data (null LU reads zeros)"
bench_json null --verify --rw write --ios 64 --qd 4 "$NULL_LU"
rc=$?
[ "$rc" -eq 1 ] || { show_run null; fail "--verify on a null LU exited $rc, expected 1"; }
json_ok <"$TEST_DIR/null.json" || { show_run null; fail "JSON of the failed run is not valid"; }
[ "$(json_field null ok)" = false ] || { show_run null; fail "the null run says ok"; }
[ "$(json_field null mismatches)" -gt 0 ] || { show_run null; fail "no mismatch reported on a null LU"; }
grep -q MISMATCH "$TEST_DIR/null.err" || { show_run null; fail "no MISMATCH message"; }

note "bad options and unreachable targets are usage errors / failures, not crashes"
must_fail timeout 10 "$BENCH" --rw sideways "$FILE_LU"
timeout 10 "$BENCH" --bs 1000 "$FILE_LU" 2>/dev/null
[ $? -eq 2 ] || fail "--bs 1000 did not exit 2"
timeout 10 "$BENCH" --verify --rw read "$FILE_LU" 2>/dev/null
[ $? -eq 2 ] || fail "--verify --rw read did not exit 2"
free_port=$(pick_free_port) || fail "no free port"
out=$(timeout 30 "$BENCH" --time 1 "iscsi://127.0.0.1:$free_port/$TARGET_IQN/0" 2>&1)
[ $? -eq 1 ] || fail "an unreachable portal did not exit 1: $out"
grep -q "cannot connect" <<<"$out" || fail "unclear message for an unreachable portal: $out"
assert_alive
stop_sangwd

if ! command -v tgtd >/dev/null 2>&1 || ! command -v iscsi-perf >/dev/null 2>&1; then
	note "tgtd or iscsi-perf missing: bench-compare not tried"
	pass
fi
note "bench-compare --quick, 1 s per run"
out=$(timeout 300 "$COMPARE" --quick --time 1 --sangwd "$SANGWD" --bench "$BENCH" \
	--out "$TEST_DIR/compare" 2>&1)
rc=$?
echo "$out" >&2
[ $rc -eq 0 ] || fail "bench-compare --quick exited $rc"
grep -q '^| case ' <<<"$out" || fail "bench-compare printed no table"
for c in null-randread-4k-qd32-s1 file-randwrite-4k-qd32-s1; do
	for t in sangwd tgtd; do
		grep -qP "^$c\t$t\t1\t[0-9.]+\t.*\tok$" "$TEST_DIR/compare/results.tsv" ||
			fail "no successful $c run on $t in results.tsv"
	done
done
pass
