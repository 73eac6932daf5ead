#!/bin/bash
# Resizes of a shared RBD image reach every gateway (issue 10). Three nodes
# export one RBD image; an initiator on each node waits for CAPACITY DATA
# HAS CHANGED (2A/09) and checks READ CAPACITY's new size. First the image
# is resized outside sangw (`rbd resize`: librbd's update watch): every node
# reports the new capacity within 2 s; then through gwcli on node 2 (a
# configuration change every node applies).
TEST_NAME=cluster-rbd-resize
SGWC_BACKING=rbd
. "$(dirname "$0")/lib.sh"
need_program "$TESTCLIENT"

cluster_up_shared_lu 3      # 64 MiB: 131072 blocks of 512 bytes

# expect_resize BLOCKS LIMIT_S COMMAND...: a capacity-changed client per
# node, then COMMAND; each must see 2A/09 and BLOCKS within LIMIT_S of
# COMMAND's return.
expect_resize() {
	local blocks=$1 limit=$2 i t0 took pids=()
	shift 2
	for i in 1 2 3; do
		client_spawn "$TEST_DIR/cap-$i-$blocks" "$TESTCLIENT" capacity-changed "$(node_url "$i")" \
			--expect-blocks "$blocks" --timeout 60
		pids[$i]=$SGWC_LAST_PID
	done
	for i in 1 2 3; do
		wait_for_line "$TEST_DIR/cap-$i-$blocks" '^READY' 30 ||
			fail "node $i: the capacity-changed client did not start: $(cat "$TEST_DIR/cap-$i-$blocks")"
	done
	"$@" >"$TEST_DIR/resize.out" 2>&1 || fail "$*: $(cat "$TEST_DIR/resize.out")"
	t0=$(date +%s%N)
	for i in 1 2 3; do
		wait "${pids[$i]}" || fail "node $i missed the resize: $(cat "$TEST_DIR/cap-$i-$blocks")"
	done
	took=$((($(date +%s%N) - t0) / 1000000))
	note "every node reported $blocks blocks with 2A/09, $took ms after '$*' returned"
	[ "$took" -le $((limit * 1000)) ] || fail "the new capacity took $took ms, more than $limit s"
}

note "rbd resize outside sangw"
expect_resize 196608 2 rbd_cmd resize --size 96M rbd/shared
note "gwcli lun resize through node 2"
expect_resize 262144 10 node_gwcli 2 lun resize "$TARGET_IQN" 0 128M
out=$(rbd_cmd info rbd/shared) || fail "rbd info: $out"
grep -q "size 128 MiB" <<<"$out" || fail "the image was not resized to 128 MiB: $out"
pass
