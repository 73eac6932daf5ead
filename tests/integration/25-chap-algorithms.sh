#!/bin/bash
# CHAP algorithms (RFC 7143 12.1.3; CHAP_A 5 MD5, 6 SHA-1, 7 SHA-256, 8
# SHA3-256) over TCP with our own small client (tests/integration/
# chap_client.py, digests from Python's hashlib): the strongest common one
# is picked, one-way and mutual; the target parameter chap_algorithms
# (set through gwcli) restricts them, and so does the discovery sessions'
# own (gwcli param set --discovery); libiscsi's MD5 CHAP keeps working.
# Then the failed-login back-off: LOGIN_BACKOFF_THRESHOLD (5) wrong
# secrets lock the initiator out of the portal (0x0201 even with the right
# secret) until the lockout (2 s) ends. Last, sangwd's log (debug level)
# must contain none of the secrets used.
. "$(dirname "$0")/../lib.sh"
need_program python3 "$TESTCLIENT"
CLIENT="$TESTS_DIR/integration/chap_client.py"
python3 -c 'import hashlib; hashlib.new("sha3_256")' 2>/dev/null || skip "python3 has no sha3_256"

SECRET1=Ini1-s3cret-xyzzy
SECRET2=Ini2-s3cret-plugh
TSECRET=Tgt2-s3cret-frotz
WRONG=Wr0ng-s3cret-gnusto
DSECRET=Disc-s3cret-zork1
cat >"$TEST_DIR/sangw.json" <<JSON
{
  "portals": ["$PORTAL"],
  "discovery": { "auth": true, "chap": { "user": "disc", "secret": "$DSECRET" } },
  "targets": [
    { "iqn": "$TARGET_IQN",
      "luns": [ { "lun": 0, "backstore": "null", "size": "64M" } ],
      "acls": [
        { "initiator": "$INIT1_IQN", "chap": { "user": "u1", "secret": "$SECRET1" } },
        { "initiator": "$INIT2_IQN", "chap": { "user": "u2", "secret": "$SECRET2" },
          "mutual_chap": { "user": "tgt2", "secret": "$TSECRET" } }
      ] }
  ]
}
JSON
start_sangwd --config "$TEST_DIR/sangw.json"
wait_mgmt_socket

chap() {   # chap ALGORITHMS EXPECTED_ALGORITHM [more chap_client.py options]
	local algs=$1 want=$2 out
	shift 2
	out=$(timeout 60 python3 "$CLIENT" "$PORTAL" "$TARGET_IQN" --algorithms "$algs" \
		--expect-algorithm "$want" "$@" 2>&1) ||
		fail "CHAP_A=$algs (want $want, $*): $out"
}
one_way=(--initiator "$INIT1_IQN" --user u1 --secret "$SECRET1")
mutual=(--initiator "$INIT2_IQN" --user u2 --secret "$SECRET2" --target-user tgt2 --target-secret "$TSECRET")

note "the strongest algorithm both sides offer, one-way and mutual"
chap 5,6,7,8 8 "${one_way[@]}"
chap 5,7 7 "${one_way[@]}"
chap 7,5,6 7 "${one_way[@]}"
chap 6,5 6 "${one_way[@]}"
chap 5 5 "${one_way[@]}"
chap 5,6,7,8 8 "${mutual[@]}"
chap 7 7 "${mutual[@]}"
chap 6 6 "${mutual[@]}"
chap 5 5 "${mutual[@]}"
must testclient login "$(iscsi_url)" --initiator "$INIT1_IQN" --user u1 --password "$SECRET1"
must testclient login "$(iscsi_url)" --initiator "$INIT2_IQN" --user u2 --password "$SECRET2" \
	--target-user tgt2 --target-password "$TSECRET"

note "chap_algorithms restricts them (gwcli param set)"
must gwcli param set "$TARGET_IQN" chap_algorithms sha256,sha3-256
gwcli --json ls | python3 -c '
import json, sys
t = json.load(sys.stdin)["targets"][0]
assert t["params"]["chap_algorithms"] == ["sha256", "sha3-256"], t["params"]' ||
	fail "gwcli --json ls does not show chap_algorithms [sha256, sha3-256]"
