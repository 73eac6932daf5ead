#!/bin/bash
# Slow and half-open connections, and more connections than sangwd serves.
# 180 logins that stall (TCP connect and nothing; half a Login Request
# header; a first Login Request answered and no second one) and sessions
# that send READs and never read a byte of the answers: the login timeout
# (--login-timeout) closes the stalled logins; the never-reading sessions
# cost bounded memory (sangwd stops reading their requests while their
# output waits); a good session keeps doing verified I/O with normal
# latency all along. Then --max-connections: logins beyond it are refused
# with status 0x0302 (Out of resources), connections beyond it plus a few
# are closed at once, open files stay bounded, and service resumes.
. "$(dirname "$0")/../lib.sh"
MANYSESS=${MANYSESS:-$SANGW_BUILD/tests/integration/sangw-manysess}
need_program "$MANYSESS" "$TESTCLIENT"
export ASAN_OPTIONS="quarantine_size_mb=8:${ASAN_OPTIONS:-}"
LOGIN_TIMEOUT=10
NOREAD=${SANGW_NOREAD_SESSIONS:-20}   # x 256 KiB READs
STALLS=60                             # of each kind of stalled login

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SANGWD_PID/status"; }
fds() { ls "/proc/$SANGWD_PID/fd" | wc -l; }
ms() { date +%s%3N; }
# good_io LBA: a verified write and read-back on a fresh session (a login
# too); GOOD_MS is the milliseconds it took.
good_io() {
	local t0
	t0=$(ms)
	CLIENT_TIMEOUT=30 testclient write-read "$URL" "$1" 8 >/dev/null 2>"$TEST_DIR/good.err" ||
		{ cat "$TEST_DIR/good.err" >&2; fail "the good session's I/O at LBA $1 failed"; }
	GOOD_MS=$(($(ms) - t0))
}

SANGWD_LOG_LEVEL=info start_sangwd --login-timeout "$LOGIN_TIMEOUT" \
	--target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=64M"
URL=$(iscsi_url "$TARGET_IQN" 0)
grep -q "logins time out after $LOGIN_TIMEOUT s" "$SANGWD_LOG" || fail "--login-timeout is not in effect"
base_ms=0
for i in 1 2 3; do
	good_io $((i * 8))
	[ "$GOOD_MS" -gt "$base_ms" ] && base_ms=$GOOD_MS
done
fds0=$(fds) rss0=$(rss_kb)
note "before: RSS $rss0 kB, $fds0 open files; a good write-read takes up to $base_ms ms"

note "$NOREAD sessions that send READs and never read"
"$MANYSESS" --timeout 60 --wait 30 --blocks 512 stall noread "$NOREAD" "$URL" >"$TEST_DIR/noread.out" 2>"$TEST_DIR/noread.err" &
NOREAD_PID=$!
track_pid $NOREAD_PID
wait_for_line "$TEST_DIR/noread.out" '^(blocked|not blocked)' 40 ||
	fail "noread: no report: $(cat "$TEST_DIR/noread.out" "$TEST_DIR/noread.err")"
note "noread: $(tr '\n' ' ' <"$TEST_DIR/noread.out")"
grep -q "^stalled $NOREAD " "$TEST_DIR/noread.out" || fail "not every never-reading session logged in"
grep -q "^blocked $NOREAD " "$TEST_DIR/noread.out" || fail "sangwd kept reading requests of sessions that do not read"
rss1=$(rss_kb)

note "$((3 * STALLS)) stalled logins"
for kind in connect partial midlogin; do
	"$MANYSESS" --timeout 60 --wait 30 stall "$kind" "$STALLS" "$URL" >"$TEST_DIR/$kind.out" 2>"$TEST_DIR/$kind.err" &
	track_pid $!
	eval "pid_$kind=$!"
done
for kind in connect partial midlogin; do
	wait_for_line "$TEST_DIR/$kind.out" '^stalled' 30 || fail "$kind: the connections did not get in place: $(cat "$TEST_DIR/$kind.err")"
	note "$kind: $(head -n 1 "$TEST_DIR/$kind.out")"
done

# The good session, while every stalled connection exists (the stalled
# logins last $LOGIN_TIMEOUT s: counted again after the good I/O).
worst=0
for i in 1 2 3; do
	good_io $((1000 + i * 8))
	[ "$GOOD_MS" -gt "$worst" ] && worst=$GOOD_MS
done
live=$(ss -Htn state established "( sport = :$PORT )" | wc -l)
note "good session among the stalled connections: worst write-read $worst ms (alone: $base_ms ms); $live stalled connections"
[ "$live" -ge $((3 * STALLS + NOREAD)) ] || fail "only $live stalled connections were left when the good I/O ended"
[ "$worst" -le $((base_ms * 5 + 500)) ] || fail "a good write-read took $worst ms among stalled connections (alone: $base_ms ms)"

