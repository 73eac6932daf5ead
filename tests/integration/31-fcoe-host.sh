#!/bin/bash
# FCoE VN2VN (docs/fcoe.md) without a guest: two network namespaces joined
# by a veth pair (no IP addresses: FCoE needs none), sangwd --listen-fcoe
# on one end, tests/integration/fcoe-initiator.c on the other. The
# initiator claims an address, logs in (FLOGI in FIP, PLOGI, PRLI), runs
# INQUIRY/TEST UNIT READY/READ CAPACITY/WRITE/READ, a LUN reset and an
# ABTS, sends bad frames (bad CRC, truncated, malformed FIP) that must be
# dropped, checks the target still serves, and logs out. Twice: once with
# the initiator's port name higher (it sends PLOGI), once lower (sangwd
# sends PLOGI, FC-BB-6 7.8.7.5).
. "$(dirname "$0")/../lib.sh"
FCOE_INIT=$SANGW_BUILD/tests/integration/fcoe-initiator
need_program "$FCOE_INIT"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, AF_PACKET)"
command -v ip >/dev/null || skip "no ip(8)"

NS_T=sangw-fct-$$
NS_I=sangw-fci-$$
ip netns add "$NS_T" || skip "cannot create network namespaces"
ip netns add "$NS_I" || { ip netns del "$NS_T"; skip "cannot create network namespaces"; }
cleanup_netns() {
	ip netns del "$NS_T" 2>/dev/null
	ip netns del "$NS_I" 2>/dev/null
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
WRAP=$TEST_DIR/sangwd-in-ns
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS_T" "$SANGWD" >"$WRAP"
chmod +x "$WRAP"
SANGWD=$WRAP
daemon_ready() {
	pid_gone "$SANGWD_PID" && return 2
	port_listening "$PORT"
}
port_listening() {
	ip netns exec "$NS_T" ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

SIZE_MB=32
start_sangwd --target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=${SIZE_MB}M" --listen-fcoe fct0
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

# The management API: the portal as the configuration shows it, removed,
# refused with a bad WWN, added back with a port name of its own (higher
# than the initiator's, so sangwd sends PLOGI again).
wait_mgmt_socket
out=$(gwcli ls 2>&1) || fail "gwcli ls: $out"
grep -q "fct0,fcoe" <<<"$out" || fail "gwcli ls does not show the FCoE portal: $out"
must gwcli portal delete fct0 --fcoe
wait_for_line "$SANGWD_LOG" "fcoe fct0: port .* closed" 5 || fail "the FCoE port was not closed"
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
