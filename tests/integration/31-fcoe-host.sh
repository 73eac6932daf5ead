#!/bin/bash
# FCoE VN2VN (docs/fcoe.md) without a guest: two network namespaces joined
# by a veth pair (no IP addresses: FCoE needs none), sangwd --listen-fcoe
# on one end, tests/integration/fcoe-initiator.c on the other. The
# initiator claims an address, logs in (FLOGI in FIP, PLOGI, PRLI), runs
# INQUIRY/TEST UNIT READY/READ CAPACITY/WRITE/READ, a LUN reset and an
# ABTS, sends bad frames (bad CRC, truncated, malformed FIP) that must be
# dropped, checks the target still serves, and logs out. Twice: once with
# the initiator's port name higher (it sends PLOGI), once lower (sangwd
# sends PLOGI, FC-BB-6 7.8.7.5). Then reads for a few seconds: with
# --workers 2 the nexus is listed on a worker and a worker thread, not the
# control thread, spends the CPU time of the data path.
. "$(dirname "$0")/../lib.sh"
FCOE_INIT=$SANGW_BUILD/tests/integration/fcoe-initiator
need_program "$FCOE_INIT"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, AF_PACKET)"
command -v ip >/dev/null || skip "no ip(8)"

NS_T=sangw-fct-$$
NS_I=sangw-fci-$$
ip netns add "$NS_T" || skip "cannot create network namespaces"
ip netns add "$NS_I" || { ip netns del "$NS_T"; skip "cannot create network namespaces"; }
cleanup_netns() {   # keeps the exit status for lib.sh's cleanup (a FAIL must exit 1)
	local rc=$?
	ip netns del "$NS_T" 2>/dev/null
	ip netns del "$NS_I" 2>/dev/null
	return $rc
}
trap 'cleanup_netns; cleanup' EXIT
ip link add fct0 netns "$NS_T" type veth peer name fci0 netns "$NS_I" || fail "veth pair"
# The target's MAC is fixed so its default port name (0x2000<MAC>) sits
# between the two initiator names used below.
ip -n "$NS_T" link set fct0 address 02:00:00:00:00:10 mtu 2500 up || fail "veth up"
ip -n "$NS_I" link set fci0 address 02:00:00:00:00:20 mtu 2500 up || fail "veth up"
ip -n "$NS_T" link set lo up

# sangwd lives in the target namespace; lib.sh's readiness check looks
# for the TCP portal there.
sangwd_in_netns "$NS_T"

SIZE_MB=32
start_sangwd --workers 2 --target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=${SIZE_MB}M" \
	--listen-fcoe fct0
wait_for_line "$SANGWD_LOG" "VN_Port .* up" 10 || fail "the VN_Port did not come up"
BLOCKS=$((SIZE_MB * 2048))

run_initiator() {   # WWPN what [--expect-denied]
	note "initiator $1 ($2)"
	ip netns exec "$NS_I" timeout 120 "$FCOE_INIT" fci0 "$1" "$BLOCKS" ${3:-} >"$TEST_DIR/init.out" 2>&1
	local rc=$?
	cat "$TEST_DIR/init.out" >&2
	assert_alive
	[ $rc -eq 0 ] || fail "initiator ($2): $(grep '^FAIL' "$TEST_DIR/init.out" || echo "exit status $rc")"
}
run_initiator 0x2fffffffffffff01 "higher port name: it sends PLOGI"
grep -q "PLOGI from" "$SANGWD_LOG" || fail "sangwd did not log the initiator's PLOGI"
run_initiator 0x1000000000000301 "lower port name: sangwd sends PLOGI"
grep -q "PLOGI to .* accepted" "$SANGWD_LOG" || fail "sangwd did not log its own PLOGI"
grep -q "bad CRC\|frame dropped" "$SANGWD_LOG" || fail "no dropped-frame note in the log"

# The data path on a worker (docs/fcoe.md, "Threads"), seen from outside:
# gwcli lists the FCoE nexus on worker 1 or 2, and over 1 MiB reads the
# control thread (the main thread, TID = PID) gains far less CPU time
# than the busiest worker thread; with FCoE on the control thread it
# would be the other way round.
note "1 MiB reads for 6 s: which thread carries them"
py() {
	python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}
cpu_ticks() {   # TID -> utime + stime of that thread of sangwd
	awk '{ print $14 + $15 }' "/proc/$SANGWD_PID/task/$1/stat" 2>/dev/null || echo 0
}
threads_before=$(for t in /proc/"$SANGWD_PID"/task/*; do echo "${t##*/} $(cpu_ticks "${t##*/}")"; done)
ip netns exec "$NS_I" timeout 120 "$FCOE_INIT" fci0 0x2fffffffffffff07 "$BLOCKS" --bench 6,1048576 \
	>"$TEST_DIR/bench.out" 2>&1 &
BENCH_PID=$!
# Logged in (the reads follow at once); a gwcli + python round can take
# seconds on a loaded 2-core machine, hence the 6 s of reads.
wait_for_line "$TEST_DIR/bench.out" "RTV, ADISC, ECHO accepted" 30 ||
	{ cat "$TEST_DIR/bench.out" >&2; fail "the reading initiator did not log in"; }
