#!/bin/bash
# Portals name their transport (TCP or iSER, docs/iser.md) on the command
# line, in the configuration file and through the management API. This
# host has no RDMA device, so every iSER portal here must be refused with a
# reason that names it, while the daemon keeps serving its TCP portals;
# the iSER data path itself is tested in the QEMU guest (tests/cluster/
# iser-guest.sh).
. "$(dirname "$0")/../lib.sh"
need_program "$TESTCLIENT"

addr=${PORTAL%:*}
port=${PORTAL##*:}

# --- the configuration file -------------------------------------------------
write_config() { # portals JSON
	cat >"$TEST_DIR/sangw.json" <<JSON
{ "portals": $1,
  "targets": [ { "iqn": "$TARGET_IQN", "demo_mode": true,
                 "luns": [ { "lun": 0, "backstore": "null", "size": "64M" } ] } ] }
JSON
}
mkdir -p "$STATE_DIR"
write_config "[\"$PORTAL\", {\"portal\": \"$PORTAL\", \"transport\": \"fc\"}]"
start_fails_with 'portals\[1\].transport: unknown transport "fc"' --config "$TEST_DIR/sangw.json"
write_config "[{\"portal\": \"$PORTAL\", \"transport\": \"iser\"}, {\"portal\": \"$PORTAL\", \"transport\": \"iser\"}]"
start_fails_with 'iser portal .* is listed twice' --config "$TEST_DIR/sangw.json"
write_config "[{\"portal\": \"$PORTAL\", \"transport\": \"iser\", \"mtu\": 9000}]"
start_fails_with 'portals\[0\]' --config "$TEST_DIR/sangw.json"
write_config "[{\"transport\": \"iser\"}]"
start_fails_with 'portals\[0\].portal: missing' --config "$TEST_DIR/sangw.json"
# An iSER portal where there is no RDMA device (or no iSER in this build).
write_config "[\"$PORTAL\", {\"portal\": \"$PORTAL\", \"transport\": \"iser\"}]"
start_fails_with "portal $PORTAL.*iser\|iser.*$PORTAL" --config "$TEST_DIR/sangw.json"
start_fails_with "portal $PORTAL.*iser\|iser.*$PORTAL" --listen "$PORTAL" --listen-iser "$PORTAL" --lun null,size=64M
start_fails_with "given twice" --listen "$PORTAL" --listen "$PORTAL" --lun null,size=64M
port_listening "$port" && fail "a refused start left something listening on $PORTAL"

# --- the management API -----------------------------------------------------
# A TCP portal and an iSER one on the same address and port are two
# portals: the TCP one serves, the iSER one is refused for want of RDMA.
write_config "[\"$PORTAL\"]"
start_sangwd --config "$TEST_DIR/sangw.json"
must testclient discover "$(portal_url)" --expect "$TARGET_IQN"
out=$(gwcli portal create "$PORTAL" --iser 2>&1) && fail "gwcli portal create --iser succeeded on a host without RDMA: $out"
echo "$out" | grep -q "iser" || fail "the refusal does not name the transport: $out"
note "refused: $out"
assert_alive
gwcli ls | grep -q "^portals: $PORTAL\$" || fail "the portals changed after a refused iSER portal: $(gwcli ls | head -3)"
# The same through the API, and an unknown transport.
out=$(python3 - "$MGMT_SOCK" "$PORTAL" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"request": "portal_add", "portal": sys.argv[2], "transport": "fc"}) + "\n").encode())
print(s.makefile().readline().strip())
PY
)
echo "$out" | grep -q '"ok": *false.*unknown transport \\"fc\\"' || fail "portal_add with transport fc: $out"
out=$(gwcli portal delete "$PORTAL" --iser 2>&1) && fail "deleting an iSER portal that does not exist succeeded: $out"
echo "$out" | grep -q "no such iser portal" || fail "portal delete --iser: $out"
out=$(gwcli portal create "$PORTAL" 2>&1) && fail "adding the TCP portal twice succeeded: $out"
echo "$out" | grep -q "already listening there (tcp)" || fail "portal create twice: $out"
# The file keeps TCP portals as plain strings (what earlier versions wrote).
second=$(pick_free_port)
must gwcli portal create "$addr:$second"
python3 - "$TEST_DIR/sangw.json" "$PORTAL" "$addr:$second" <<'PY' || fail "the written configuration's portals are not plain strings"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["portals"] == sys.argv[2:], doc["portals"]
PY
must testclient discover "iscsi://$addr:$second" --expect "$TARGET_IQN"
must gwcli portal delete "$addr:$second,tcp"
assert_alive
stop_sangwd
pass
