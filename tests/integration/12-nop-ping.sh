#!/bin/bash
# Target-initiated NOP-In pings detect dead initiators (RFC 7143 11.19):
# with a 1 s ping interval and a 2 s timeout, an initiator that never
# answers is dropped within a few seconds, while one that answers keeps
# its session. The daemon keeps serving afterwards.
. "$(dirname "$0")/../lib.sh"
need_program "$BADPDU" "$TESTCLIENT"

cat >"$TEST_DIR/sangw.json" <<JSON
{
  "portals": ["$PORTAL"],
  "targets": [
    { "iqn": "$TARGET_IQN", "demo_mode": true,
      "params": { "nop_interval": 1, "nop_timeout": 2 },
      "luns": [ { "lun": 0, "backstore": "file", "path": "$TEST_DIR/lu0.img", "size": "16M" } ] }
  ]
}
JSON
start_sangwd --config "$TEST_DIR/sangw.json"
URL=$(iscsi_url "$TARGET_IQN" 0)

timeout 120 "$BADPDU" --only silent-initiator --nop-wait 15000 "$URL" >"$TEST_DIR/badpdu.out" 2>&1
rc=$?
cat "$TEST_DIR/badpdu.out" >&2
grep -q "^PASS silent-initiator" "$TEST_DIR/badpdu.out" || fail "silent-initiator did not pass (badpdu exit $rc)"
assert_alive
must testclient write-read "$URL" 0 16
stop_sangwd
pass
