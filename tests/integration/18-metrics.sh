#!/bin/bash
# The Prometheus endpoint (sangwd --metrics, docs/metrics.md): scraped
# with curl while sangw-bench runs and after, every page passes
# `promtool check metrics`; the counters move by exactly the I/O done
# (commands, bytes, histogram counts), agree with gwcli stats, and the
# sessions, ALUA, PR, cluster and configuration metrics show what gwcli
# and the initiators did. Other paths answer 404, other methods 405, a
# malformed request is refused, and sangwd keeps serving I/O and the
# management API throughout. A port in use and a bad address are clear
# start-up errors, and without --metrics sangwd listens on nothing more.
. "$(dirname "$0")/../lib.sh"
BENCH=${SANGW_BENCH:-$SANGW_BUILD/sangw-bench}
need_program "$BENCH" "$TESTCLIENT" curl promtool

# A second free port, for the endpoint (pick_free_port may return $PORT
# itself while nothing listens there yet).
MPORT=
for _ in 1 2 3 4 5 6 7 8 9 10; do
	MPORT=$(pick_free_port) || fail "no free port for the metrics endpoint"
	[ "$MPORT" != "$PORT" ] && break
done
[ "$MPORT" != "$PORT" ] || fail "no second free port"
URL=http://127.0.0.1:$MPORT/metrics

start_sangwd --workers 2 --target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=64M" \
	--lun "null,size=32M" --metrics "127.0.0.1:$MPORT"
FILE_LU=$(iscsi_url "$TARGET_IQN" 0)
NULL_LU=$(iscsi_url "$TARGET_IQN" 1)
L0="target=\"$TARGET_IQN\",lun=\"0\""
L1="target=\"$TARGET_IQN\",lun=\"1\""

# scrape NAME: GET the page into $TEST_DIR/NAME.prom; it must be a 200 in
# the 0.0.4 text format and pass promtool.
scrape() {
	local code
	code=$(curl -sS --max-time 10 -D "$TEST_DIR/$1.headers" -o "$TEST_DIR/$1.prom" -w '%{http_code}' "$URL") ||
		fail "scrape $1: curl failed"
	[ "$code" = 200 ] || fail "scrape $1: HTTP $code"
	grep -qi '^Content-Type: text/plain; version=0.0.4' "$TEST_DIR/$1.headers" ||
		fail "scrape $1: not the 0.0.4 text format: $(grep -i content-type "$TEST_DIR/$1.headers")"
	promtool check metrics <"$TEST_DIR/$1.prom" >"$TEST_DIR/$1.promtool" 2>&1 ||
		fail "scrape $1: promtool check metrics: $(head -5 "$TEST_DIR/$1.promtool")"
}

# value NAME SERIES: the sample of SERIES (name{labels} as printed) in scrape NAME.
value() {
	local v
	v=$(awk -v k="$2" '$1 == k { print $2; exit }' "$TEST_DIR/$1.prom")
	[ -n "$v" ] || fail "scrape $1 has no sample $2"
	echo "$v"
}

# expect NAME SERIES VALUE
expect() {
	local v
	v=$(value "$1" "$2") || exit 1
	[ "$v" = "$3" ] || fail "scrape $1: $2 is $v, expected $3"
}

# delta BEFORE AFTER SERIES: how far SERIES moved between two scrapes.
delta() {
	local a b
	a=$(value "$1" "$3") || exit 1
	b=$(value "$2" "$3") || exit 1
	echo $((b - a))
}

expect_delta() { # BEFORE AFTER SERIES N
	local d
	d=$(delta "$1" "$2" "$3") || exit 1
	[ "$d" = "$4" ] || fail "$3 moved by $d between scrapes $1 and $2, expected $4"
}

# wd: the write histogram's count of LU 0.
H0W="sangw_lu_command_duration_seconds_count{$L0,op=\"write\"}"
H0R="sangw_lu_command_duration_seconds_count{$L0,op=\"read\"}"

note "a fresh daemon: build info, one node, ready, LUs and ALUA"
scrape start
grep -q "^sangw_build_info{version=\"[0-9.]*\",backstores=\"[a-z ]*file[a-z ]*\"} 1$" "$TEST_DIR/start.prom" ||
	fail "no sangw_build_info: $(grep build_info "$TEST_DIR/start.prom")"
