#!/bin/bash
# PR, UA and ALUA across a two-node cluster over iSER (issue 13): the same
# assertions as the TCP tests pr-across-nodes.sh and preempt-ua.sh, made
# by the Linux kernel's own initiator (iscsiadm -I iser, sg3-utils, dd)
# logged in over iSER to both nodes of a real corosync cluster. This host
# has no RDMA device, so everything runs in the QEMU guest of tests/guest/
# (soft-RoCE, rdma_rxe on the guest's eth0): both sangwd nodes (this
# build's, ASan/UBSan in tests/run), each with its own corosync, and the
# initiator. tests/cluster/iser-cluster.guest says how two nodes share
# one guest and lists every check: gwcli status and sessions across the
# nodes; one LU (VPD 0x83); data written through one node read through
# the other; REPORT TARGET PORT GROUPS through each path (preferred node
# 1 A/O, node 2 A/N); REGISTER/RESERVE through node 1 seen and enforced
# through node 2 (RESERVATION CONFLICT), PREEMPT through node 2 and node
# 1's UNIT ATTENTION 2A/05; an ALUA change through node 1 seen through
# both (2A/06, RTPG, NOT READY 04/0B); node 2 stopping seen through node
# 1 (2A/06, its group Unavailable); clean SIGTERM exits, no sanitizer
# report.
#
# SANGW_ISERCL_NODE2_CLUSTER=none starts node 2's sangwd out of the cluster:
# the test must then fail (it shows that it can).
# Takes 2-3 minutes here (TCG guest, 108-182 s) once the image is built.
TEST_NAME=cluster-iser-cluster
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../guest/lib.sh"

guest_need_iser_sangwd
# Build (or find) the image before taking the cluster lock.
guest_image || fail "cannot build the guest image (tests/guest/build-image)"
# One cluster test at a time (corosync in the guest needs no namespace of
# the harness, but the CPU the others need too); the guest goes first on
# exit (cluster_down's hooks).
_sgwc_lock
SGWC_DOWN_HOOKS+=(guest_cleanup)
guest_prepare
cp "$(dirname "$0")/iser-cluster.guest" "$GUEST_SHARE/test.sh"
guest_start --mount "build=$SANGW_BUILD" --timeout 420 \
	test.sh "${SANGW_ISERCL_NODE2_CLUSTER:-corosync}" || fail "cannot start the guest"
guest_wait
grep '^\[guest' "$GUEST_OUTPUT" >&2
if [ "$GUEST_RC" != 0 ] || ! grep -q '^PASS iser-cluster' "$GUEST_OUTPUT"; then
	grep -v '^\[guest' "$GUEST_OUTPUT" | tail -n 60 >&2
	fail "the guest's part failed (status $GUEST_RC): $(grep 'FAIL:' "$GUEST_OUTPUT" | tail -n 1)"
fi
pass
