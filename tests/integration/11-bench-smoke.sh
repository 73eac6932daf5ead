#!/bin/bash
# The benchmark tools run: sangw-bench drives sangwd with --verify (random
# mix and sequential writes over several sessions and threads) and checks
# every block it wrote, prints valid JSON, catches data that is not what
# was written (a null LU), and refuses bad options. Its raw engine (our own
# initiator, --engine raw) does the same runs plus 1 MiB writes (beyond the
# 256 KiB FirstBurstLength: R2T and Data-Out), and a command the target
# fails (a read-only LU), an unknown LUN and a target that goes away
# surface as exit status 1 and a message, as with libiscsi; against
# tests/integration/fake_target.py (R2T only, small Data-Out, a CmdSN
# window of 4) it answers a NOP-In ping, and a Reject, an Async logout
# request or commands left unanswered end the run with exit status 1.
# Then a tiny
# tools/bench-compare run against sangwd and tgtd (both driven by the raw
# engine) prints its table.
# No timing is ever asserted: this machine's numbers are noise here.
. "$(dirname "$0")/../lib.sh"
BENCH=${SANGW_BENCH:-$SANGW_BUILD/sangw-bench}
COMPARE=$SRC_TOP/tools/bench-compare
need_program "$BENCH"

start_sangwd --target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=64M" --lun "null,size=64M" \
	--lun "null,size=64M,readonly=1"
FILE_LU=$(iscsi_url "$TARGET_IQN" 0)
NULL_LU=$(iscsi_url "$TARGET_IQN" 1)
RO_LU=$(iscsi_url "$TARGET_IQN" 2)

# bench_json NAME ARGS...: run sangw-bench --json, keep its output in
# $TEST_DIR/NAME.json and its messages in NAME.err; returns its status.
bench_json() {
	local name=$1
	shift
	timeout 60 "$BENCH" --json --quiet "$@" >"$TEST_DIR/$name.json" 2>"$TEST_DIR/$name.err"
}

