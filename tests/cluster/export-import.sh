#!/bin/bash
# Export and import across the cluster (issue 11): what is configured
# through node 1 exports byte-identically from every node; a document
# imported through node 3 is one change that every node applies (the same
# export everywhere afterwards, initiators served by every node with the
# new CHAP secret and LUN), while each node keeps its own portal; a
# document too large for one cluster operation, or malformed, is refused
# and changes nothing anywhere.
TEST_NAME=cluster-export-import
. "$(dirname "$0")/lib.sh"
need_program "$GWCLI" "$TESTCLIENT" python3

T2=iqn.2026-11.org.sangw:imp

cluster_up 3
lu=$TEST_DIR/shared-lu.img
lu_a=$TEST_DIR/shared-a.img
make_sparse_file "$lu" 64M
make_sparse_file "$lu_a" 32M
for i in 1 2 3; do
	node_start_sangwd "$i" --target "$TARGET_IQN" --lun "file:$lu"
done

gw() { # NODE ARGS...: gwcli on NODE; must succeed
	local out
	out=$(node_gwcli "$@" 2>&1) || fail "gwcli on node $1: '${*:2}' failed: $out"
	note "node $1: gwcli ${*:2}${out:+ -> $(echo "$out" | head -c 300)}"
}

# same_exports WHAT: every node exports what node 1 does (polled briefly:
# a node applies a change when it is delivered there); leaves it in
# $TEST_DIR/export.json.
same_exports() {
	local n
	node_gwcli 1 export >"$TEST_DIR/export.json" || fail "gwcli export on node 1 failed"
	for n in 2 3; do
		wait_until 10 export_equal "$n" ||
			fail "node $n exports differently from node 1 ($1): $(diff "$TEST_DIR/export.json" "$TEST_DIR/export-$n.json" | head -6)"
	done
	note "nodes 1-3 export the same $(wc -c <"$TEST_DIR/export.json") bytes ($1)"
}
# export_equal NODE: NODE's export is node 1's (in $TEST_DIR/export.json).
export_equal() {
	node_gwcli "$1" export >"$TEST_DIR/export-$1.json" &&
		cmp -s "$TEST_DIR/export.json" "$TEST_DIR/export-$1.json"
}

# --- configured through node 1 -----------------------------------------------------
gw 1 target create "$T2"
gw 1 lun create "$T2" "file:$lu_a" --lun 0
gw 1 acl create "$T2" "$INIT1_IQN"
gw 1 chap set "$T2" "$INIT1_IQN" u1 secret12345678
gw 1 param set "$T2" queue_depth 17
same_exports "configured through node 1"
grep -q '"secret": "secret12345678"' "$TEST_DIR/export.json" || fail "the export lacks the ACL's CHAP secret"
grep -q '"portals"' "$TEST_DIR/export.json" && fail "the export has portals"
cp "$TEST_DIR/export.json" "$TEST_DIR/before.json"

# --- an edited document imported through node 3 -----------------------------------
python3 - "$TEST_DIR/before.json" "$TEST_DIR/edited.json" "$T2" "$INIT2_IQN" <<'PY' || fail "cannot edit the document"
import json, sys
doc = json.load(open(sys.argv[1]))
t = [x for x in doc["targets"] if x["iqn"] == sys.argv[3]][0]
t["luns"].append({"lun": 1, "backstore": "null", "size": "16M"})
t["acls"][0]["chap"]["secret"] = "newsecret12345"
t["acls"].append({"initiator": sys.argv[4]})
del t["params"]
json.dump(doc, open(sys.argv[2], "w"))
PY
out=$(node_gwcli 3 import "$TEST_DIR/edited.json" --dry-run 2>&1) || fail "dry run through node 3 failed: $out"
expected="~ /targets/$T2/params/queue_depth  17 -> 128
+ /targets/$T2/luns/1  null,size=16M
~ /targets/$T2/acls/$INIT1_IQN  chap secret of user u1 changed
+ /targets/$T2/acls/$INIT2_IQN  no chap, every LUN
would add 2, change 2, remove 0"
[ "$out" = "$expected" ] || fail "dry run through node 3:"$'\n'"$out"$'\n'"expected:"$'\n'"$expected"
same_exports "after the dry run"
cmp -s "$TEST_DIR/export.json" "$TEST_DIR/before.json" || fail "the dry run changed the configuration"

version_before=$(node_gwcli 1 --json version | python3 -c 'import json,sys; print(json.load(sys.stdin)["config_version"])')
out=$(node_gwcli 3 import "$TEST_DIR/edited.json" 2>&1) || fail "import through node 3 failed: $out"
[[ "$(tail -n 1 <<<"$out")" == "added 2, changed 2, removed 0 (configuration version "* ]] ||
	fail "import summary: $out"
