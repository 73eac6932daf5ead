#!/bin/bash
# CHAP with the Linux kernel's initiator (open-iscsi) in the QEMU guest
# (tests/guest/): sangwd (the host's build, mounted read-only) runs in the
# guest and requires mutual CHAP; iscsid logs in with chap_algs set to
# SHA3-256,SHA256,SHA1,MD5 (SHA3-256 agreed), SHA256, SHA1, MD5 and
# MD5,SHA256 (SHA-256 agreed), reads the disk each time, and a wrong secret
# is refused (tests/cluster/chap-guest.guest). The host then checks
# sangwd's log for the agreed algorithms and for the absence of secrets.
# About 1-2 minutes here (TCG guest). No cluster: no cluster lock.
TEST_NAME=cluster-chap-guest
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../guest/lib.sh"
need_program qemu-system-x86_64 setpriv "$SANGWD"
guest_image || fail "cannot build the guest image (tests/guest/build-image)"
guest_install_trap
guest_prepare
cp "$(dirname "$0")/chap-guest.guest" "$GUEST_SHARE/test.sh"
guest_start --mount "build=$SANGW_BUILD" --timeout 600 test.sh || fail "the guest did not start"
guest_wait
cp "$GUEST_OUTPUT" "$TEST_DIR/guest-output" 2>/dev/null
[ "$GUEST_RC" = 0 ] || fail "guest: $(grep FAIL "$GUEST_OUTPUT" | tail -n 1) (status $GUEST_RC; $(tail -n 12 "$GUEST_OUTPUT" | tr '\n' '|'))"
slog=$GUEST_SHARE/out/sangwd.log
for want in SHA3-256 SHA-256 SHA-1 MD5; do
	grep -q "passed mutual CHAP with $want (CHAP_A=" "$slog" || fail "sangwd's log has no $want login"
done
for s in Guest-s3cret-1234 Sangw-s3cret-5678 Wr0ng-s3cret-9999; do
	grep -q -- "$s" "$slog" && fail "sangwd logged a secret ($s)"
done
grep -E "gnote|chap_algs=" "$GUEST_OUTPUT" >&2
pass