# Memory: the never-reading sessions hold what they hold, and no more.
# The READs already taken keep completing for a while after the client
# saw the target stop reading: wait until RSS is steady (two samples half
# a second apart within 2 MB, 30 s at most).
rss_steady() {
	local a b
	a=$(rss_kb)
	sleep 0.5
	b=$(rss_kb)
	[ $((b - a)) -le 2048 ] && [ $((a - b)) -le 2048 ]
}
wait_until 30 rss_steady || fail "RSS did not settle with the never-reading sessions: $(rss_kb) kB"
rss2=$(rss_kb)
note "RSS with the never-reading sessions: $rss1 kB once they were blocked, $rss2 kB once steady (before: $rss0 kB)"
# Per session: 16 MiB of READs in flight (transport_tcp.c) plus one
# command, and what ASan adds.
[ $((rss2 - rss0)) -le $((NOREAD * 32 * 1024)) ] ||
	fail "$NOREAD never-reading sessions cost $((rss2 - rss0)) kB, more than 32 MB each"

note "the login timeout closes the stalled logins"
for kind in connect partial midlogin; do
	eval "wait \$pid_$kind"
	rc=$?
	out=$(tail -n 1 "$TEST_DIR/$kind.out")
	note "$kind: $out"
	[ $rc -eq 0 ] || fail "$kind: not all stalled logins were closed by the target: $out"
	last=$(sed -n 's/.*last \([0-9.]*\) s/\1/p' <<<"$out")
	first=$(sed -n 's/.*first \([0-9.]*\) s.*/\1/p' <<<"$out")
	# Closed by the timeout: not much before it (the connections were
	# made just before "stalled"), and not long after (logins can wait
	# seconds behind a busy worker: docs/reliability.md).
	python3 -c "import sys; sys.exit(not ($last <= $LOGIN_TIMEOUT + 10))" ||
		fail "$kind: the last stalled login was closed after $last s (login timeout $LOGIN_TIMEOUT s)"
	python3 -c "import sys; sys.exit(not ($first >= $LOGIN_TIMEOUT - 2))" ||
		fail "$kind: a stalled login was closed after $first s, before the login timeout ($LOGIN_TIMEOUT s)"
done
# Several seconds later, the never-reading sessions hold no more.
rss3=$(rss_kb)
note "RSS once the stalled logins are closed: $rss3 kB"
[ $((rss3 - rss2)) -le 16384 ] || fail "RSS keeps growing while sessions do not read: $rss2 -> $rss3 kB"
timeouts=$(grep -c "closing connection: login timed out" "$SANGWD_LOG")
[ "$timeouts" -ge $((3 * STALLS)) ] || fail "only $timeouts connections closed for the login timeout, expected $((3 * STALLS))"

note "the never-reading sessions end: memory and open files come back"
kill "$NOREAD_PID"
wait "$NOREAD_PID"
no_conns() { [ "$(fds)" -le "$fds0" ]; }
wait_until 30 no_conns || fail "$(fds) open files after every stalled connection ended, $fds0 before"
good_io 2000
note "after: RSS $(rss_kb) kB, $(fds) open files, a good write-read $GOOD_MS ms"
assert_alive
stop_sangwd

note "--max-connections 20: 30 logins at once"
SANGWD_LOG_LEVEL=info start_sangwd --login-timeout "$LOGIN_TIMEOUT" --max-connections 20 \
	--target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=64M"
fds0=$(fds)
out=$("$MANYSESS" --timeout 60 sessions 30 "$URL" 2>"$TEST_DIR/max.err")
note "$out"
grep -q "sessions 30 logged-in 20 refused 10 io-ok 20 logged-out 20" <<<"$out" ||
	{ cat "$TEST_DIR/max.err" >&2; fail "with --max-connections 20: $out"; }
grep -q "failed (status 0x0302)" "$SANGWD_LOG" || fail "the refusals are not logged with status 0x0302"

note "150 connections that say nothing: open files stay bounded"
"$MANYSESS" --timeout 60 --wait 30 stall connect 150 "$URL" >"$TEST_DIR/flood.out" 2>"$TEST_DIR/flood.err" &
FLOOD_PID=$!
track_pid $FLOOD_PID
wait_for_line "$TEST_DIR/flood.out" '^stalled' 30 || fail "the connection flood did not get in place"
peak=$(fds)
note "$(head -n 1 "$TEST_DIR/flood.out"); sangwd has $peak open files (before: $fds0)"
# 20 served plus 64 kept to refuse logins (fabric/iscsi/conn.c).
[ "$peak" -le $((fds0 + 20 + 64)) ] || fail "$peak open files with 150 idle connections and --max-connections 20"
wait "$FLOOD_PID" || fail "not every connection of the flood was closed: $(tail -n 1 "$TEST_DIR/flood.out")"
note "flood: $(tail -n 1 "$TEST_DIR/flood.out")"
good_io 3000
note "service resumes: a write-read takes $GOOD_MS ms"
assert_alive
stop_sangwd
pass