same_exports "imported through node 3"
python3 - "$TEST_DIR/export.json" "$T2" <<'PY' || fail "the imported configuration is not the document"
import json, sys
t = [x for x in json.load(open(sys.argv[1]))["targets"] if x["iqn"] == sys.argv[2]][0]
assert [l["lun"] for l in t["luns"]] == [0, 1], t["luns"]
assert "params" not in t, t
assert t["acls"][0]["chap"]["secret"] == "newsecret12345", t["acls"]
assert len(t["acls"]) == 2, t["acls"]
PY
# One operation: every node's configuration version moved by one.
for i in 1 2 3; do
	v=$(node_gwcli "$i" --json version | python3 -c 'import json,sys; print(json.load(sys.stdin)["config_version"])')
	[ "$v" = $((version_before + 1)) ] ||
		fail "node $i is at configuration version $v, expected $((version_before + 1)) (one change)"
done

for i in 1 2 3; do
	luns=$(client_exec timeout 60 "$TESTCLIENT" --quiet --initiator "$INIT1_IQN" --user u1 \
		--password newsecret12345 report-luns "$(node_url "$i" "$T2")") ||
		fail "$INIT1_IQN with the imported secret cannot use $T2 through node $i"
	[ "$(echo $luns)" = "0 1" ] || fail "REPORT LUNS through node $i shows '$(echo $luns)', expected 0 1"
	client_exec timeout 60 "$TESTCLIENT" --quiet --initiator "$INIT1_IQN" --user u1 \
		--password secret12345678 login-fail "$(node_url "$i" "$T2")" --expect-status 0x0201 ||
		fail "node $i still accepts the old CHAP secret"
	portals=$(node_gwcli "$i" --json ls | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["portals"]))')
	[ "$portals" = "$(node_portal "$i")" ] || fail "node $i listens on '$portals' after the import, expected $(node_portal "$i")"
done
note "nodes 1-3 serve LUNs 0 and 1 with the imported secret and keep their own portals"

# --- refused documents change nothing anywhere -------------------------------------
# big_doc N FILE IQN: the current export plus target IQN with N ACLs with CHAP.
big_doc() {
	python3 - "$TEST_DIR/export.json" "$1" "$2" "$3" <<'PY' || fail "cannot write the documents"
import json, sys
doc = json.load(open(sys.argv[1]))
doc["targets"].append({"iqn": sys.argv[4],
                       "acls": [{"initiator": "iqn.2026-11.org.example:host%04d" % i,
                                 "chap": {"user": "host%04d" % i, "secret": "secret-of-host-%04d" % i}}
                                for i in range(int(sys.argv[2]))]})
json.dump(doc, open(sys.argv[3], "w"))
PY
}
# ~100 KB, several times the 64 KiB a cluster operation used to carry:
# one operation, applied by every node.
big_doc 800 "$TEST_DIR/medium.json" iqn.2026-11.org.sangw:medium
[ "$(wc -c <"$TEST_DIR/medium.json")" -gt 65536 ] || fail "the medium document is not larger than 64 KiB"
gw 2 import "$TEST_DIR/medium.json"
same_exports "after importing $(wc -c <"$TEST_DIR/medium.json") bytes through node 2"
[ "$(grep -o 'iqn.2026-11.org.example:host' "$TEST_DIR/export.json" | wc -l)" -eq 800 ] ||
	fail "the 800 imported ACLs are not in the export"
# Over CLUSTER_OP_MAX (256 KiB): refused before anything changes.
big_doc 3000 "$TEST_DIR/large.json" iqn.2026-11.org.sangw:large
python3 - "$TEST_DIR/export.json" "$TEST_DIR/bad.json" <<'PY' || fail "cannot write the documents"
import json, sys
doc = json.load(open(sys.argv[1]))
doc["targets"][0]["luns"][0]["size"] = "12Q"
json.dump(doc, open(sys.argv[2], "w"))
PY
[ "$(wc -c <"$TEST_DIR/large.json")" -gt 262144 ] || fail "the large document is not larger than 256 KiB"
out=$(node_gwcli 2 import "$TEST_DIR/large.json" 2>&1) && fail "a document of $(wc -c <"$TEST_DIR/large.json") bytes was imported: $out"
grep -q "larger than one cluster operation" <<<"$out" || fail "the large import's error does not say why: $out"
note "refused: $out"
out=$(node_gwcli 2 import "$TEST_DIR/bad.json" 2>&1) && fail "a document with a bad size was imported: $out"
grep -q 'targets\[0\].luns\[0\].size: "12Q" is not a size' <<<"$out" || fail "the error does not name the path: $out"
cp "$TEST_DIR/export.json" "$TEST_DIR/after.json"
same_exports "after the refused imports"
cmp -s "$TEST_DIR/export.json" "$TEST_DIR/after.json" || fail "a refused import changed the configuration"

for i in 1 2 3; do
	client_exec timeout 60 "$TESTCLIENT" --quiet tur "$(node_url "$i")" ||
		fail "$TARGET_IQN through node $i stopped working"
done
pass
