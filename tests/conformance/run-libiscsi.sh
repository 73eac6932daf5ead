#!/bin/bash
# Run libiscsi's conformance suite (iscsi-test-cu) against sangwd and compare
# the outcome with the list of tests expected to pass.
#
# usage: run-libiscsi.sh [--update] [--log FILE] [--timeout SECONDS]
#                        [--expected FILE] [--tgtd [--tgtd-bstype TYPE]]
#
#   --update        write the expected list from this run's real passes
#   --log FILE      where to keep iscsi-test-cu's verbose log
#                   (default $SANGW_BUILD/tests/conformance/libiscsi.log)
#   --timeout S     limit for the whole suite (default 1800)
#   --expected F    the expected list (default tests/conformance/expected-pass.txt)
#   --tgtd          run against tgtd instead, for reference numbers; no
#                   comparison with the expected list
#   --tgtd-bstype T tgtd backing store (default aio, as in design.md's
#                   reference run: 136 real passes, 22 failed, 72 skipped;
#                   rdwr gives 162, 9 and 59)
#   --rbd           the same profiles on rbd LUs: a throw-away Ceph cluster
#                   (tests/ceph/lib.sh), one image per profile; the same
#                   expected list applies
#   --iser ADDR     over iSER (iser:// URLs) to a portal on ADDR, the address
#                   of an RDMA device (tests/cluster/iser-guest.sh runs this
#                   in the QEMU guest over soft-RoCE); the same expected list
#                   except the tests known-iser-defects.txt names: libiscsi's
#                   own iSER code cannot run them, so they are left out
#   --subset "SPEC ..."  over iSER, only the tests under these FAMILY.SUITE
#                   or FAMILY.SUITE.TEST names, in every profile; the
#                   expected list is cut to them (tests/run's short run)
#
# sangwd serves a thin 256 MiB file LU per profile (see PROFILES below:
# the whole ALL family with -d -S and two URLs to the same LU, which
# enables the MultipathIO tests; then the tests that need a removable, a
# write-protected or a 4 KiB-physical-block LU, and SANITIZE with one URL).
# -t ALL runs the 230 tests of the ALL family once (without -t the SCSI,
# iSCSI and LINUX families would repeat most of them).
#
# A test counts as passed only when CUnit said "passed" and no "[SKIPPED]"
# came first: CUnit counts skips as passes (see parse-cunit-log.awk).
# The run fails if a test of the expected list did not pass, if any test
# failed that known-test-defects.txt does not explain, if a test was
# skipped as not implemented, if sangwd died or did not exit 0 on SIGTERM,
# or if the suite produced no results.
TEST_NAME=conformance
. "$(dirname "$0")/../lib.sh"

CONF_DIR=$SRC_TOP/tests/conformance
EXPECTED=$CONF_DIR/expected-pass.txt
LOG=${SANGW_CONFORMANCE_LOG:-$SANGW_BUILD/tests/conformance/libiscsi.log}
SUITE_TIMEOUT=1800
UPDATE=
AGAINST=sangwd
TGTD_BSTYPE=aio
BACKING=file
TRANSPORT=tcp
ISER_ADDR=
ISER_SHIM=
SUBSET=

while [ $# -gt 0 ]; do
	case $1 in
	--update) UPDATE=1 ;;
	--log) LOG=$2; shift ;;
	--timeout) SUITE_TIMEOUT=$2; shift ;;
	--expected) EXPECTED=$2; shift ;;
	--tgtd) AGAINST=tgtd ;;
	--tgtd-bstype) TGTD_BSTYPE=$2; shift ;;
	--rbd) BACKING=rbd ;;
	--iser) TRANSPORT=iser; ISER_ADDR=$2; shift ;;
	--subset) SUBSET=$2; shift ;;
	-h|--help) sed -n '2,20s/^# \{0,1\}//p' "$0"; VERDICT_GIVEN=1; exit 0 ;;
	*) echo "run-libiscsi.sh: unknown option $1" >&2; VERDICT_GIVEN=1; exit 2 ;;
	esac
	shift
done