expect start sangw_cluster_node_id 1
expect start sangw_cluster_members 1
expect start 'sangw_cluster_node_up{node="1"}' 1
expect start sangw_cluster_ready 1
expect start sangw_cluster_quorate 1
grep -q '^sangw_cluster_node_info{node="1",name="[^"]*",address="[^"]*"} 1$' "$TEST_DIR/start.prom" ||
	fail "no sangw_cluster_node_info for node 1"
expect start "sangw_lu_size_bytes{$L0}" $((64 * 1024 * 1024))
expect start "sangw_lu_size_bytes{$L1}" $((32 * 1024 * 1024))
expect start "sangw_lu_backing_ready{$L0}" 1
expect start "sangw_alua_port_group_state{$L0,tpg=\"1\",state=\"active-optimized\"}" 1
expect start "sangw_alua_port_group_state{$L0,tpg=\"1\",state=\"standby\"}" 0
expect start "sangw_target_sessions{target=\"$TARGET_IQN\"}" 0
expect start "sangw_lu_commands_total{$L0,op=\"write\"}" 0
expect start "sangw_pr_registrations{$L0}" 0
grep -q '^# TYPE sangw_lu_command_duration_seconds histogram$' "$TEST_DIR/start.prom" ||
	fail "the service time is not a histogram"
[ "$(grep -c "^sangw_lu_command_duration_seconds_bucket{$L0,op=\"read\"," "$TEST_DIR/start.prom")" = 19 ] ||
	fail "the read histogram of LU 0 does not have 19 buckets"

note "404 for other paths, 405 for other methods, HEAD works, bad requests refused"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/")
[ "$code" = 404 ] || fail "GET / answered $code, expected 404"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/metricsx")
[ "$code" = 404 ] || fail "GET /metricsx answered $code, expected 404"
code=$(curl -s -D "$TEST_DIR/post.headers" -o /dev/null -w '%{http_code}' -X POST -d x=1 "$URL")
[ "$code" = 405 ] || fail "POST /metrics answered $code, expected 405"
grep -qi '^Allow: GET, HEAD' "$TEST_DIR/post.headers" || fail "405 without Allow: GET, HEAD"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL")
[ "$code" = 405 ] || fail "DELETE /metrics answered $code, expected 405"
code=$(curl -s -I -o /dev/null -w '%{http_code}' "$URL")
[ "$code" = 200 ] || fail "HEAD /metrics answered $code, expected 200"
reply=$(timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$MPORT"'; printf "GARBAGE\r\n\r\n" >&3; head -c 12 <&3' 2>&1)
case $reply in
"HTTP/1.1 400" | "") ;;      # refused, or closed without an answer
*) fail "a malformed request was answered '$reply'" ;;
esac
scrape after_bad

note "while sangw-bench runs: every scrape is valid, counters only grow, sessions show"
"$BENCH" --quiet --rw mix --sessions 2 --threads 2 --qd 8 --time 4 "$FILE_LU" \
	>"$TEST_DIR/bench-live.log" 2>&1 &
bench_pid=$!
track_pid "$bench_pid"
two_sessions() {
	curl -s --max-time 5 "$URL" | grep -qx "sangw_target_sessions{target=\"$TARGET_IQN\"} 2"
}
wait_until 20 two_sessions || fail "sangw_target_sessions never showed the bench's 2 sessions"
prev=start
for i in 1 2 3 4 5; do
	scrape "live$i"
	for op in read write other; do
		d=$(delta "$prev" "live$i" "sangw_lu_commands_total{$L0,op=\"$op\"}") || exit 1
		[ "$d" -ge 0 ] || fail "sangw_lu_commands_total op=$op went back by $d while I/O ran"
	done
	gwcli --json stats >"$TEST_DIR/live-stats$i.json" || fail "gwcli stats failed while I/O ran and metrics were scraped"
	prev=live$i
	sleep 0.3
