#!/bin/bash
# libiscsi's conformance suite over iSER (issue 13): iscsi-test-cu with
# iser:// URLs against sangwd, both in the QEMU test guest (tests/guest/)
# over soft-RoCE (rdma_rxe on the guest's eth0), with the same profiles and
# expected list as over TCP (tests/conformance/run-libiscsi.sh --iser),
# except the tests libiscsi 1.19's own iSER code cannot run
# (tests/conformance/known-iser-defects.txt, docs/iser.md "libiscsi over
# iser://"). sangwd is this build's (ASan/UBSan). Prints the real passes
# against the expected ones and fails if an expected test did not pass.
#
# Under TCG each test costs seconds of logins, so by default only a subset
# runs (QUICK below: the data path, reservations, residuals, multipath,
# the removable/read-only/4K profiles); SANGW_ISER_CONFORMANCE=full runs
# every profile whole (over 30 min on a loaded 2-CPU host, docs/iser.md).
# In tests/run with the QUICK subset: 93 of 93 expected passes in 4.6-5.8
# min here (guest boot included, host load 2-3). The header line below is
# the limit tests/run gives it.
# tests/run: timeout 1200
TEST_NAME=cluster-iser-conformance
# several iscsi-test-cu processes at once (run-libiscsi.sh --iser)
export GUEST_MEM=${GUEST_MEM:-3G}
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../guest/lib.sh"
QUICK="ALL.Read10 ALL.Read16 ALL.Write10 ALL.Write16 ALL.WriteVerify10 ALL.CompareAndWrite ALL.Unmap ALL.WriteSame16 ALL.GetLBAStatus ALL.Inquiry ALL.ModeSense6 ALL.ReadCapacity16 ALL.MultipathIO ALL.PrinReadKeys ALL.ProutRegister ALL.ProutReserve ALL.Reserve6 ALL.iSCSIResiduals ALL.TestUnitReady ALL.PreventAllow ALL.StartStopUnit ALL.ReadOnly"
args=(--subset "$QUICK")
limit=1100
if [ "${SANGW_ISER_CONFORMANCE:-quick}" = full ]; then
	args=()
	limit=3600
fi
guest_need_iser_sangwd
guest_image || fail "cannot build the guest image (tests/guest/build-image)"
guest_install_trap
guest_prepare
guest_start --timeout "$limit" --mount "build=$SANGW_BUILD" --mount "src=$SRC_TOP" \
	"$SRC_TOP/tests/cluster/iser-conformance.guest" "${args[@]}" || fail "the guest did not start"
guest_wait "$limit"
cp "$GUEST_SHARE/out/libiscsi-iser.log" "$SANGW_BUILD/tests/conformance/libiscsi-iser.log" 2>/dev/null
cat "$GUEST_OUTPUT" >&2
[ "$GUEST_RC" = 0 ] || fail "over iSER (${SANGW_ISER_CONFORMANCE:-quick}): $(grep -E '^(FAIL|PASS)' "$GUEST_OUTPUT" | tail -n 1)"
VERDICT_GIVEN=1
echo "$(grep '^PASS' "$GUEST_OUTPUT" | tail -n 1 | sed "s/^PASS conformance-iser/PASS cluster-iser-conformance (over iSER, ${SANGW_ISER_CONFORMANCE:-quick})/")"
exit 0
