#!/bin/bash
# Export and import of the cluster-wide configuration (issue 11): daemon A,
# configured through gwcli (several targets, file and null LUs with sizes,
# thin, readonly and block size, ACLs with LUN maps, target, ACL (one-way
# and mutual) and discovery CHAP, parameters, demo mode) plus an ALUA
# policy from its configuration file, is exported to a file; daemon B,
# started empty with portals of its own, is shown every addition by a dry
# run that changes nothing, then imports the document and exports
# byte-identical text; initiators log in to B with A's CHAP secrets. An
# edited document (an LU added, a parameter changed, an ACL removed) dry
# runs as exactly those three changes; malformed documents are refused
# naming the JSON path and change nothing; B keeps its portals.
. "$(dirname "$0")/../lib.sh"
need_program "$GWCLI" "$TESTCLIENT" python3

T1=iqn.2026-11.org.sangw:exp1
T2=iqn.2026-11.org.sangw:exp2
TA=iqn.2026-11.org.sangw:z-alua

gw() { # ARGS...: gwcli that must succeed
	local out
	out=$(gwcli "$@" 2>&1) || fail "gwcli $* failed: $out"
	note "gwcli $*${out:+ -> $(echo "$out" | head -c 200)}"
}

# --- daemon A ------------------------------------------------------------------
cat >"$TEST_DIR/a.json" <<JSON
{ "portals": ["$PORTAL"],
  "targets": [ { "iqn": "$TA",
                 "luns": [ { "lun": 0, "backstore": "null", "size": "64M",
                             "alua": { "policy": "preferred", "preferred_node": 1,
                                       "others": "standby" } } ] } ] }
JSON
STATE_DIR=$TEST_DIR/state-a
start_sangwd --config "$TEST_DIR/a.json"
wait_mgmt_socket

gw target create "$T1"
gw lun create "$T1" "file:$TEST_DIR/a0.img,size=64M,thin=1"
gw lun create "$T1" "null,size=32M,blocksize=4096,readonly=1"
gw lun create "$T1" "file:$TEST_DIR/a5.img,size=16M" --lun 5
gw acl create "$T1" "$INIT1_IQN" --map 0:0 --map 1:5
gw chap set "$T1" "$INIT1_IQN" u1 secret12345678
gw acl create "$T1" "$INIT2_IQN"
gw chap set "$T1" "$INIT2_IQN" u2 secret2abcdefgh --mutual tgt2 tgtsecret98765
gw param set "$T1" queue_depth 64
gw target create "$T2"
gw lun create "$T2" "null,size=128M"
gw chap set "$T2" tuser tsecret123456
gw param set "$T2" MaxBurstLength 512K
gw param set "$T2" ImmediateData no
gw acl create "$T2" "$INIT3_IQN"
gw chap set --discovery disc discsecret1234

gw export "$TEST_DIR/export-a.json"
[ "$(stat -c %a "$TEST_DIR/export-a.json")" = 600 ] ||
	fail "gwcli export wrote $(stat -c %a "$TEST_DIR/export-a.json"), expected mode 600 (it holds secrets)"
gwcli export >"$TEST_DIR/export-a2.json" || fail "gwcli export to stdout failed"
cmp -s "$TEST_DIR/export-a.json" "$TEST_DIR/export-a2.json" ||
	fail "two exports of one configuration differ: $(diff "$TEST_DIR/export-a.json" "$TEST_DIR/export-a2.json" | head -5)"
python3 - "$TEST_DIR/export-a.json" "$PORTAL" <<'PY' || fail "A's export is not the expected document"
import json, sys
doc = json.load(open(sys.argv[1]))
assert "portals" not in doc, "portals exported"
assert json.dumps(doc).find(sys.argv[2]) < 0, "a portal address in the export"
assert doc["discovery"]["chap"] == {"user": "disc", "secret": "discsecret1234"}, doc["discovery"]
t = {x["iqn"]: x for x in doc["targets"]}
assert [x["iqn"] for x in doc["targets"]] == sorted(t), "targets not in canonical order"
t1, t2, ta = t["iqn.2026-11.org.sangw:exp1"], t["iqn.2026-11.org.sangw:exp2"], t["iqn.2026-11.org.sangw:z-alua"]
assert [l["lun"] for l in t1["luns"]] == [0, 1, 5], t1["luns"]
assert t1["luns"][0]["thin"] is True and t1["luns"][0]["size"] == "64M", t1["luns"][0]
assert t1["luns"][1]["readonly"] is True and t1["luns"][1]["block_size"] == 4096, t1["luns"][1]
acl1 = [a for a in t1["acls"] if a["initiator"].endswith("init1")][0]
assert acl1["lun_map"] == [{"mapped_lun": 0, "lun": 0}, {"mapped_lun": 1, "lun": 5}], acl1
assert acl1["chap"]["secret"] == "secret12345678", acl1
acl2 = [a for a in t1["acls"] if a["initiator"].endswith("init2")][0]
assert acl2["mutual_chap"] == {"user": "tgt2", "secret": "tgtsecret98765"}, acl2
assert t1["params"] == {"queue_depth": 64}, t1["params"]
assert t2["chap"]["secret"] == "tsecret123456" and t2["params"]["MaxBurstLength"] == 524288, t2
assert t2["params"]["ImmediateData"] is False, t2
assert ta["luns"][0]["alua"] == {"policy": "preferred", "preferred_node": 1, "others": "standby"}, ta
PY
stop_sangwd