need_program iscsi-test-cu
SCHEME=iscsi
ISER_DEFECTS=$CONF_DIR/known-iser-defects.txt
if [ $TRANSPORT = iser ]; then
	TEST_NAME=conformance-iser
	SCHEME=iser
	PORTAL=$ISER_ADDR:$PORT
	[ $AGAINST = sangwd ] || fail "--iser runs against sangwd only"
	# libiscsi 1.19 frees an iSER context while its CM thread still runs;
	# the shim joins that thread first (libiscsi-iser-join.c).
	ISER_SHIM=$SANGW_BUILD/tests/conformance/libiscsi-iser-join.so
	[ -f "$ISER_SHIM" ] || fail "$ISER_SHIM is missing (make check TESTS= builds it)"
fi
mkdir -p "$(dirname "$LOG")" || fail "cannot create the folder of $LOG"
if [ $BACKING = rbd ]; then
	TEST_NAME=conformance-rbd
	# shellcheck source=../ceph/lib.sh
	. "$SRC_TOP/tests/ceph/lib.sh"
	ceph_need_tools
	ceph_up
fi
LU_IMG=$TEST_DIR/lu0.img

# --- the target --------------------------------------------------------------

# tgtd: LUN 0 is its controller, the disk is LUN 1; it ignores SIGTERM, so
# it is stopped through tgtadm.
TGTD_PID=
start_tgtd() {
	need_program tgtd tgtadm
	CONTROL_PORT=$((PORT % 900 + 50))            # tgtd wants one below 1000
	make_sparse_file "$LU_IMG" 256M
	tgtd -f --iscsi "portal=$PORTAL" --control-port "$CONTROL_PORT" >/dev/null 2>&1 &
	TGTD_PID=$!
	track_pid "$TGTD_PID"
	tgtd_ready() { tgtadm -C "$CONTROL_PORT" --op show --mode target >/dev/null 2>&1; }
	wait_until "$START_TIMEOUT" tgtd_ready || fail "tgtd did not start (control port $CONTROL_PORT)"
	local a=(tgtadm -C "$CONTROL_PORT" --lld iscsi)
	"${a[@]}" --op new --mode target --tid 1 -T "$TARGET_IQN" &&
	"${a[@]}" --op new --mode logicalunit --tid 1 --lun 1 --bstype "$TGTD_BSTYPE" -b "$LU_IMG" &&
	"${a[@]}" --op bind --mode target --tid 1 -I ALL || fail "cannot configure tgtd"
	wait_until "$START_TIMEOUT" port_listening "$PORT" || fail "tgtd does not listen on $PORTAL"
}

stop_tgtd() {
	tgtadm -C "$CONTROL_PORT" --op delete --mode target --tid 1 --force >/dev/null 2>&1
	tgtadm -C "$CONTROL_PORT" --op delete --mode system --force >/dev/null 2>&1
	wait_pid_exit "$TGTD_PID" 10 || kill -KILL "$TGTD_PID" 2>/dev/null
	wait "$TGTD_PID" 2>/dev/null
}

# --- the suite ---------------------------------------------------------------

# Profiles: the LU each part of the suite needs (SPC-4/SBC-3 behaviour
# differs with removable media, write protection, physical block size) and
# the tests run on it. "full" is the whole ALL family with two URLs (the
# MultipathIO tests) on a thin LU; the others run the tests that "full"
# skips because its LU is not removable / not write-protected / reports
# one logical block per physical block; "sanitize-1path" runs the SANITIZE
# tests with one URL (see known-test-defects.txt for why).
# SANITIZE OVERWRITE is paced (sanitize.c) and Sanitize.Reset expects it still
# running seconds later: that profile uses a 1 GiB LU.
#   name|LU size|extra LU options|iscsi-test-cu flags|URLs|tests (space separated)
PROFILES=(
	"full|256M||-d -S|2|ALL"
	"sanitize-1path|1G||-d -S|1|ALL.Sanitize"
	"removable|256M|,removable=1|-d|2|ALL.PreventAllow ALL.StartStopUnit"
	"readonly|256M|,readonly=1|-d|1|ALL.ReadOnly"
	"physblock|256M|,physblock=4096|-d|1|ALL.CompareAndWrite.InvalidDataOutSize ALL.WriteSame10.UnmapUnaligned ALL.WriteSame10.InvalidDataOutSize ALL.WriteSame16.UnmapUnaligned ALL.WriteSame16.InvalidDataOutSize"
)
[ $AGAINST = tgtd ] && PROFILES=("full|256M||-d|2|ALL")