chap 5,6 0 "${one_way[@]}" --expect-status 0x0201
chap 5,7 7 "${one_way[@]}"
chap 5,6,7,8 8 "${mutual[@]}"
# libiscsi offers MD5 only: now refused.
must testclient login-fail "$(iscsi_url)" --initiator "$INIT1_IQN" --user u1 --password "$SECRET1" \
	--expect-status 0x0201
must_fail gwcli param set "$TARGET_IQN" chap_algorithms sha512
must_fail gwcli param set "$TARGET_IQN" chap_algorithms ""
must gwcli param set "$TARGET_IQN" chap_algorithms md5,sha1,sha256,sha3-256
must testclient login "$(iscsi_url)" --initiator "$INIT1_IQN" --user u1 --password "$SECRET1"
# Discovery sessions have their own list (libiscsi: MD5).
must testclient discover "$(portal_url)" --initiator "$INIT1_IQN" --user disc --password "$DSECRET" \
	--expect "$TARGET_IQN"
must gwcli param set --discovery chap_algorithms sha256
gwcli --json ls | python3 -c '
import json, sys
d = json.load(sys.stdin)["discovery"]
assert d["chap_algorithms"] == ["sha256"], d' || fail "gwcli --json ls does not show discovery chap_algorithms [sha256]"
must_fail testclient discover "$(portal_url)" --initiator "$INIT1_IQN" --user disc --password "$DSECRET"
grep -q "(discovery)' failed (status 0x0201): no CHAP algorithm offered" "$SANGWD_LOG" ||
	fail "the discovery login was not refused for its algorithm"
must_fail gwcli param set --discovery queue_depth 4
must gwcli param set --discovery chap_algorithms md5,sha256
must testclient discover "$(portal_url)" --initiator "$INIT1_IQN" --user disc --password "$DSECRET" \
	--expect "$TARGET_IQN"
assert_alive

note "failed-login back-off"
# Five wrong answers in a row (one client process: quicker than the lockout).
chap 7 7 --initiator "$INIT1_IQN" --user u1 --secret "$WRONG" --expect-status 0x0201 --attempts 5
# Locked out: the right secret is refused too, before any challenge.
must testclient login-fail "$(iscsi_url)" --initiator "$INIT1_IQN" --user u1 --password "$SECRET1" \
	--expect-status 0x0201
grep -q "failed (status 0x0201): too many failed CHAP logins to portal $PORTAL" "$SANGWD_LOG" ||
	fail "the login with the right secret was not refused for the lockout"
grep -q "repeated CHAP failures from '$INIT1_IQN' to portal $PORTAL" "$SANGWD_LOG" ||
	fail "the lockout was not logged"
# Another initiator on the same portal is not affected.
chap 7 7 "${mutual[@]}"
# The lockout (5 s) ends: the right secret works again and resets the count.
wait_until 20 testclient login "$(iscsi_url)" --initiator "$INIT1_IQN" --user u1 \
	--password "$SECRET1" 2>/dev/null || fail "the right secret still refused after the lockout"
chap 7 7 --initiator "$INIT1_IQN" --user u1 --secret "$WRONG" --expect-status 0x0201
chap 7 7 "${one_way[@]}"
assert_alive

note "secrets never logged"
must gwcli chap set "$TARGET_IQN" "$INIT1_IQN" u3 Ini3-s3cret-xyzzy --mutual tgt3 Tgt3-s3cret-frotz
chap 7,8 8 --initiator "$INIT1_IQN" --user u3 --secret Ini3-s3cret-xyzzy --target-user tgt3 --target-secret Tgt3-s3cret-frotz
stop_sangwd
for s in "$SECRET1" "$SECRET2" "$TSECRET" "$WRONG" "$DSECRET" Ini3-s3cret-xyzzy Tgt3-s3cret-frotz s3cret; do
	grep -n -- "$s" "$SANGWD_LOG" >&2 && fail "sangwd logged a secret ($s)"
done
pass
