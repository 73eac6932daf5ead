#!/bin/bash
# Data path: write and read back on a file LU (small, large, at the end,
# with header digests), zeros from a null LU, the power-on unit attention
# of a new I_T nexus, reads with iscsi-perf, and data that survives a
# restart of sangwd.
. "$(dirname "$0")/../lib.sh"
need_program iscsi-readcapacity16 iscsi-inq iscsi-perf "$TESTCLIENT"

LU_SIZE=$((64 * 1024 * 1024))
ARGS=(--target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=64M" --lun "null,size=32M")
start_sangwd "${ARGS[@]}"
FILE_LU=$(iscsi_url "$TARGET_IQN" 0)
NULL_LU=$(iscsi_url "$TARGET_IQN" 1)

size=$(timeout 30 iscsi-readcapacity16 -s "$FILE_LU" 2>&1) || fail "iscsi-readcapacity16 failed: $size"
[ "$size" = "$LU_SIZE" ] || fail "file LU is $size bytes, expected $LU_SIZE"
out=$(timeout 30 iscsi-inq "$FILE_LU" 2>&1) || fail "iscsi-inq failed: $out"
grep -q "Peripheral Device Type:DIRECT_ACCESS" <<<"$out" || fail "INQUIRY is not a disk: $out"

note "a new I_T nexus first sees UNIT ATTENTION 29/xx"
must testclient ua-check "$FILE_LU"

note "file LU: write and read back"
blocks=$(testclient --quiet read-capacity "$FILE_LU" | cut -d' ' -f1)
[ -n "$blocks" ] || fail "no READ CAPACITY answer"
must testclient write-read "$FILE_LU" 0 8
must testclient write-read "$FILE_LU" 1 1
must testclient write-read "$FILE_LU" 100 2048                 # 1 MiB: many PDUs
must testclient write-read "$FILE_LU" $((blocks - 16)) 16     # the last blocks
must testclient write-read "$FILE_LU" 5000 64 --header-digest
must testclient write "$FILE_LU" 20000 256 --seed 42
must testclient verify "$FILE_LU" 20000 256 --seed 42
must_fail testclient verify "$FILE_LU" 20000 256 --seed 43    # the check can fail
must timeout 30 iscsi-perf -t 2 -m 8 -b 8 "$FILE_LU"

note "null LU: writes succeed, reads return zeros"
must testclient write "$NULL_LU" 0 64 --seed 5
must testclient read-zeros "$NULL_LU" 0 64
must testclient read-zeros "$NULL_LU" 1000 256
assert_alive

note "data survives a restart"
stop_sangwd
start_sangwd "${ARGS[@]}"
must testclient verify "$FILE_LU" 20000 256 --seed 42
stop_sangwd
pass
