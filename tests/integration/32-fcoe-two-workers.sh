#!/bin/bash
# FCoE on the workers (docs/fcoe.md, "Threads"): two initiators on one
# VN2VN port at once. sangwd --workers 2 --listen-fcoe on a bridge in one
# network namespace, two raw initiators (tests/integration/fcoe-initiator
# --bench, FC_IDs of their own) in two others, each reading for 8 s: both
# nexuses are listed, one on each worker, both read without an error
# while the fanout program steers each one's frames to its own worker,
# and sangwd stops cleanly (ASan/UBSan in tests/run).
. "$(dirname "$0")/../lib.sh"
FCOE_INIT=$SANGW_BUILD/tests/integration/fcoe-initiator
need_program "$FCOE_INIT"
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, AF_PACKET)"
command -v ip >/dev/null || skip "no ip(8)"
command -v python3 >/dev/null || skip "no python3"

NS_T=sangw-f2t-$$
NS_1=sangw-f2a-$$
NS_2=sangw-f2b-$$
ip netns add "$NS_T" || skip "cannot create network namespaces"
cleanup_netns() {   # keeps the exit status for lib.sh's cleanup
	local rc=$?
	ip netns del "$NS_T" 2>/dev/null
	ip netns del "$NS_1" 2>/dev/null
	ip netns del "$NS_2" 2>/dev/null
	return $rc
}
trap 'cleanup_netns; cleanup' EXIT
ip netns add "$NS_1" && ip netns add "$NS_2" || fail "network namespaces"
ip -n "$NS_T" link add br0 type bridge || skip "no bridge support"
ip -n "$NS_T" link set br0 address 02:00:00:00:00:10 mtu 2500 up || fail "bridge up"
ip -n "$NS_T" link set lo up
for n in 1 2; do
	ns=NS_$n
	ip link add "fp$n" netns "$NS_T" mtu 2500 type veth peer name fci0 netns "${!ns}" mtu 2500 ||
		fail "veth pair $n"
	ip -n "$NS_T" link set "fp$n" master br0 up || fail "bridge port $n"
	ip -n "${!ns}" link set fci0 address "02:00:00:00:00:2$n" up || fail "veth $n up"
done

sangwd_in_netns "$NS_T"
py() {
	python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}

start_sangwd --workers 2 --target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=64M" --listen-fcoe br0
wait_for_line "$SANGWD_LOG" "VN_Port .* up" 10 || fail "the VN_Port did not come up"

note "two initiators read at once for 8 s"
FCOE_INITIATOR_PORT_ID=0x00be01 ip netns exec "$NS_1" timeout 120 "$FCOE_INIT" fci0 0x2fffffffffffff11 \
	131072 --bench 8,262144 >"$TEST_DIR/i1.out" 2>&1 &
PID1=$!
FCOE_INITIATOR_PORT_ID=0x00be02 ip netns exec "$NS_2" timeout 120 "$FCOE_INIT" fci0 0x2fffffffffffff12 \
	131072 --bench 8,65536 >"$TEST_DIR/i2.out" 2>&1 &
PID2=$!
for f in i1 i2; do
	wait_for_line "$TEST_DIR/$f.out" "RTV, ADISC, ECHO accepted" 30 ||
		{ cat "$TEST_DIR/$f.out" >&2; fail "initiator $f did not log in"; }
done
workers=
while kill -0 "$PID1" 2>/dev/null && kill -0 "$PID2" 2>/dev/null; do
	gwcli --json sessions >"$TEST_DIR/sessions.json" 2>&1 &&
		workers=$(py "' '.join(sorted(str(s['details']['worker']) for s in j['sessions']
			if s['details'].get('fabric') == 'fcoe'))" <"$TEST_DIR/sessions.json" 2>/dev/null)
	[ "$workers" = "1 2" ] && break
	sleep 0.2
done
wait "$PID1" || { cat "$TEST_DIR/i1.out" >&2; fail "initiator 1's reads failed"; }
wait "$PID2" || { cat "$TEST_DIR/i2.out" >&2; fail "initiator 2's reads failed"; }
cat "$TEST_DIR/i1.out" "$TEST_DIR/i2.out" >&2
[ "$workers" = "1 2" ] ||
	fail "the two FCoE nexuses are not one on each worker (workers '$workers'): $(cat "$TEST_DIR/sessions.json")"
note "nexuses on workers $workers"
assert_alive
stop_sangwd
pass
