#!/bin/bash
# The Linux kernel's iSER initiator against sangwd (issue 13), both in the
# QEMU test guest (tests/guest/) over soft-RoCE (rdma_rxe on the guest's
# eth0): what iser-guest.sh (fio --verify, LU RESET, logout and login, bad
# iSER messages) leaves out: discovery over TCP then login over iSER with
# sangwd reporting the session's transport, NOP-Outs answered while idle,
# an ABORT TASK from the kernel's SCSI error handler (a write held by
# dm-delay under the LU past the initiator's 2 s timeout, then retried and
# read back), libiscsi's initiator (iscsi-perf over iser://) killed
# mid-I/O. After the logout and after the kill, sangwd's RDMA objects
# (`rdma resource show` entries with its pid: QPs, CQs, MRs, PDs, CM ids)
# and the device's QPs are back where they were before the first login;
# sangwd exits 0 on SIGTERM with no ASan/UBSan report. The steps are in
# iser-initiator.guest. ~2 minutes under TCG.
TEST_NAME=cluster-iser-initiator
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../guest/lib.sh"
guest_need_iser_sangwd "$GWCLI"
guest_image || fail "cannot build the guest image (tests/guest/build-image)"
guest_install_trap
guest_prepare
guest_start --timeout 900 --mount "build=$SANGW_BUILD" \
	"$SRC_TOP/tests/cluster/iser-initiator.guest" || fail "the guest did not start"
guest_wait 900
cp "$GUEST_SHARE/out/sangwd.log" "$TEST_DIR/sangwd-guest.log" 2>/dev/null
cat "$GUEST_OUTPUT" >&2
[ "$GUEST_RC" = 0 ] || fail "$(grep -E 'FAIL:' "$GUEST_OUTPUT" | tail -n 1)"
grep -q 'ALL OK' "$GUEST_OUTPUT" || fail "the guest script ended without finishing its steps"
VERDICT_GIVEN=1
echo "PASS $TEST_NAME: $(grep -c '\] OK ' "$GUEST_OUTPUT") steps"
exit 0
