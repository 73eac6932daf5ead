#!/bin/bash
# iSER (RFC 7145, fabric/iser/) end to end with the Linux kernel's own
# initiator and libiscsi: this host has no RDMA device, so sangwd (the
# build under test, ASan/UBSan in tests/run) runs in the QEMU guest of
# tests/guest/ on soft-RoCE (rdma_rxe), next to the initiators. The
# guest's part, tests/guest/iser-smoke-guest.sh, checks iscsi-inq over
# iser://, ACLs and LUN masking over iSER (kernel and libiscsi logins
# without an ACL refused, the allowed name sees only its mapped LU),
# open-iscsi discovery over TCP and login over -I iser, bad iSER
# messages dropping their own connection only (iser-badmsg, built by make
# check), fio --verify random read/write (512 B-512 KiB, QD 1, 32, 128;
# under LU RESETs), logout and re-login, sangwd's RDMA resources (cm_id,
# QP, CQ, MR, PD) back to what they were, kill -9 and restart of sangwd
# under a session, and a clean, sanitizer-quiet exit with a session.
# Takes 2-3 minutes here (TCG guest, load 10) once the image is built.
TEST_NAME=cluster-iser-guest
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../guest/lib.sh"

guest_need_iser_sangwd
guest_image || fail "cannot build the guest image (tests/guest/build-image)"
guest_install_trap
guest_prepare
cp "$(dirname "$0")/../guest/iser-smoke-guest.sh" "$GUEST_SHARE/test.sh"
guest_start --mount "build=$SANGW_BUILD" --timeout 600 test.sh || fail "cannot start the guest"
guest_wait
if [ "$GUEST_RC" != 0 ] || ! grep -q '^PASS iser-smoke' "$GUEST_OUTPUT"; then
	tail -n 40 "$GUEST_OUTPUT" >&2
	fail "the guest's part failed (status $GUEST_RC): $(grep 'FAIL:' "$GUEST_OUTPUT" | tail -n 1)"
fi
grep '^\[guest' "$GUEST_OUTPUT" >&2
pass