# --- daemon B: empty, two portals of its own ------------------------------------
PORT2=$(pick_free_port) || fail "no second free port"
[ "$PORT2" != "$PORT" ] || PORT2=$(pick_free_port)
cat >"$TEST_DIR/b.json" <<JSON
{ "portals": ["$PORTAL"] }
JSON
STATE_DIR=$TEST_DIR/state-b
start_sangwd --config "$TEST_DIR/b.json"
wait_mgmt_socket
gw portal create "127.0.0.1:$PORT2"
ls_before=$(gwcli --json ls) || fail "gwcli --json ls failed"

out=$(gwcli import "$TEST_DIR/export-a.json" --dry-run 2>&1) || fail "import --dry-run failed: $out"
note "dry run into the empty B:"$'\n'"$out"
for path in "/targets/$T1" "/targets/$T1/luns/0" "/targets/$T1/luns/1" "/targets/$T1/luns/5" \
	    "/targets/$T1/acls/$INIT1_IQN" "/targets/$T1/acls/$INIT2_IQN" "/targets/$T2" \
	    "/targets/$T2/luns/0" "/targets/$T2/acls/$INIT3_IQN" "/targets/$TA" "/targets/$TA/luns/0"; do
	grep -q -- "^+ $path  " <<<"$out" || fail "the dry run does not add $path: $out"
done
grep -q -- "^+ /targets/$T1/luns/1  null,size=32M,readonly=1,blocksize=4096$" <<<"$out" ||
	fail "the dry run does not describe LUN 1 by its spec: $out"
grep -q -- "^+ /targets/$TA/luns/0  null,size=64M, alua preferred node 1, others standby$" <<<"$out" ||
	fail "the dry run does not show the ALUA policy: $out"
grep -q -- "^~ /discovery  CHAP not required -> required, chap user disc added$" <<<"$out" || fail "the dry run does not set discovery CHAP: $out"
[ "$(tail -n 1 <<<"$out")" = "would add 11, change 1, remove 0" ] ||
	fail "dry run summary: '$(tail -n 1 <<<"$out")', expected 'would add 11, change 1, remove 0'"
[ "$(wc -l <<<"$out")" = 13 ] || fail "the dry run lists $(($(wc -l <<<"$out") - 1)) changes, expected 12"
for secret in secret12345678 secret2abcdefgh tgtsecret98765 tsecret123456 discsecret1234; do
	grep -q "$secret" <<<"$out" && fail "the dry run shows a CHAP secret: $out"
done
[ "$(gwcli --json ls)" = "$ls_before" ] || fail "the dry run changed B's configuration"

out=$(gwcli import "$TEST_DIR/export-a.json" 2>&1) || fail "import failed: $out"
[ "$(tail -n 1 <<<"$out")" = "added 11, changed 1, removed 0 (configuration version 1)" ] ||
	fail "import summary: '$(tail -n 1 <<<"$out")'"
gwcli export >"$TEST_DIR/export-b.json" || fail "gwcli export of B failed"
cmp -s "$TEST_DIR/export-a.json" "$TEST_DIR/export-b.json" ||
	fail "B's export differs from A's: $(diff "$TEST_DIR/export-a.json" "$TEST_DIR/export-b.json" | head -8)"
out=$(gwcli import "$TEST_DIR/export-a.json" 2>&1) || fail "importing the same document again failed: $out"
[ "$out" = "added 0, changed 0, removed 0 (configuration version 1)" ] ||
	fail "importing an equal document changed something: $out"

note "logins to B with A's credentials"
URL=$(iscsi_url "$T1" 0)
must testclient login "$URL" --initiator "$INIT1_IQN" --user u1 --password secret12345678
must testclient login-fail "$URL" --initiator "$INIT1_IQN" --user u1 --password wrongsecret99 \
	--expect-status 0x0201
must testclient login "$URL" --initiator "$INIT2_IQN" --user u2 --password secret2abcdefgh \
	--target-user tgt2 --target-password tgtsecret98765
