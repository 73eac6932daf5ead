#!/bin/bash
# The Ceph test harness (tests/ceph): a micro cluster starts, a 64 MiB
# shared image takes 1 MiB of random data across an object boundary and
# gives back exactly that (and zeros elsewhere), a plain `rbd import` reads
# back the same, and once the cluster is stopped none of its daemons is
# left. sangwd is not involved: this proves the harness the rbd tests use.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../ceph/lib.sh"
ceph_need_tools
need_program md5sum truncate dd

ceph_up
note "start took $CEPH_START_SECONDS s"

rbd_image_create img 64M
info=$(rbd_cmd info img 2>&1) || fail "rbd info: $info"
grep -q 'size 64 MiB' <<<"$info" || fail "image is not 64 MiB: $info"
grep -q 'exclusive-lock' <<<"$info" && fail "--image-shared image has exclusive-lock: $info"

# 1 MiB at 3.5 MiB: half in the first 4 MiB object, half in the second.
# rbd import-diff writes into the existing image; its v1 format is a
# header line, then 'w' + le64 offset + le64 length + data, then 'e'.
le64() {
	local v=$1 i
	for ((i = 0; i < 8; i++)); do
		printf "\\x$(printf %02x $(((v >> (8 * i)) & 255)))"
	done
}
OFF=$((3584 * 1024))
LEN=$((1024 * 1024))
head -c "$LEN" /dev/urandom >"$TEST_DIR/data" || fail "no random data"
{
	printf 'rbd diff v1\n'
	printf w
	le64 "$OFF"
	le64 "$LEN"
	cat "$TEST_DIR/data"
	printf e
} >"$TEST_DIR/data.diff"
must rbd_cmd import-diff --no-progress "$TEST_DIR/data.diff" img

# What the whole image must read: zeros with the data at OFF.
truncate -s 64M "$TEST_DIR/expected"
dd if="$TEST_DIR/data" of="$TEST_DIR/expected" bs=512K seek=$((OFF / 524288)) conv=notrunc status=none ||
	fail "cannot build the expected image"
must rbd_cmd export --no-progress img "$TEST_DIR/img.out"
want=$(md5sum <"$TEST_DIR/expected")
got=$(md5sum <"$TEST_DIR/img.out")
[ "$got" = "$want" ] || fail "image read back differs (md5 $got, expected $want)"

must rbd_cmd import --no-progress --image-shared "$TEST_DIR/data" imported
must rbd_cmd export --no-progress imported "$TEST_DIR/imported.out"
got=$(md5sum <"$TEST_DIR/imported.out")
want=$(md5sum <"$TEST_DIR/data")
[ "$got" = "$want" ] || fail "imported image read back differs (md5 $got, expected $want)"

pids_before=$(ceph_pids | xargs)
[ -n "$pids_before" ] || fail "no ceph daemons of ours while the cluster runs?"
ceph_down
wait_until 5 test -z "$(ceph_pids)" || fail "ceph daemons left after ceph_down: $(ceph_pids | tr '\n' ' ')"
note "daemons $pids_before stopped"
pass
