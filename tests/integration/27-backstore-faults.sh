#!/bin/bash
# Backstore faults on file LUs, from the kernel itself (fs-faults.inc):
#  ENOSPC  a thin 16 MiB LU on a 2 MiB tmpfs: the write that needs a page
#          the tmpfs no longer has gets DATA PROTECT, SPACE ALLOCATION
#          FAILED WRITE PROTECT (07/27/07, SBC-4 4.7.3.6);
#  EIO     an LU on an ext4 filesystem that is shut down (FS_IOC_SHUTDOWN
#          without flushing its log, as when its disk dies): writes and
#          SYNCHRONIZE CACHE get MEDIUM ERROR, WRITE ERROR (03/0C/00),
#          reads MEDIUM ERROR, UNRECOVERED READ ERROR (03/11/00).
#  lost writeback  a block device (loop, 4096-byte sectors, over a sparse
#          file on a 1 MiB tmpfs): 512-byte writes go to its page cache
#          and are GOOD; writing them back fails once the tmpfs is full, so
#          SYNCHRONIZE CACHE gets 03/0C/00, and so does every later one
#          (the kernel reports a failed writeback once: a second fdatasync
#          would succeed although the data is gone).
# A third LU on another filesystem keeps serving throughout, the daemon
# keeps running, and every write acknowledged (FUA, or followed by a
# SYNCHRONIZE CACHE that was GOOD) before a fault reads back intact: on the
# full LU at once, on the failed one after its filesystem is mounted again
# (journal replay) and sangwd restarted, on the block device after its
# page cache is dropped.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fs-faults.inc"
CLIENT=$SANGW_BUILD/tests/integration/sangw-cluster-client
need_program "$CLIENT" "$TESTCLIENT"
fault_need_root

mount_tmpfs "$TEST_DIR/small" 2m
mount_ext4 "$TEST_DIR/ext4" 64
mount_tmpfs "$TEST_DIR/wb" 1m
truncate -s 16M "$TEST_DIR/wb/back.img" || fail "cannot create a backing file"
attach_loop "$TEST_DIR/wb/back.img" -b 4096
LUNS=(--lun "file:$TEST_DIR/small/thin.img,size=16M,thin=1"
      --lun "file:$TEST_DIR/ext4/lu.img,size=16M"
      --lun "file:$TEST_DIR/ok.img,size=16M"
      --lun "file:$LOOP_DEV")
start_sangwd --target "$TARGET_IQN" "${LUNS[@]}"
FULL_LU=$(iscsi_url "$TARGET_IQN" 0)
EIO_LU=$(iscsi_url "$TARGET_IQN" 1)
OK_LU=$(iscsi_url "$TARGET_IQN" 2)
WB_LU=$(iscsi_url "$TARGET_IQN" 3)
blocks=$(testclient --quiet read-capacity "$FULL_LU" | cut -d' ' -f1)
[ -n "$blocks" ] || fail "no READ CAPACITY answer"
# write-log's blocks are in the first half; writes that are refused go to
# the second: a WRITE that ends in CHECK CONDITION may have written part of
# its range (SBC-4 4.18.2 leaves it indeterminate), so nothing acknowledged
# lies there.
half=$((blocks / 2))

# client ARGS...: the cluster client with a bounded run time.
client() {
	timeout 120 "$CLIENT" "$@"
}

# session_expect URL WANT CMD [ARGS...]: one command (sangw-cluster-client
# session syntax) on a fresh session; its answer must start with WANT.
session_expect() {
	local url=$1 want=$2 cmd=$3 out
	shift 3
	out=$(printf 'open s %s\nclear-ua s\n%s s %s\nquit\n' "$url" "$cmd" "$*" |
	      client session 2>&1 | tail -n 1)
	case $out in
	"$want"*) note "$cmd $*: $out" ;;
	*) fail "$cmd $* on LU ${url##*/}: '$out', expected '$want'" ;;
	esac
}

