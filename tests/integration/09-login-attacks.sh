#!/bin/bash
# Login attacks on a target that requires CHAP (RFC 7143 12.1.3, 9.2.1):
# a wrong response, an unknown CHAP name, a missing or malformed CHAP_R, a
# response replayed from an earlier login, AuthMethod=None and a login that
# skips the security stage are all refused; a healthy CHAP session keeps
# working throughout. The raw client is badpdu (its chap-* cases).
. "$(dirname "$0")/../lib.sh"
need_program "$BADPDU"

BADPDU_IQN=iqn.2026-11.org.sangw:badpdu
cat >"$TEST_DIR/sangw.json" <<JSON
{
  "portals": ["$PORTAL"],
  "targets": [
    { "iqn": "$TARGET_IQN",
      "luns": [ { "lun": 0, "backstore": "file", "path": "$TEST_DIR/lu0.img", "size": "16M" } ],
      "acls": [ { "initiator": "$BADPDU_IQN",
                  "chap": { "user": "attacked", "secret": "s3cret-attacked" } } ] }
  ]
}
JSON
start_sangwd --config "$TEST_DIR/sangw.json"

timeout 300 "$BADPDU" --initiator "$BADPDU_IQN" --chap-user attacked --chap-secret s3cret-attacked \
	--only 'chap-*' "$(iscsi_url "$TARGET_IQN" 0)" >"$TEST_DIR/badpdu.out" 2>&1
rc=$?
cat "$TEST_DIR/badpdu.out" >&2
assert_alive
[ $rc -eq 0 ] || fail "$(grep -c '^FAIL' "$TEST_DIR/badpdu.out") case(s) failed: $(grep '^FAIL' "$TEST_DIR/badpdu.out" | cut -d: -f1 | sed 's/^FAIL //' | tr '\n' ' ')"
grep -q '^SKIP' "$TEST_DIR/badpdu.out" && fail "CHAP cases skipped: $(grep '^SKIP' "$TEST_DIR/badpdu.out" | head -n 1)"
stop_sangwd
pass
