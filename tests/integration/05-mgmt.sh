#!/bin/bash
# Management API through gwcli: `ls` shows the tree (and --json parses);
# a target, LU and ACL created on a running daemon serve an initiator at
# once; resizing an LU raises CAPACITY DATA HAS CHANGED (SBC-3, 2A/09) on a
# logged-in session; ACL removal locks the initiator out; bad input gets a
# clear error and exit status 2.
#
# (gwcli's syntax: tools/gwcli.c, docs/gwcli.8.)
. "$(dirname "$0")/../lib.sh"
need_program "$GWCLI" "$TESTCLIENT"

T2=iqn.2026-11.org.sangw:t2
start_sangwd --target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=16M"
wait_mgmt_socket

note "gwcli ls"
out=$(gwcli ls 2>&1) || fail "gwcli ls failed: $out"
echo "$out" >&2
grep -qF "$TARGET_IQN" <<<"$out" || fail "gwcli ls does not show $TARGET_IQN"
out=$(gwcli --json ls 2>&1) || fail "gwcli --json ls failed: $out"
json_ok <<<"$out" || fail "gwcli --json ls is not JSON: $out"
grep -qF "$TARGET_IQN" <<<"$out" || fail "gwcli --json ls does not show $TARGET_IQN"

note "create a target, an LU and an ACL on the running daemon"
must gwcli target create "$T2"
must gwcli lun create "$T2" "file:$TEST_DIR/lu2.img,size=32M" --lun 0
must gwcli acl create "$T2" "$INIT1_IQN"
out=$(gwcli ls 2>&1) || fail "gwcli ls failed: $out"
grep -qF "$T2" <<<"$out" || fail "gwcli ls does not show the new target $T2: $out"
URL2=$(iscsi_url "$T2" 0)
must testclient discover "$(portal_url)" --initiator "$INIT1_IQN" --expect "$T2"
luns=$(testclient --quiet report-luns "$URL2" --initiator "$INIT1_IQN") ||
	fail "$INIT1_IQN cannot use the new target"
[ "$luns" = 0 ] || fail "REPORT LUNS on the new target shows '$luns', expected 0"
must testclient write-read "$URL2" 0 16 --initiator "$INIT1_IQN"
must testclient login-fail "$URL2" --initiator "$INIT2_IQN" --expect-status 0x0202,0x0203

note "resize raises CAPACITY DATA HAS CHANGED on a logged-in session"
must testclient capacity-changed "$URL2" --initiator "$INIT1_IQN" \
	--exec "'$GWCLI' --socket '$MGMT_SOCK' lun resize '$T2' 0 64M" \
	--expect-blocks $((64 * 1024 * 1024 / 512))
size=$(stat -c %s "$TEST_DIR/lu2.img")
[ "$size" -ge $((64 * 1024 * 1024)) ] || fail "backing file is $size bytes after the resize"

note "bad input: a clear error; exit status 2 for usage errors"
# gwcli(8): 0 done, 1 refused by sangwd (e.g. an invalid name or size the
# daemon validates), 2 usage error.
expect_error() {
	local want=$1 out rc
	shift
	out=$(gwcli "$@" 2>&1)
	rc=$?
	case $want in
	2) [ $rc -eq 2 ] || fail "gwcli $* exited $rc, expected 2 (usage error): $out" ;;
	*) [ $rc -eq 1 ] || [ $rc -eq 2 ] || fail "gwcli $* exited $rc, expected an error: $out" ;;
	esac
	[ -n "$out" ] || fail "gwcli $* failed without saying why"
	note "gwcli $* -> $rc: $(echo "$out" | head -n 1)"
}
expect_error 2 frobnicate
expect_error 2 target
expect_error 2 target create
expect_error 2 lun resize "$T2" 0
expect_error 2 ls --no-such-option
expect_error any target create "not an iqn"
expect_error any lun resize "$T2" 0 lots
expect_error any lun create "$T2" "tape:/dev/st0"
out=$(gwcli target create "not an iqn" 2>&1)
grep -qi "name\|iqn" <<<"$out" || fail "the error for a bad IQN does not say what is wrong: $out"
assert_alive
# Errors from the daemon are not usage errors, but they fail too.
must_fail gwcli target create "$T2"                # exists already
must_fail gwcli lun resize "$T2" 7 128M            # no such LU
assert_alive

note "remove the ACL, the LU and the target"
must gwcli acl delete "$T2" "$INIT1_IQN"
must testclient login-fail "$URL2" --initiator "$INIT1_IQN" --expect-status 0x0202,0x0203
must gwcli lun delete "$T2" 0
must gwcli target delete "$T2"
out=$(gwcli ls 2>&1) || fail "gwcli ls failed: $out"
grep -qF "$T2" <<<"$out" && fail "gwcli ls still shows the deleted target $T2: $out"
# The first target never noticed.
must testclient write-read "$(iscsi_url "$TARGET_IQN" 0)" 0 16

stop_sangwd
pass
