#!/bin/bash
# Discovery (SendTargets, RFC 7143 Appendix C):
# in demo mode iscsi-ls lists the target; with ACLs an initiator is shown
# only the targets it may access, and cannot log in to the others.
. "$(dirname "$0")/../lib.sh"
need_program iscsi-ls "$TESTCLIENT"

note "demo mode: every initiator sees the target"
start_sangwd --target "$TARGET_IQN" --lun null,size=64M
out=$(timeout 30 iscsi-ls "$(portal_url)" 2>&1) || fail "iscsi-ls $(portal_url) failed: $out"
grep -q "Target:$TARGET_IQN " <<<"$out" || fail "iscsi-ls did not list $TARGET_IQN: $out"
out=$(timeout 30 iscsi-ls -s "$(portal_url)" 2>&1) || fail "iscsi-ls -s failed: $out"
grep -q "Lun:0 .*DIRECT_ACCESS" <<<"$out" || fail "iscsi-ls -s did not show LUN 0 as a disk: $out"
must testclient discover "$(portal_url)" --expect "$TARGET_IQN"
stop_sangwd

note "with ACLs: each initiator sees its own target only"
T2=iqn.2026-11.org.sangw:t2
cat >"$TEST_DIR/sangw.json" <<JSON
{
  "portals": ["$PORTAL"],
  "targets": [
    { "iqn": "$TARGET_IQN",
      "luns": [ { "lun": 0, "backstore": "null", "size": "64M" } ],
      "acls": [ { "initiator": "$INIT1_IQN" } ] },
    { "iqn": "$T2",
      "luns": [ { "lun": 0, "backstore": "null", "size": "64M" } ],
      "acls": [ { "initiator": "$INIT2_IQN" } ] }
  ]
}
JSON
start_sangwd --config "$TEST_DIR/sangw.json"
must testclient discover "$(portal_url)" --initiator "$INIT1_IQN" \
	--expect "$TARGET_IQN" --expect-absent "$T2"
must testclient discover "$(portal_url)" --initiator "$INIT2_IQN" \
	--expect "$T2" --expect-absent "$TARGET_IQN"

# An initiator in no ACL may run discovery but learns nothing.
out=$(testclient discover "$(portal_url)" --initiator "$INIT3_IQN" 2>&1)
rc=$?
assert_alive
if [ $rc -eq 0 ]; then
	grep -q "iqn\." <<<"$out" && fail "discovery as $INIT3_IQN (in no ACL) listed: $out"
fi

# The same through libiscsi's own tool.
out=$(timeout 30 iscsi-ls -i "$INIT1_IQN" "$(portal_url)" 2>&1) || fail "iscsi-ls -i failed: $out"
grep -q "Target:$TARGET_IQN " <<<"$out" || fail "iscsi-ls -i $INIT1_IQN did not list $TARGET_IQN: $out"
grep -q "Target:$T2 " <<<"$out" && fail "iscsi-ls -i $INIT1_IQN listed $T2: $out"

note "ACLs are enforced at login too"
must testclient login "$(iscsi_url "$TARGET_IQN")" --initiator "$INIT1_IQN"
# 11.13.5: 0x0202 authorization failure (0x0203 not found also hides it).
must testclient login-fail "$(iscsi_url "$T2")" --initiator "$INIT1_IQN" --expect-status 0x0202,0x0203
must testclient login-fail "$(iscsi_url "$TARGET_IQN")" --initiator "$INIT3_IQN" --expect-status 0x0202,0x0203
assert_alive
stop_sangwd
pass
