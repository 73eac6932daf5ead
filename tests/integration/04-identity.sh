#!/bin/bash
# Identity: the NAA designator of VPD page 0x83 (SPC-4 Device Identification) is what
# multipath initiators group paths by; it must differ between LUs and stay
# the same across a restart of sangwd.
. "$(dirname "$0")/../lib.sh"
need_program "$TESTCLIENT"

ARGS=(--target "$TARGET_IQN" --lun "file:$TEST_DIR/lu0.img,size=16M"
      --lun "file:$TEST_DIR/lu1.img,size=16M")
LU0=$(iscsi_url "$TARGET_IQN" 0)
LU1=$(iscsi_url "$TARGET_IQN" 1)

start_sangwd "${ARGS[@]}"
a0=$(testclient --quiet inquiry-vpd83 "$LU0") || fail "no NAA designator for LU 0"
a1=$(testclient --quiet inquiry-vpd83 "$LU1") || fail "no NAA designator for LU 1"
note "LU 0: $a0, LU 1: $a1"
# NAA 6 (IEEE registered extended) is 16 bytes; 2, 3 and 5 are 8 bytes.
[[ $a0 =~ ^naa\.(6[0-9a-f]{31}|[235][0-9a-f]{15})$ ]] || fail "malformed NAA designator $a0"
[ "$a0" != "$a1" ] || fail "both LUs have the designator $a0"
stop_sangwd

start_sangwd "${ARGS[@]}"
b0=$(testclient --quiet inquiry-vpd83 "$LU0") || fail "no NAA designator for LU 0 after restart"
b1=$(testclient --quiet inquiry-vpd83 "$LU1") || fail "no NAA designator for LU 1 after restart"
[ "$a0" = "$b0" ] || fail "LU 0 designator changed across a restart: $a0 -> $b0"
[ "$a1" = "$b1" ] || fail "LU 1 designator changed across a restart: $a1 -> $b1"
stop_sangwd
pass