must_fail testclient login "$URL" --initiator "$INIT2_IQN" --user u2 --password secret2abcdefgh \
	--target-user tgt2 --target-password notthesecret12
luns=$(testclient report-luns "$URL" --initiator "$INIT1_IQN" --user u1 --password secret12345678) ||
	fail "REPORT LUNS through B failed: $luns"
[ "$(echo $luns)" = "0 1" ] || fail "INIT1 sees LUNs '$(echo $luns)' through B, expected its map: 0 1"
must testclient discover "$(portal_url)" --initiator "$INIT1_IQN" --user disc \
	--password discsecret1234 --expect "$T1"
must_fail testclient discover "$(portal_url)" --initiator "$INIT1_IQN"
# The second portal of B is still served.
must testclient login "iscsi://127.0.0.1:$PORT2/$T1/0" --initiator "$INIT1_IQN" --user u1 \
	--password secret12345678
portals=$(gwcli --json ls | python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["portals"])))')
[ "$portals" = "$(printf '%s\n' "$PORTAL" "127.0.0.1:$PORT2" | sort | tr '\n' ' ' | sed 's/ $//')" ] ||
	fail "B's portals after the import: '$portals', expected $PORTAL and 127.0.0.1:$PORT2"
grep -q "127.0.0.1:$PORT2" "$TEST_DIR/b.json" || fail "B's configuration file lost its portal 127.0.0.1:$PORT2"

note "an edited document: an LU added, a parameter changed, an ACL removed"
python3 - "$TEST_DIR/export-b.json" "$TEST_DIR/edited.json" <<'PY' || fail "cannot edit the document"
import json, sys
doc = json.load(open(sys.argv[1]))
t = {x["iqn"]: x for x in doc["targets"]}
t["iqn.2026-11.org.sangw:exp2"]["luns"].append({"lun": 1, "backstore": "null", "size": "16M"})
t["iqn.2026-11.org.sangw:exp1"]["params"]["queue_depth"] = 32
del t["iqn.2026-11.org.sangw:exp2"]["acls"]
json.dump(doc, open(sys.argv[2], "w"))
PY
out=$(gwcli import "$TEST_DIR/edited.json" --dry-run 2>&1) || fail "dry run of the edited document failed: $out"
expected="~ /targets/$T1/params/queue_depth  64 -> 32
- /targets/$T2/acls/$INIT3_IQN  no chap, every LUN
+ /targets/$T2/luns/1  null,size=16M
would add 1, change 1, remove 1"
[ "$out" = "$expected" ] || fail "dry run of the edited document:"$'\n'"$out"$'\n'"expected:"$'\n'"$expected"
out=$(gwcli --json import --dry-run "$TEST_DIR/edited.json") || fail "--json dry run failed"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["ok"] and d["dry_run"] and len(d["diff"]) == 3 and d["summary"] == {"add": 1, "change": 1, "remove": 1}, d' "$out" ||
	fail "--json dry run answer: $out"

note "malformed documents are refused, naming the place"
refused() { # FILE EXPECTED-TEXT
	local out
	out=$(gwcli import "$1" 2>&1) && fail "import of $(basename "$1") succeeded: $out"
	grep -qF -- "$2" <<<"$out" || fail "import of $(basename "$1"): '$out' does not name '$2'"
	note "refused: $out"
}
python3 - "$TEST_DIR/export-b.json" "$TEST_DIR" <<'PY' || fail "cannot write the malformed documents"
import json, sys
src, out = sys.argv[1], sys.argv[2]
doc = json.load(open(src))
doc["targets"][1]["iqn"] = "iqn.20x6-11.org.sangw:bad"
json.dump(doc, open(out + "/bad-iqn.json", "w"))
doc = json.load(open(src))
t = [x for x in doc["targets"] if x["iqn"].endswith("exp1")][0]
t["acls"][0]["lun_map"].append({"mapped_lun": 7, "lun": 9})
json.dump(doc, open(out + "/bad-map.json", "w"))
doc = json.load(open(src))
doc["portals"] = ["127.0.0.1:3260"]
json.dump(doc, open(out + "/portals.json", "w"))
PY
head -c 200 "$TEST_DIR/export-b.json" >"$TEST_DIR/cut.json"
refused "$TEST_DIR/bad-iqn.json" 'targets[1].iqn: "iqn.20x6-11.org.sangw:bad" is not a valid iSCSI name'
refused "$TEST_DIR/bad-map.json" "lun_map: maps LUN 9, which the target does not have"
refused "$TEST_DIR/cut.json" "is not a JSON document"
refused "$TEST_DIR/portals.json" "portals: portals belong to each node"
gwcli export | cmp -s - "$TEST_DIR/export-b.json" || fail "a refused import changed B's configuration"
assert_alive

stop_sangwd
pass