done
expect live1 "sangw_portal_sessions{portal=\"$PORTAL\"}" 2
[ "$(value live5 "sangw_lu_commands_total{$L0,op=\"read\"}")" -gt 0 ] || fail "no reads counted while the bench ran"
wait "$bench_pid" || fail "sangw-bench failed while metrics were scraped: $(tail -3 "$TEST_DIR/bench-live.log")"
assert_alive

note "after: exactly the commands and bytes done (300 x 4 KiB writes, 200 x 8 KiB reads)"
wait_until 10 bash -c "! curl -s '$URL' | grep -q '^sangw_target_sessions{target=\"$TARGET_IQN\"} [1-9]'" ||
	fail "the bench's sessions did not end"
scrape quiet
"$BENCH" --quiet --rw write --pattern seq --bs 4k --qd 4 --ios 300 "$FILE_LU" >"$TEST_DIR/bench-w.log" 2>&1 ||
	fail "sangw-bench writes failed: $(tail -3 "$TEST_DIR/bench-w.log")"
scrape writes
expect_delta quiet writes "sangw_lu_commands_total{$L0,op=\"write\"}" 300
expect_delta quiet writes "sangw_lu_bytes_total{$L0,op=\"write\"}" $((300 * 4096))
expect_delta quiet writes "$H0W" 300
expect_delta quiet writes "sangw_lu_command_duration_seconds_bucket{$L0,op=\"write\",le=\"+Inf\"}" 300
expect_delta quiet writes "sangw_lu_commands_total{$L0,op=\"read\"}" 0
expect_delta quiet writes "sangw_lu_bytes_total{$L0,op=\"read\"}" 0
expect_delta quiet writes "sangw_lu_commands_total{$L1,op=\"write\"}" 0
expect writes "sangw_lu_commands_in_flight{$L0}" 0
sum=$(value writes "sangw_lu_command_duration_seconds_sum{$L0,op=\"write\"}")
awk -v s="$sum" 'BEGIN { exit !(s > 0) }' || fail "the write histogram's _sum is $sum"
# Buckets are cumulative: never decreasing, the last one is the count.
grep "^sangw_lu_command_duration_seconds_bucket{$L0,op=\"write\"," "$TEST_DIR/writes.prom" |
	awk '{ if ($2 < last) exit 1; last = $2 }' || fail "the write buckets decrease"

"$BENCH" --quiet --rw read --bs 8k --qd 4 --ios 200 "$NULL_LU" >"$TEST_DIR/bench-r.log" 2>&1 ||
	fail "sangw-bench reads failed: $(tail -3 "$TEST_DIR/bench-r.log")"
scrape reads
expect_delta writes reads "sangw_lu_commands_total{$L1,op=\"read\"}" 200
expect_delta writes reads "sangw_lu_bytes_total{$L1,op=\"read\"}" $((200 * 8192))
expect_delta writes reads "sangw_lu_command_duration_seconds_count{$L1,op=\"read\"}" 200
expect_delta writes reads "sangw_lu_commands_total{$L1,op=\"write\"}" 0
expect_delta writes reads "sangw_lu_commands_total{$L0,op=\"read\"}" 0
expect_delta writes reads "sangw_lu_commands_total{$L0,op=\"write\"}" 0
# A null LU answers a 4 KiB read in far less than 10 s: the +Inf bucket
# alone did not take them.
fast=$(delta writes reads "sangw_lu_command_duration_seconds_bucket{$L1,op=\"read\",le=\"10\"}") || exit 1
[ "$fast" = 200 ] || fail "$fast of 200 null reads fell at or below le=10"

note "the same numbers as gwcli stats"
gwcli --json stats >"$TEST_DIR/stats.json" || fail "gwcli stats failed"
python3 - "$TEST_DIR/stats.json" "$TEST_DIR/reads.prom" <<'EOF' || fail "metrics and gwcli stats disagree"
import json, re, sys
stats = {s["lun"]: s for s in json.load(open(sys.argv[1]))["luns"]}
prom = {}
for line in open(sys.argv[2]):
    m = re.match(r'sangw_lu_(commands|bytes)_total\{target="[^"]*",lun="(\d+)",op="(\w+)"\} (\d+)$', line)
    if m:
        prom[(m.group(1), int(m.group(2)), m.group(3))] = int(m.group(4))
bad = 0
for lun, s in stats.items():
    for kind, op, key in (("commands", "read", "read_cmds"), ("commands", "write", "write_cmds"),
                          ("commands", "other", "other_cmds"), ("bytes", "read", "read_bytes"),
                          ("bytes", "write", "write_bytes")):
        if prom.get((kind, lun, op)) != s[key]:
            print(f"LUN {lun} {kind} {op}: metrics {prom.get((kind, lun, op))}, gwcli {s[key]}", file=sys.stderr)
            bad = 1
sys.exit(bad)
EOF

note "errors, reservations, ALUA and configuration changes show"
scrape before_err
must_fail testclient --quiet verify "$NULL_LU" $((32 * 1024 * 1024 / 512)) 1   # past the end
scrape after_err
d=$(delta before_err after_err "sangw_lu_errors_total{$L1}") || exit 1
[ "$d" -ge 1 ] || fail "a read past the end did not count as an error ($d)"
must testclient pr-register-reserve "$NULL_LU" 0x1234 1     # Write Exclusive: LU 1 is done with writes
scrape pr
expect pr "sangw_pr_registrations{$L1}" 1
expect pr "sangw_pr_reservation_held{$L1}" 1
expect pr "sangw_pr_registrations{$L0}" 0
expect pr "sangw_pr_reservation_held{$L0}" 0
must gwcli alua set "$TARGET_IQN" 1 standby
scrape alua
expect alua "sangw_alua_port_group_state{$L1,tpg=\"1\",state=\"standby\"}" 1
expect alua "sangw_alua_port_group_state{$L1,tpg=\"1\",state=\"active-optimized\"}" 0
expect alua "sangw_alua_port_group_state{$L0,tpg=\"1\",state=\"active-optimized\"}" 1
must gwcli lun create "$TARGET_IQN" null,size=16M --lun 5
scrape config
version=$(gwcli --json version | python3 -c 'import json,sys; print(json.load(sys.stdin)["config_version"])') ||
	fail "gwcli version failed"
[ "$version" -ge 1 ] || fail "the LU creation did not bump the configuration version ($version)"
expect config sangw_config_version "$version"
expect config "sangw_lu_size_bytes{target=\"$TARGET_IQN\",lun=\"5\"}" $((16 * 1024 * 1024))
[ "$(value config sangw_state_version)" -gt "$(value start sangw_state_version)" ] ||
	fail "sangw_state_version did not grow with the changes"

note "sangwd still serves I/O and the management API"
must testclient write-read "$FILE_LU" 4096 8 --initiator "$INIT1_IQN"
must gwcli ls
assert_alive

note "the port in use and a bad address are start-up errors"
other=$TEST_DIR/other
mkdir -p "$other"
PORT2=$(pick_free_port) || fail "no free port"
out=$(timeout 20 "$SANGWD" -f --state-dir "$other" --mgmt-socket "$other/mgmt.sock" --listen "127.0.0.1:$PORT2" \
	--lun null,size=1M --metrics "127.0.0.1:$MPORT" 2>&1)
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "a second sangwd with --metrics on a port in use exited $rc"
grep -q "cannot listen on 127.0.0.1:$MPORT: Address already in use" <<<"$out" ||
	fail "no clear error for the port in use: $out"
for bad in 127.0.0.1 nonsense:9100 127.0.0.1:0 127.0.0.1:70000 '[::1:9100' '[::1]'; do
	out=$(timeout 20 "$SANGWD" -f --state-dir "$other" --mgmt-socket "$other/mgmt.sock" \
		--listen "127.0.0.1:$PORT2" --lun null,size=1M --metrics "$bad" 2>&1)
	rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "--metrics '$bad' was accepted (exit $rc)"
	grep -q "expected ADDR:PORT" <<<"$out" || fail "--metrics '$bad': unclear error: $out"
done
scrape still_serving
stop_sangwd

note "IPv6: [::1]:PORT"
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
	start_sangwd --lun null,size=1M --metrics "[::1]:$MPORT"
	URL="http://[::1]:$MPORT/metrics"
	scrape ipv6
	stop_sangwd
	URL=http://127.0.0.1:$MPORT/metrics
fi

note "without --metrics sangwd listens on its portal only"
start_sangwd --lun null,size=1M
listeners=$(ss -Hltnp 2>/dev/null | grep "pid=$SANGWD_PID,")
[ "$(wc -l <<<"$listeners")" = 1 ] && grep -q "127.0.0.1:$PORT " <<<"$listeners" ||
	fail "sangwd without --metrics listens on more than its portal: $listeners"
port_listening "$MPORT" && fail "something still listens on the metrics port $MPORT"
stop_sangwd
pass