RESULTS=$TEST_DIR/results.tsv
: >"$RESULTS"
: >"$LOG"
daemon_problem=

# without_iser_defects SPEC...: the same tests as the specs (FAMILY,
# FAMILY.SUITE or FAMILY.SUITE.TEST) less those known-iser-defects.txt
# names; a suite with such a test becomes its other tests, one by one.
without_iser_defects() {
	local all spec suite
	all=$(iscsi-test-cu -l 2>/dev/null)
	for spec in "$@"; do
		if ! grep -v '^#' "$ISER_DEFECTS" | cut -f1 | grep -q "^$spec\(\.\|\$\)"; then
			echo "$spec"
			continue
		fi
		# the suites under spec (or spec itself when it is one)
		for suite in $(awk -F. -v s="$spec" 'index($0, s) == 1 && NF == 2 { print }
			$0 == s && NF == 2 { print }' <<<"$all" | sort -u); do
			if grep -v '^#' "$ISER_DEFECTS" | cut -f1 | grep -q "^$suite\."; then
				awk -F. -v s="$suite." 'index($0, s) == 1 && NF == 3 { print }' <<<"$all" |
					grep -v -x -F -f <(grep -v '^#' "$ISER_DEFECTS" | cut -f1)
			else
				echo "$suite"
			fi
		done
	done
}

# in_subset SPEC...: the specs, one a line; with --subset, the tests under
# them that are also under a SPEC of the subset.
in_subset() {
	if [ -z "$SUBSET" ]; then
		printf '%s\n' "$@"
		return
	fi
	iscsi-test-cu -l 2>/dev/null | awk -F. -v specs="$*" -v subset="$SUBSET" '
		function under(name, list,   n, a, i) {
			n = split(list, a, " ")
			for (i = 1; i <= n; i++)
				if (name == a[i] || index(name, a[i] ".") == 1) return 1
			return 0
		}
		NF == 3 && under($0, specs) && under($0, subset)'
}

# run_iser_tests NAME FLAGS PLOG SPEC...: over iSER, the tests of the specs
# in one iscsi-test-cu process, with the urls array of the caller. A test
# that crashes libiscsi ends that process: the tests that got no verdict
# then run again in a new one (up to 40 rounds: one per crash); the
# crashed test itself keeps its "unfinished" verdict.
run_iser_tests() {
	local name=$1 flags=$2 plog=$3 all wanted pending round rc started
	shift 3
	all=$(iscsi-test-cu -l 2>/dev/null)
	wanted=$(for spec in "$@"; do
		awk -F. -v s="$spec" '$0 == s || index($0, s ".") == 1 { if (NF == 3) print }' <<<"$all"
	done | sort -u)
	for round in $(seq 40); do
		pending=$(awk -v family=ALL -f "$CONF_DIR/parse-cunit-log.awk" "$plog" | cut -f1 |
			sort -u | comm -23 <(echo "$wanted") - | grep . | paste -sd,)
		[ -n "$pending" ] || break
		note "[$name] round $round: $(tr ',' '\n' <<<"$pending" | wc -l) tests in one iscsi-test-cu -v $flags ${urls[*]}"
		started=$(date +%s)
		# shellcheck disable=SC2086
		timeout "$SUITE_TIMEOUT" env LD_PRELOAD="$ISER_SHIM" LIBISCSI_ISER_JOIN_BACKTRACE=1 \
			iscsi-test-cu -t "$pending" -v $flags "${urls[@]}" >>"$plog" 2>&1
		rc=$?
		note "[$name] exited $rc after $(( $(date +%s) - started )) s"
		[ $rc -eq 124 ] && note "[$name] hit the $SUITE_TIMEOUT s limit"
	done
}

# run_profile NAME SIZE LU_OPTIONS FLAGS NURLS TESTS: one daemon, one LU, the tests.
# (JOB_ID: the part of a profile this is, over iSER; see run_iser_jobs.)
JOB_ID=
run_profile() {
	local name=$1 size=$2 lu_opts=$3 flags=$4 nurls=$5 tests=$6 url urls t rc started
	local plog=$TEST_DIR/$name${JOB_ID:+-$JOB_ID}.log
	rm -f "$LU_IMG"
	make_sparse_file "$LU_IMG" "$size"   # exists already: a read-only LU is not created
	if [ $AGAINST = tgtd ]; then
		start_tgtd
		url=iscsi://$PORTAL/$TARGET_IQN/1
	elif [ $BACKING = rbd ]; then
		# A fresh image per profile, made as an admin would for gateways.
		rbd_cmd rm "rbd/conformance-$name" >/dev/null 2>&1
		rbd_image_create "conformance-$name" "$size" || fail "cannot create image conformance-$name"
		start_sangwd --target "$TARGET_IQN" --lun "rbd:rbd/conformance-$name,conf=$CEPH_CONF$lu_opts"
		wait_lus_ready 60
		url=iscsi://$PORTAL/$TARGET_IQN/0
	else
		start_sangwd --target "$TARGET_IQN" --lun "file:$LU_IMG,size=$size,thin=1$lu_opts" \
			${ISER_ADDR:+--listen-iser "$PORTAL"}
		url=$SCHEME://$PORTAL/$TARGET_IQN/0
	fi
	urls=("$url")
	[ "$nurls" = 2 ] && urls+=("$url")
	: >"$plog"
	if [ $TRANSPORT = iser ]; then
		# one process per suite: a crash costs one suite's process,
		# and without the shim libiscsi 1.19 leaked each iSER
		# connection's 256 registered send buffers (64 MiB: one
		# process for a whole profile ran the guest out of memory)
		local specs suite
		specs=$(without_iser_defects $tests)
		for suite in $(cut -d. -f1,2 <<<"$specs" | uniq); do
			# shellcheck disable=SC2046
			run_iser_tests "$name" "$flags" "$plog" $(grep -e "^$suite\$" -e "^$suite\." <<<"$specs")
		done
	else
		for t in $tests; do
			note "[$name] iscsi-test-cu -t $t -v $flags ${urls[*]}"
			started=$(date +%s)
			# shellcheck disable=SC2086
			timeout "$SUITE_TIMEOUT" iscsi-test-cu -t "$t" -v $flags "${urls[@]}" >>"$plog" 2>&1
			rc=$?
			note "[$name] exited $rc after $(( $(date +%s) - started )) s"
			[ $rc -eq 124 ] && note "[$name] hit the $SUITE_TIMEOUT s limit"
		done
	fi
	{ echo "=== profile $name"; cat "$plog"; } >>"$LOG"
	awk -v family=ALL -f "$CONF_DIR/parse-cunit-log.awk" "$plog" |
		awk -F'\t' -v OFS='\t' -v p="$name" '{ $1 = p ":" $1; print }' >>"$RESULTS"

	if [ $AGAINST = tgtd ]; then
		pid_gone "$TGTD_PID" && daemon_problem="tgtd died during the run"
		stop_tgtd
		return
	fi
	if pid_gone "$SANGWD_PID"; then
		wait "$SANGWD_PID"
		daemon_problem="${daemon_problem:+$daemon_problem; }sangwd died during profile $name (exit status $?)"
		SANGWD_PID=
		return
	fi
	# SIGTERM contract: exit 0 (checked here rather than by stop_sangwd
	# so that the summary is still printed).
	kill -TERM "$SANGWD_PID"
	if wait_pid_exit "$SANGWD_PID" "$STOP_TIMEOUT"; then
		wait "$SANGWD_PID"
		rc=$?
		[ $rc -eq 0 ] || daemon_problem="${daemon_problem:+$daemon_problem; }sangwd exited with status $rc after SIGTERM (profile $name)"
	else
		kill -KILL "$SANGWD_PID" 2>/dev/null
		wait "$SANGWD_PID" 2>/dev/null
		daemon_problem="${daemon_problem:+$daemon_problem; }sangwd did not exit within $STOP_TIMEOUT s of SIGTERM (profile $name)"
	fi
	SANGWD_PID=
}

# run_iser_jobs: over iSER, the profiles as ISER_JOBS jobs at a time, each
# with its own sangwd, port, state and LU (so no test sees another job's
# reservations or UAs), "full" cut into ISER_SPLIT parts of whole suites.
# Under TCG most of a test's time is its logins (each test logs in anew,
# and libiscsi 1.19's iSER connect registers 256 buffers): jobs overlap
# those well on the guest's 2 vCPUs. Each job writes its own results,
# log and daemon problem; they are gathered here.
ISER_JOBS=${SANGW_ISER_JOBS:-3}
ISER_SPLIT=${SANGW_ISER_SPLIT:-$ISER_JOBS}
run_iser_jobs() {
	local jobs=() pids=() profile p_name p_size p_opts p_flags p_urls p_tests specs k i
	local range=${SANGW_PORT_RANGE:-3300-3399} low span
	low=${range%-*}
	span=$((${range#*-} - low + 1))
	for profile in "${PROFILES[@]}"; do
		IFS='|' read -r p_name p_size p_opts p_flags p_urls p_tests <<<"$profile"
		# shellcheck disable=SC2046
		specs=$(in_subset $(without_iser_defects $p_tests))
		[ -n "$specs" ] || continue
		if [ "$p_name" = full ]; then
			# whole suites to the part with the fewest tests so far
			for ((k = 0; k < ISER_SPLIT; k++)); do
				jobs+=("$p_name|$p_size|$p_opts|$p_flags|$p_urls|$(iscsi-test-cu -l 2>/dev/null |
					awk -F. -v k=$k -v n="$ISER_SPLIT" '
					NR == FNR { if (NF == 3) { tests[$1 "." $2]++; } next }
					{ suite = $1 "." $2; w = (NF == 3 ? 1 : tests[suite])
					  if (!(suite in part)) { best = 0
						for (i = 1; i < n; i++) if (load[i] < load[best]) best = i
						part[suite] = best }
					  load[part[suite]] += w
					  if (part[suite] == k) print }' - <(echo "$specs") | paste -sd' ')")
			done
		else
			jobs+=("$p_name|$p_size|$p_opts|$p_flags|$p_urls|$(paste -sd' ' <<<"$specs")")
		fi
	done
	for i in "${!jobs[@]}"; do
		[ -n "${jobs[$i]##*|}" ] || continue     # an empty part of "full"
		while [ "${#pids[@]}" -ge "$ISER_JOBS" ]; do
			wait -n "${pids[@]}"
			for k in "${!pids[@]}"; do
				pid_gone "${pids[$k]}" && unset "pids[$k]"
			done
		done
		IFS='|' read -r p_name p_size p_opts p_flags p_urls p_tests <<<"${jobs[$i]}"
		(
			JOB_ID=$i
			PORT=$((low + (PORT - low + i) % span))
			PORTAL=$ISER_ADDR:$PORT
			STATE_DIR=$TEST_DIR/state-$i MGMT_SOCK=$TEST_DIR/mgmt-$i.sock
			SANGWD_LOG=$TEST_DIR/sangwd-$i.log LU_IMG=$TEST_DIR/lu-$i.img
			RESULTS=$TEST_DIR/results-$i.tsv LOG=$TEST_DIR/libiscsi-$i.log
			SANGWD_PID='' daemon_problem='' BACKGROUND_PIDS=()
			trap end_test_processes EXIT
			: >"$RESULTS"
			: >"$LOG"
			note "job $i: profile $p_name on port $PORT: $p_tests"
			run_profile "$p_name" "$p_size" "$p_opts" "$p_flags" "$p_urls" "$p_tests"
			echo "$daemon_problem" >"$TEST_DIR/problem-$i"
		) &
		pids+=($!)
	done
	wait
	for i in "${!jobs[@]}"; do
		[ -n "${jobs[$i]##*|}" ] || continue
		cat "$TEST_DIR/results-$i.tsv" >>"$RESULTS" 2>/dev/null
		cat "$TEST_DIR/libiscsi-$i.log" >>"$LOG" 2>/dev/null
		if [ ! -f "$TEST_DIR/problem-$i" ]; then
			daemon_problem="${daemon_problem:+$daemon_problem; }job $i (${jobs[$i]%%|*}) did not finish (sangwd log: $(tail -n 3 "$TEST_DIR/sangwd-$i.log" 2>/dev/null | tr '\n' ' '))"
		elif [ -s "$TEST_DIR/problem-$i" ]; then
			daemon_problem="${daemon_problem:+$daemon_problem; }$(cat "$TEST_DIR/problem-$i")"
		fi
	done
}

started_all=$(date +%s)
if [ $TRANSPORT = iser ]; then
	run_iser_jobs
else
	for profile in "${PROFILES[@]}"; do
		IFS='|' read -r p_name p_size p_opts p_flags p_urls p_tests <<<"$profile"
		run_profile "$p_name" "$p_size" "$p_opts" "$p_flags" "$p_urls" "$p_tests"
	done
fi
note "all profiles took $(( $(date +%s) - started_all )) s"
URL="$SCHEME://$PORTAL/$TARGET_IQN/*"

# --- results -----------------------------------------------------------------


count() { awk -F'\t' -v o="$1" '$2 == o' "$RESULTS" | wc -l; }
total=$(wc -l <"$RESULTS")
n_passed=$(count passed)
n_skipped=$(count skipped)
n_failed=$(count failed)
n_unfinished=$(count unfinished)
# Skips for features the target lacks, as opposed to skips for the LU's
# configuration (not removable, fully provisioned, no -S ...).
n_skip_missing=$(awk -F'\t' '$2 == "skipped" && tolower($3) ~ /implemented|not supported/' "$RESULTS" | wc -l)

{
	echo "libiscsi conformance against $AGAINST${TGTD_PID:+ (bstype $TGTD_BSTYPE)} on $BACKING LUs ($URL):"
	for profile in "${PROFILES[@]}"; do
		IFS='|' read -r p_name _ _ p_flags p_urls _ <<<"$profile"
		awk -F'\t' -v p="$p_name:" -v f="$p_flags" -v u="$p_urls" '
			index($1, p) == 1 { n++; c[$2]++ }
			END { printf "  %-16s %3d tests (%s, %d URL%s): %d passed, %d skipped, %d failed\n",
				substr(p, 1, length(p) - 1), n, f, u, (u > 1 ? "s" : ""), c["passed"], c["skipped"], c["failed"] }' "$RESULTS"
	done
	echo "  tests run         $total"
	echo "  real passes       $n_passed"
	echo "  skipped           $n_skipped ($n_skip_missing not implemented, $((n_skipped - n_skip_missing)) for other reasons)"
	echo "  failed            $n_failed"
	echo "  unfinished        $n_unfinished"
} >"$TEST_DIR/summary.txt"

[ "$total" -gt 0 ] || { cat "$TEST_DIR/summary.txt" >&2; fail "no test results in $LOG${daemon_problem:+ ($daemon_problem)}"; }

if [ $AGAINST = tgtd ]; then
	cat "$TEST_DIR/summary.txt" >&2
	awk -F'\t' '$2 != "passed" { printf "    %-50s %s %s\n", $1, $2, $3 }' "$RESULTS" >&2
	[ -z "$daemon_problem" ] || fail "$daemon_problem"
	VERDICT_GIVEN=1
	echo "PASS $TEST_NAME (tgtd reference): $n_passed real passes, $n_skipped skipped, $n_failed failed, $n_unfinished unfinished of $total"
	exit 0
fi

if [ -n "$UPDATE" ]; then
	[ -z "$daemon_problem" ] || fail "$daemon_problem; not updating $EXPECTED"
	{
		echo "# libiscsi conformance tests sangwd passes for real (not skipped)."
		echo "# One name a line; written by tests/conformance/run-libiscsi.sh --update."
		awk -F'\t' '$2 == "passed" { print $1 }' "$RESULTS" | sort
	} >"$EXPECTED.new" && mv "$EXPECTED.new" "$EXPECTED" || fail "cannot write $EXPECTED"
	note "wrote $n_passed test names to $EXPECTED"
fi

[ -f "$EXPECTED" ] || { cat "$TEST_DIR/summary.txt" >&2; SANGWD_LOG=; fail "no expected list $EXPECTED (create it with --update)"; }

# Expected tests that did not pass (failed, skipped, unfinished or missing).
grep -v -e '^#' -e '^[[:space:]]*$' "$EXPECTED" | sort -u >"$TEST_DIR/expected.txt"
if [ $TRANSPORT = iser ]; then
	# what libiscsi cannot run over iSER is not expected of sangwd
	grep -v '^#' "$ISER_DEFECTS" | cut -f1 | grep . >"$TEST_DIR/iser-defects.txt"
	awk -F: 'NR == FNR { skip[$0] = 1; next } !($2 in skip)' \
		"$TEST_DIR/iser-defects.txt" "$TEST_DIR/expected.txt" >"$TEST_DIR/expected-iser.txt"
	mv "$TEST_DIR/expected-iser.txt" "$TEST_DIR/expected.txt"
fi
if [ -n "$SUBSET" ]; then
	# only what the subset ran is expected
	awk -F: -v subset="$SUBSET" '{ n = split(subset, a, " ")
		for (i = 1; i <= n; i++) if ($2 == a[i] || index($2, a[i] ".") == 1) { print; next } }' \
		"$TEST_DIR/expected.txt" >"$TEST_DIR/expected-subset.txt"
	mv "$TEST_DIR/expected-subset.txt" "$TEST_DIR/expected.txt"
fi
awk -F'\t' 'NR == FNR { outcome[$1] = $2; reason[$1] = $3; next }
	!($1 in outcome) { printf "    %-50s missing from the log\n", $1; next }
	outcome[$1] != "passed" { printf "    %-50s %s %s\n", $1, outcome[$1], reason[$1] }' \
	"$RESULTS" "$TEST_DIR/expected.txt" >"$TEST_DIR/regressions.txt"
awk -F'\t' 'NR == FNR { expected[$1] = 1; next }
	$2 == "passed" && !($1 in expected) { printf "    %s\n", $1 }' \
	"$TEST_DIR/expected.txt" "$RESULTS" >"$TEST_DIR/new-passes.txt"
n_expected=$(wc -l <"$TEST_DIR/expected.txt")
n_regressions=$(wc -l <"$TEST_DIR/regressions.txt")
n_new=$(wc -l <"$TEST_DIR/new-passes.txt")

{
	cat "$TEST_DIR/summary.txt"
	echo "  expected to pass  $n_expected ($(basename "$EXPECTED"))"
	echo "  regressions       $n_regressions"
	cat "$TEST_DIR/regressions.txt"
	if [ "$n_new" -gt 0 ]; then
		echo "  new passes        $n_new (record them with --update)"
	else
		echo "  new passes        0"
	fi
	cat "$TEST_DIR/new-passes.txt"
	if [ "$n_failed" -gt 0 ]; then
		echo "  failing tests:"
		awk -F'\t' '$2 == "failed" { printf "    %-50s %s\n", $1, $3 }' "$RESULTS"
	fi
	echo "  log: $LOG"
} >&2

# A failure is a failure unless known-test-defects.txt names it with the
# reason (a defect of the test itself, shown to pass under another profile).
KNOWN=$CONF_DIR/known-test-defects.txt
awk -F'\t' 'NR == FNR { if ($0 !~ /^#/ && NF) known[$1] = 1; next }
	$2 == "failed" && !($1 in known) { printf "    %-50s %s\n", $1, $3 }' \
	"$KNOWN" "$RESULTS" >"$TEST_DIR/unexplained.txt"
n_unexplained=$(wc -l <"$TEST_DIR/unexplained.txt")

[ -z "$daemon_problem" ] || fail "$daemon_problem; $n_passed real passes, $n_regressions regressions"
SANGWD_LOG=     # the daemon is fine; its log tail would only bury the list
[ "$n_regressions" -eq 0 ] || fail "$n_regressions expected test(s) did not pass: $(awk '{print $1}' "$TEST_DIR/regressions.txt" | head -n 5 | tr '\n' ' ')"
[ "$n_unexplained" -eq 0 ] || fail "$n_unexplained test(s) failed that known-test-defects.txt does not explain: $(awk '{print $1}' "$TEST_DIR/unexplained.txt" | head -n 5 | tr '\n' ' ')"
[ "$n_skip_missing" -eq 0 ] || fail "$n_skip_missing test(s) skipped as not implemented"
VERDICT_GIVEN=1
echo "PASS $TEST_NAME: $n_passed real passes ($n_expected expected), $n_skipped skipped, $n_failed failed of $total"
exit 0
