#!/bin/bash
# CHAP (RFC 7143 section 12.1.3, RFC 1994): the right secret logs in; a
# wrong secret, no credentials or another initiator's credentials are
# refused with 0x0201 (also through sangw-bench, both engines); mutual CHAP
# authenticates the target too; discovery sessions can require their own
# CHAP credentials.
. "$(dirname "$0")/../lib.sh"
need_program iscsi-ls "$TESTCLIENT"

cat >"$TEST_DIR/sangw.json" <<JSON
{
  "portals": ["$PORTAL"],
  "discovery": { "auth": true, "chap": { "user": "disc", "secret": "discsecret1234" } },
  "targets": [
    { "iqn": "$TARGET_IQN",
      "luns": [ { "lun": 0, "backstore": "null", "size": "64M" } ],
      "acls": [
        { "initiator": "$INIT1_IQN",
          "chap": { "user": "u1", "secret": "secret12345678" } },
        { "initiator": "$INIT2_IQN",
          "chap": { "user": "u2", "secret": "secret2abcdefgh" },
          "mutual_chap": { "user": "tgt2", "secret": "tgtsecret98765" } }
      ] }
  ]
}
JSON
start_sangwd --config "$TEST_DIR/sangw.json"
URL=$(iscsi_url "$TARGET_IQN" 0)

note "one-way CHAP"
must testclient login "$URL" --initiator "$INIT1_IQN" --user u1 --password secret12345678
must testclient tur "$URL" --initiator "$INIT1_IQN" --user u1 --password secret12345678
must testclient login-fail "$URL" --initiator "$INIT1_IQN" --user u1 --password wrongsecret99 \
	--expect-status 0x0201
must testclient login-fail "$URL" --initiator "$INIT1_IQN" --expect-status 0x0201
must testclient login-fail "$URL" --initiator "$INIT1_IQN" --user u2 --password secret2abcdefgh \
	--expect-status 0x0201
# Credentials in the URL, as libiscsi's tools take them.
must testclient login "iscsi://u1%secret12345678@$PORTAL/$TARGET_IQN/0" --initiator "$INIT1_IQN"
assert_alive

note "one-way CHAP with sangw-bench's raw engine (and libiscsi's, alike)"
BENCH=${SANGW_BENCH:-$SANGW_BUILD/sangw-bench}
if [ -x "$BENCH" ]; then
	for engine in raw libiscsi; do
		out=$(timeout 60 "$BENCH" --engine "$engine" --quiet --initiator "$INIT1_IQN" --rw write \
			--verify --ios 200 --qd 4 "iscsi://u1%secret12345678@$PORTAL/$TARGET_IQN/0" 2>&1)
		rc=$?
		# A null LU keeps no data: --verify must find mismatches, which
		# proves the writes and reads went through the CHAP session.
		[ $rc -eq 1 ] && grep -q "VERIFY FAILED" <<<"$out" ||
			fail "--engine $engine with CHAP did not run I/O (exit $rc): $out"
		out=$(timeout 60 "$BENCH" --engine "$engine" --quiet --initiator "$INIT1_IQN" --ios 10 \
			"iscsi://u1%wrongsecret99@$PORTAL/$TARGET_IQN/0" 2>&1)
		[ $? -eq 1 ] || fail "--engine $engine with a wrong CHAP secret did not exit 1: $out"
		grep -qi "authentication fail" <<<"$out" || fail "--engine $engine: unclear wrong-secret message: $out"
		grep -q "wrongsecret99" <<<"$out" && fail "--engine $engine printed the CHAP secret: $out"
	done
	out=$(timeout 60 "$BENCH" --engine raw --quiet --initiator "$INIT1_IQN" --ios 10 "$URL" 2>&1)
	[ $? -eq 1 ] || fail "--engine raw without CHAP credentials did not exit 1: $out"
	assert_alive
else
	note "no sangw-bench: CHAP through it not tried"
fi

note "mutual CHAP"
must testclient login "$URL" --initiator "$INIT2_IQN" --user u2 --password secret2abcdefgh \
	--target-user tgt2 --target-password tgtsecret98765
# The initiator must refuse a target that does not know the mutual secret.
must testclient login-fail "$URL" --initiator "$INIT2_IQN" --user u2 --password secret2abcdefgh \
	--target-user tgt2 --target-password notthesecret12
assert_alive

note "discovery CHAP"
must testclient discover "$(portal_url)" --initiator "$INIT1_IQN" --user disc \
	--password discsecret1234 --expect "$TARGET_IQN"
out=$(timeout 30 iscsi-ls -i "$INIT1_IQN" "$(portal_url disc discsecret1234)" 2>&1) ||
	fail "iscsi-ls with discovery CHAP failed: $out"
grep -q "Target:$TARGET_IQN " <<<"$out" || fail "iscsi-ls with discovery CHAP did not list the target: $out"
must_fail testclient discover "$(portal_url)" --initiator "$INIT1_IQN"
assert_alive
must_fail testclient discover "$(portal_url)" --initiator "$INIT1_IQN" --user disc --password wrongwrong123
assert_alive

stop_sangwd
pass
