#!/bin/bash
# APTPL (SPC-4 5.13.5): registrations and the reservation made with
# "activate persist through power loss" survive a restart of sangwd; without
# APTPL they do not. First, an SPC-2 reservation ends with its holder's
# logout before the Logout Response (SAM-5 6.3.4): another initiator's
# command sent right after it is GOOD, 50 rounds (the old order, response
# first, failed in round 0; libiscsi's Sanitize.Reset met it).
. "$(dirname "$0")/../lib.sh"
need_program "$TESTCLIENT"

ARGS=(--target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=16M"
      --lun "file:$TEST_DIR/lu1.img,size=16M")
LU0=$(iscsi_url "$TARGET_IQN" 0)
LU1=$(iscsi_url "$TARGET_IQN" 1)

start_sangwd "${ARGS[@]}"
out=$(testclient reserve-logout "$LU1" 50 2>&1) || fail "reserve-logout: $out"
note "$out"
# LU 0 with APTPL, Exclusive Access (type 3); LU 1 without, Write Exclusive.
testclient --aptpl pr-register-reserve "$LU0" 0xabc123 3 || fail "REGISTER/RESERVE with APTPL failed"
testclient pr-register-reserve "$LU1" 0x5150 1 || fail "REGISTER/RESERVE without APTPL failed"
before0=$(testclient --quiet pr-show "$LU0") || fail "PR IN on LU 0 failed"
before1=$(testclient --quiet pr-show "$LU1") || fail "PR IN on LU 1 failed"
note "before restart: LU 0: $(echo $before0) / LU 1: $(echo $before1)"
grep -q "keys 0xabc123" <<<"$before0" || fail "LU 0 key not registered: $before0"
grep -q "reservation 0xabc123 type 3" <<<"$before0" || fail "LU 0 not reserved: $before0"
grep -q "reservation 0x5150 type 1" <<<"$before1" || fail "LU 1 not reserved: $before1"
stop_sangwd

start_sangwd "${ARGS[@]}"
after0=$(testclient --quiet pr-show "$LU0") || fail "PR IN on LU 0 failed after restart"
after1=$(testclient --quiet pr-show "$LU1") || fail "PR IN on LU 1 failed after restart"
note "after restart: LU 0: $(echo $after0) / LU 1: $(echo $after1)"
[ "$before0" = "$after0" ] || fail "APTPL state of LU 0 lost across restart: '$before0' -> '$after0'"
grep -q "^keys$" <<<"$after1" || fail "LU 1 registrations survived without APTPL: $after1"
grep -q "reservation none" <<<"$after1" || fail "LU 1 reservation survived without APTPL: $after1"
stop_sangwd
pass