worker=
while kill -0 "$BENCH_PID" 2>/dev/null; do   # until the reads end
	gwcli --json sessions >"$TEST_DIR/sessions.json" 2>&1 &&
		worker=$(py "[s['details']['worker'] for s in j['sessions']
			if s['details'].get('fabric') == 'fcoe'][0]" <"$TEST_DIR/sessions.json" 2>/dev/null) && break
	sleep 0.1
done
wait "$BENCH_PID" || { cat "$TEST_DIR/bench.out" >&2; fail "the reads failed"; }
cat "$TEST_DIR/bench.out" >&2
[ "$worker" = 1 ] || [ "$worker" = 2 ] ||
	fail "the FCoE nexus is not listed on a worker (worker '$worker'): $(cat "$TEST_DIR/sessions.json")"
read -r ctl busiest < <(for t in /proc/"$SANGWD_PID"/task/*; do
	tid=${t##*/}
	before=$(awk -v t="$tid" '$1 == t { print $2 }' <<<"$threads_before")
	echo "$tid $(( $(cpu_ticks "$tid") - ${before:-0} ))"
done | awk -v p="$SANGWD_PID" '$1 == p { c = $2 } $1 != p && $2 > m { m = $2 } END { print c + 0, m + 0 }')
note "nexus on worker $worker; CPU ticks: control thread $ctl, busiest other thread $busiest"
[ "$busiest" -ge 20 ] || fail "no worker thread did the reads ($busiest ticks)"
[ $((ctl * 4)) -lt "$busiest" ] || fail "the control thread ($ctl ticks) carried the reads, not a worker ($busiest)"

# The management API: the portal as the configuration shows it, removed,
# refused with a bad WWN, added back with a port name of its own (higher
# than the initiator's, so sangwd sends PLOGI again).
wait_mgmt_socket
out=$(gwcli ls 2>&1) || fail "gwcli ls: $out"
grep -q "fct0,fcoe" <<<"$out" || fail "gwcli ls does not show the FCoE portal: $out"
# Deleted under I/O: the port closes with exchanges in flight on a worker;
# the initiator loses its target, sangwd keeps running.
ip netns exec "$NS_I" timeout 120 "$FCOE_INIT" fci0 0x2fffffffffffff08 "$BLOCKS" --bench 30,262144 \
	>"$TEST_DIR/bench2.out" 2>&1 &
BENCH_PID=$!
wait_for_line "$TEST_DIR/bench2.out" "RTV, ADISC, ECHO accepted" 30 ||
	{ cat "$TEST_DIR/bench2.out" >&2; fail "the reading initiator did not log in"; }
must gwcli portal delete fct0 --fcoe
wait_for_line "$SANGWD_LOG" "fcoe fct0: port .* closed" 5 || fail "the FCoE port was not closed"
wait "$BENCH_PID" && fail "the initiator kept reading after its port was deleted"
grep -q "^FAIL: no FCP answer" "$TEST_DIR/bench2.out" || { cat "$TEST_DIR/bench2.out" >&2; fail "the reads ended otherwise"; }
assert_alive
out=$(gwcli portal create fct0 --fcoe --wwpn 0x20zz 2>&1) && fail "a bad WWPN was accepted: $out"
grep -q "world wide name" <<<"$out" || fail "the refusal does not say why: $out"
out=$(gwcli portal create 127.0.0.1:3999 --wwpn 0x2000000000000077 2>&1) && fail "--wwpn on a TCP portal: $out"
must gwcli portal create fct0 --fcoe --wwpn 0x2000000000000077 --wwnn 0x1000000000000077
wait_for_line "$SANGWD_LOG" "VN2VN port wwpn 2000000000000077 wwnn 1000000000000077" 5 ||
	fail "the FCoE port did not come back with the new names"
wait_for_line "$SANGWD_LOG" "VN_Port .* up \(wwpn 2000000000000077" 10 || fail "the new VN_Port did not come up"
run_initiator 0x1000000000000302 "after portal delete/create through gwcli"
stop_sangwd

# From a configuration file: the FCoE portal with its names, an ACL that
# names one FC initiator port by its WWPN; another port is refused.
cat >"$TEST_DIR/sangw.json" <<JSON
{"portals": ["$PORTAL", {"portal": "fct0", "transport": "fcoe", "wwpn": "0x2000000000000088",
                        "target": "$TARGET_IQN"}],
 "targets": [{"iqn": "$TARGET_IQN",
              "luns": [{"lun": 0, "backstore": "file", "path": "$TEST_DIR/lu0.img"}],
              "acls": [{"initiator": "naa.2fffffffffffff05"}]}]}
JSON
start_sangwd --config "$TEST_DIR/sangw.json"
wait_for_line "$SANGWD_LOG" "VN_Port .* up \(wwpn 2000000000000088" 10 || fail "the configured VN_Port did not come up"
run_initiator 0x2fffffffffffff05 "in the ACL"
run_initiator 0x2fffffffffffff06 "in no ACL" --expect-denied
grep -q "naa.2fffffffffffff06 is not in the ACLs" "$SANGWD_LOG" || fail "the refusal was not logged"

stop_sangwd
pass