# session_script URL 'CMD ARGS|WANT' ...: commands on one session (the
# name is s); each answer must start with its WANT.
session_script() {
	local url=$1 input out line step i=0
	shift
	local steps=("$@")
	input="open s $url"$'\n'"clear-ua s"
	for step in "${steps[@]}"; do
		input+=$'\n'"${step%%|*}"
	done
	out=$(printf '%s\nquit\n' "$input" | client session 2>&1 | tail -n "${#steps[@]}")
	while IFS= read -r line; do
		step=${steps[i]}
		i=$((i + 1))
		case $line in
		"${step#*|}"*) note "${step%%|*}: $line" ;;
		*) fail "${step%%|*} on LU ${url##*/}: '$line', expected '${step#*|}'" ;;
		esac
	done <<<"$out"
	[ "$i" = "${#steps[@]}" ] || fail "$i answers for ${#steps[@]} commands: $out"
}

ok_lu_serves() {
	must testclient write-read "$OK_LU" "$1" 64
}

note "ENOSPC: FUA writes over the thin LU until the tmpfs is full"
log=$TEST_DIR/enospc.log
client --fua write-log "$FULL_LU" "$half" >"$log" 2>&1 || fail "write-log: $(tail -2 "$log")"
acked=$(grep -c '^acked ' "$log")
stopped=$(grep '^stopped' "$log")
note "$acked writes acknowledged, then: $stopped"
[ "$acked" -ge 100 ] || fail "only $acked writes before the tmpfs was full"
case $stopped in
*"check 7/27/07") ;;
*) fail "the write past the free space got '$stopped', expected check 7/27/07" ;;
esac
# A large write (1 MiB) fails the same way, on a fresh session.
session_expect "$FULL_LU" "check 7/27/07" write $((half + 2048)) 2048 7
assert_alive
ok_lu_serves 0
out=$(client check-log "$FULL_LU" "$log" 2>&1) || fail "an acknowledged write is lost: $out"
note "full LU read back: $out"

note "EIO: FUA writes, then the filesystem under the LU is shut down"
log=$TEST_DIR/eio.log
client --fua --writes 300 write-log "$EIO_LU" "$half" >"$log" 2>&1 ||
	fail "write-log: $(tail -2 "$log")"
[ "$(grep -c '^acked ' "$log")" = 300 ] || fail "300 writes expected: $(tail -2 "$log")"
must xfs_io -x -c "shutdown" "$TEST_DIR/ext4"
session_expect "$EIO_LU" "check 3/0c/00" write $((half + 16)) 8 3
session_expect "$EIO_LU" "check 3/11/00" read 0 8
session_expect "$EIO_LU" "check 3/0c/00" sync
out=$(client --fua --first-gen 1000 --writes 10 write-log "$EIO_LU" "$blocks" 2>&1)
# (generation 1000 lands at LBA 1000 * 7919 mod blocks, in the second half)
case $(grep '^stopped' <<<"$out") in
*"check 3/0c/00") ;;
*) fail "a write-log write after the shutdown: $(tail -1 <<<"$out")" ;;
esac
assert_alive
ok_lu_serves 1000

note "lost writeback: SYNCHRONIZE CACHE fails, and keeps failing"
# 1 MiB direct (4096-aligned) fills the tmpfs and is synced; a 512-byte
# write then goes to the page cache, and its writeback fails.
session_script "$WB_LU" "write s 0 2048 5|ok" "sync s|ok" "write s 30000 1 7|ok" \
	"sync s|check 3/0c/00" "sync s|check 3/0c/00" "sync s|check 3/0c/00"
must blockdev --flushbufs "$LOOP_DEV"
session_script "$WB_LU" "read s 0 2048 5|ok pattern"
assert_alive
ok_lu_serves 3000

note "the filesystem comes back: every acknowledged write is there"
stop_sangwd
remount_ext4 "$TEST_DIR/ext4"
start_sangwd --target "$TARGET_IQN" "${LUNS[@]}"
out=$(client check-log "$EIO_LU" "$log" 2>&1) || fail "an acknowledged write is lost: $out"
note "failed LU read back: $out"
ok_lu_serves 2000
stop_sangwd
pass
