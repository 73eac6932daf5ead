#!/bin/bash
# Bad input (design principle 4): malformed PDUs, bad digests, oversize
# segments, unknown opcodes and CDBs, login without mandatory keys, garbage
# and a NOP-Out flood each get the standard answer from sangwd, and a
# healthy session keeps working throughout (see badpdu.c for the cases).
. "$(dirname "$0")/../lib.sh"
need_program "$BADPDU" "$TESTCLIENT"

start_sangwd --target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=64M"
URL=$(iscsi_url "$TARGET_IQN" 0)
must testclient write "$URL" 0 64 --seed 11

timeout 600 "$BADPDU" "$URL" >"$TEST_DIR/badpdu.out" 2>&1
rc=$?
cat "$TEST_DIR/badpdu.out" >&2
assert_alive
[ $rc -eq 0 ] || fail "$(grep -c '^FAIL' "$TEST_DIR/badpdu.out") badpdu case(s) failed: $(grep '^FAIL' "$TEST_DIR/badpdu.out" | cut -d: -f1 | sed 's/^FAIL //' | tr '\n' ' ')"

# Nothing the bad clients sent reached the disk, and the daemon still serves.
must testclient verify "$URL" 0 64 --seed 11
must testclient write-read "$URL" 100 64
stop_sangwd
pass