# bench_verified_json NAME WHAT: that --verify run is ok, wrote and checked
# blocks, and found neither I/O errors nor mismatches.
bench_verified_json() {
	json_ok <"$TEST_DIR/$1.json" || { show_run "$1"; fail "$2: --json is not valid JSON"; }
	[ "$(json_field "$1" ok)" = true ] || { show_run "$1"; fail "$2: not ok"; }
	[ "$(json_field "$1" errors)" = 0 ] || { show_run "$1"; fail "$2: I/O errors"; }
	[ "$(json_field "$1" mismatches)" = 0 ] || { show_run "$1"; fail "$2: mismatches"; }
	[ "$(json_field "$1" writes)" -gt 0 ] || { show_run "$1"; fail "$2: wrote nothing"; }
	[ "$(json_field "$1" verified_blocks)" -gt 0 ] || { show_run "$1"; fail "$2: verified nothing"; }
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
note "a command the target fails surfaces: writes to a read-only LU (libiscsi engine)"
bench_json ro-libiscsi --engine libiscsi --rw write --ios 20 --qd 4 "$RO_LU"
rc=$?
[ "$rc" -eq 1 ] || { show_run ro-libiscsi; fail "writes to a read-only LU exited $rc, expected 1"; }
grep -q "WRITE(16) at LBA [0-9]* failed: CHECK CONDITION, DATA PROTECTION, ASC/ASCQ 2700" \
	"$TEST_DIR/ro-libiscsi.err" || { show_run ro-libiscsi; fail "no WRITE PROTECTED message"; }

# --- the raw engine ---------------------------------------------------------

note "raw engine: random 70/30 mix with --verify, 2 sessions on 2 threads, QD 8"
bench_json raw-mix --engine raw --verify --rw mix --mix-read 70 --sessions 2 --threads 2 --qd 8 \
	--time 2 "$FILE_LU" || { show_run raw-mix; fail "raw engine --verify mix exited $?"; }
bench_verified_json raw-mix "the raw mix run"
[ "$(json_field raw-mix reads)" -gt 0 ] || { show_run raw-mix; fail "the raw mix run read nothing"; }
grep -q '"engine": "raw"' "$TEST_DIR/raw-mix.json" || { show_run raw-mix; fail "the JSON does not name the raw engine"; }

note "raw engine: 1 MiB writes (immediate data, unsolicited Data-Out, then R2T), 3 sessions x QD 4"
bench_json raw-big --engine raw --verify --rw write --pattern seq --bs 1M --sessions 3 --qd 4 \
	--ios 120 "$FILE_LU" || { show_run raw-big; fail "raw engine 1 MiB writes exited $?"; }
bench_verified_json raw-big "the raw 1 MiB write run"
[ "$(json_field raw-big readback_chunks)" -gt 0 ] || { show_run raw-big; fail "nothing was read back"; }

note "raw engine: 4K random writes at QD 512, beyond sangwd's CmdSN window of 128 (MaxCmdSN)"
bench_json raw-qd512 --engine raw --verify --rw write --qd 512 --time 1 --io-timeout 10 "$FILE_LU" ||
	{ show_run raw-qd512; fail "raw engine QD 512 writes exited $?"; }
bench_verified_json raw-qd512 "the raw QD 512 run"

note "raw engine: --verify catches the null LU too"
bench_json raw-null --engine raw --verify --rw write --ios 64 --qd 4 "$NULL_LU"
rc=$?
[ "$rc" -eq 1 ] || { show_run raw-null; fail "raw --verify on a null LU exited $rc, expected 1"; }
[ "$(json_field raw-null mismatches)" -gt 0 ] || { show_run raw-null; fail "raw: no mismatch on a null LU"; }

note "raw engine: a command the target fails surfaces like with libiscsi"
bench_json ro-raw --engine raw --rw write --ios 20 --qd 4 "$RO_LU"
rc=$?
[ "$rc" -eq 1 ] || { show_run ro-raw; fail "raw: writes to a read-only LU exited $rc, expected 1"; }
[ "$(json_field ro-raw ok)" = false ] && [ "$(json_field ro-raw errors)" = 20 ] ||
	{ show_run ro-raw; fail "raw: the read-only run does not report 20 errors"; }
grep -q "WRITE(16) at LBA [0-9]* failed: CHECK CONDITION, DATA PROTECTION, ASC/ASCQ 2700" \
	"$TEST_DIR/ro-raw.err" || { show_run ro-raw; fail "raw: no WRITE PROTECTED message"; }
out=$(timeout 30 "$BENCH" --engine raw --quiet --time 1 "$(iscsi_url "$TARGET_IQN" 9)" 2>&1)
[ $? -eq 1 ] || fail "raw: an unknown LUN did not exit 1: $out"
grep -q "READ CAPACITY(16) .* failed: CHECK CONDITION, ILLEGAL_REQUEST, ASC/ASCQ 2500" <<<"$out" ||
	fail "raw: unclear message for an unknown LUN: $out"

note "raw engine: what it cannot do is a usage error naming the libiscsi engine"
out=$(timeout 10 "$BENCH" --engine raw "$FILE_LU?target_user=t&target_password=p" 2>&1)
[ $? -eq 2 ] || fail "raw: URL arguments (mutual CHAP) did not exit 2: $out"
grep -q "engine libiscsi" <<<"$out" || fail "raw: the URL arguments refusal does not name --engine libiscsi: $out"
timeout 10 "$BENCH" --engine raw --header-digest "$FILE_LU" 2>/dev/null
[ $? -eq 2 ] || fail "raw: --header-digest did not exit 2"
timeout 10 "$BENCH" --engine sideways "$FILE_LU" 2>/dev/null
[ $? -eq 2 ] || fail "--engine sideways did not exit 2"
out=$(timeout 30 "$BENCH" --engine raw --time 1 "iscsi://127.0.0.1:$free_port/$TARGET_IQN/0" 2>&1)
[ $? -eq 1 ] || fail "raw: an unreachable portal did not exit 1: $out"
grep -q "cannot connect" <<<"$out" || fail "raw: unclear message for an unreachable portal: $out"
assert_alive

note "raw engine: a target that goes away mid-run is an error (exit 1), not a hang"
"$BENCH" --engine raw --quiet --sessions 2 --qd 8 --time 60 "$NULL_LU" \
	>"$TEST_DIR/drop.out" 2>"$TEST_DIR/drop.err" &
bench_pid=$!
track_pid "$bench_pid"
connections() {
	[ "$(ss -Htn state established "( sport = :$PORT )" | wc -l)" -ge "$1" ]
}
wait_until 20 connections 2 || fail "the raw engine did not connect twice"
stop_sangwd
wait_pid_exit "$bench_pid" 30 || fail "sangw-bench did not end when sangwd stopped"
wait "$bench_pid"
rc=$?
[ $rc -eq 1 ] || { cat "$TEST_DIR/drop.out" "$TEST_DIR/drop.err" >&2; fail "raw: a lost target exited $rc, expected 1"; }
grep -q "connection lost" "$TEST_DIR/drop.err" ||
	{ cat "$TEST_DIR/drop.err" >&2; fail "raw: no 'connection lost' message"; }

# fake_run SCENARIO ARGS...: tests/integration/fake_target.py (a strict
# target: R2T only, 8 KiB Data-Out, a CmdSN window of 4) with SCENARIO,
# driven by the raw engine with --verify and ARGS; sets bench_rc and fake_rc.
fake_run() {
	local scenario=$1 port ready=$TEST_DIR/fake.$1.ready
	shift
	port=$(pick_free_port) || fail "no free port"
	python3 "$SRC_TOP/tests/integration/fake_target.py" --port "$port" --scenario "$scenario" \
		--ready-file "$ready" 2>"$TEST_DIR/fake.$scenario.log" &
	fake_pid=$!
	track_pid "$fake_pid"
	wait_until 20 test -e "$ready" || fail "the fake target did not start"
	timeout 120 "$BENCH" --engine raw --quiet --verify "$@" \
		"iscsi://127.0.0.1:$port/iqn.2026-12.org.sangw:fake/0" \
		>"$TEST_DIR/fake.$scenario.out" 2>"$TEST_DIR/fake.$scenario.err"
	bench_rc=$?
	wait "$fake_pid"
	fake_rc=$?
	cat "$TEST_DIR/fake.$scenario.log" >&2
}
show_fake() {
	cat "$TEST_DIR/fake.$1.out" "$TEST_DIR/fake.$1.err" >&2
}

note "raw engine, fake target: 128 KiB writes through R2T alone, in 8 KiB Data-Out PDUs"
fake_run plain --rw write --bs 128k --qd 2 --ios 50
[ $bench_rc -eq 0 ] || { show_fake plain; fail "raw engine against the fake target exited $bench_rc"; }
[ $fake_rc -eq 0 ] || { show_fake plain; fail "the fake target saw a broken rule (see above)"; }
bench_verified "$TEST_DIR/fake.plain.out" "raw engine, fake target, 128 KiB writes"

note "raw engine, fake target: a NOP-In ping is answered (and QD 8 keeps to a window of 4)"
fake_run nop --rw mix --qd 8 --ios 300
[ $bench_rc -eq 0 ] || { show_fake nop; fail "raw engine with a NOP-In ping exited $bench_rc"; }
[ $fake_rc -eq 0 ] || { show_fake nop; fail "the ping was not answered, or a rule was broken"; }
bench_verified "$TEST_DIR/fake.nop.out" "raw engine, fake target, NOP-In"

note "raw engine, fake target: a Reject and an Async Message asking for a logout end the run, exit 1"
fake_run reject --rw mix --qd 8 --ios 300
[ $bench_rc -eq 1 ] || { show_fake reject; fail "a rejected command exited $bench_rc, expected 1"; }
grep -q "the target rejected a SCSI command (reason 0x09)" "$TEST_DIR/fake.reject.err" ||
	{ show_fake reject; fail "no message for the Reject"; }
fake_run async --rw mix --qd 8 --ios 300
[ $bench_rc -eq 1 ] || { show_fake async; fail "an Async logout request exited $bench_rc, expected 1"; }
grep -q "connection lost: the target requested a logout" "$TEST_DIR/fake.async.err" ||
	{ show_fake async; fail "no message for the Async Message"; }

note "raw engine, fake target: commands that get no answer time out (--io-timeout 2), exit 1"
fake_run silent --rw mix --qd 8 --ios 300 --io-timeout 2
[ $bench_rc -eq 1 ] || { show_fake silent; fail "unanswered commands exited $bench_rc, expected 1"; }
grep -q "failed: timed out (0x1002): a command got no answer in 2 s" "$TEST_DIR/fake.silent.err" ||
	{ show_fake silent; fail "no timeout message"; }

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
grep -q "client .* --engine raw" <<<"$out" || fail "bench-compare did not drive both targets with the raw engine"
for c in null-randread-4k-qd32-s1 file-randwrite-4k-qd32-s1; do
	for t in sangwd tgtd; do
		grep -qP "^$c\t$t\t1\t[0-9.]+\t.*\tok$" "$TEST_DIR/compare/results.tsv" ||
			fail "no successful $c run on $t in results.tsv"
	done
done
pass
