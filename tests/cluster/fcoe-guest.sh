#!/bin/bash
# FCoE VN2VN (issue 14, fabric/fcoe/) end to end with the Linux kernel's
# own FCoE initiator: sangwd (the build under test, ASan/UBSan in
# tests/run) runs on the host with `--listen-fcoe TAP` on a tap inside a
# namespace made here; the QEMU guest of tests/guest/ has its second NIC
# (eth1) on that tap, both at MTU 9000, and enables VN2VN FCoE on it (the
# fcoe module with fcoe-utils; FC-BB-6 7.8: no FCF, no DCB). The guest's
# part, fcoe-guest.guest, checks:
# - `fcoeadm -t` shows an FCP Target online with sangw's WWPN and its two
#   LUNs as SCSI disks; sg_inq shows SANGW / SANGW DISK; `gwcli sessions`
#   here shows the initiator's port;
# - fio --verify=crc32c random reads and writes of 512 B-1 MiB at MTU 9000;
# - PR REGISTER / RESERVE through FC, READ FULL STATUS showing the FC
#   TransportID (the initiator's N_Port_Name);
# - LU resets (sg_reset -d) and aborts under fio (512 B-8 KiB) with 1% loss
#   each way (tc netem in the guest, on eth1 and through an ifb on its
#   ingress: this host's kernel has no sch_netem);
# - sangwd restarted: the initiator logs in again, data reads back;
# - MTU 1500 on both ends: the initiator logs in again with smaller
#   frames, fio --verify again, and no frame above 1514 bytes.
# The host captures the tap all along: every frame must dissect in tshark
# (fip, fcoe, fc with fcels, fcp, fcbls) with no malformed frame and no CRC
# or other warning (tests/cluster/fcoe-tshark-check), and every ABTS be
# answered. FCOE_PHASES (default "fio9000 pr loss restart mtu1500") picks
# the steps after the login, for debugging a target one step at a time;
# FCOE_MTU (default 9000) the link's MTU at the start. (1500 from the
# start works too: Linux pads its FIP Claim Response to its Max FCoE Size,
# 1,512 bytes at MTU 1500, 2,172 at 9000; measured with FCOE_MTU=1500.)
# Takes about 3 minutes here (2 min 31 s measured, TCG guest, host load
# ~10) once the image is built.
TEST_NAME=cluster-fcoe-guest
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../guest/lib.sh"

wwpn=0x2000005347570001     # sangw's FC port (NAA 2)
wwnn=0x1000005347570001
tap=sgwf-fc0
phases=" ${FCOE_PHASES:-fio9000 pr loss restart mtu1500} "
phase() { [[ "$phases" == *" $1 "* ]]; }

need_program qemu-system-x86_64 setpriv tcpdump tshark
[ -x "$SANGWD" ] || fail "$SANGWD is not built"
"$SANGWD" --help 2>&1 | grep -q -- '--listen-fcoe' || fail "this sangwd has no --listen-fcoe"
guest_image || fail "cannot build the guest image (tests/guest/build-image)"
guest_install_trap
guest_prepare
cp "$(dirname "$0")/fcoe-guest.guest" "$GUEST_SHARE/test.sh"
make_sparse_file "$TEST_DIR/lu0.img" 64M
make_sparse_file "$TEST_DIR/lu1.img" 16M

guest_start --nic "$tap,mtu=${FCOE_MTU:-9000}" --timeout 540 test.sh "$wwpn" "$phases" || fail "cannot start the guest"
ns=$GUEST_NETNS
# FCoE wants a lossless link: a tap queue that holds sangw's bursts while
# the TCG guest drains them (1000 frames overflowed at MTU 1500: stalled
# commands, ABTS after the SCSI timeout).
ip -n "$ns" link set "$tap" txqueuelen 20000 || fail "cannot set $tap's queue length"
cap=$TEST_DIR/fcoe.pcap
# (-B: a 64 MiB capture buffer, so that no frame escapes the capture)
ip netns exec "$ns" tcpdump -B 65536 -i "$tap" -s 0 -U -w "$cap" 'ether proto 0x8914 or ether proto 0x8906' 2>"$TEST_DIR/tcpdump.err" &
TCPDUMP_PID=$!
track_pid "$TCPDUMP_PID"

# sangwd_start: sangwd in the tap's namespace (its AF_PACKET socket is
# bound to the tap there); its iSCSI portal is the namespace's loopback.
# Ready once its management socket answers.
sangwd_start() {
	rm -f "$MGMT_SOCK"
	mkdir -p "$STATE_DIR"
	echo "=== $(date +%T.%N) start" >>"$SANGWD_LOG"
	ip netns exec "$ns" "$SANGWD" -f --state-dir "$STATE_DIR" --mgmt-socket "$MGMT_SOCK" \
		--log-level debug --listen "127.0.0.1:$PORT" \
		--listen-fcoe "$tap,wwpn=$wwpn,wwnn=$wwnn" --target "$TARGET_IQN" \
		--lun "file:$TEST_DIR/lu0.img,size=64M" --lun "file:$TEST_DIR/lu1.img,size=16M" \
		>>"$SANGWD_LOG" 2>&1 &
	SANGWD_PID=$!
	wait_until "$START_TIMEOUT" gwcli version >/dev/null 2>&1 ||
		fail "sangwd did not answer on its management socket within $START_TIMEOUT s"
	note "sangwd $SANGWD_PID on $tap (WWPN $wwpn)"
}
# sangwd_alive: it did not die under the initiator.
sangwd_alive() {
	kill -0 "$SANGWD_PID" 2>/dev/null || { wait "$SANGWD_PID"; fail "sangwd died (exit status $?)"; }
}
# guest_step_alive NAME SECONDS: guest_step (tests/guest/lib.sh), then sangwd must
# still run.
guest_step_alive() {
	guest_step "$1" "$2"
	sangwd_alive
}

sangwd_start
guest_step_alive logged-in 240
ini=$GUEST_SIGNAL_TEXT
note "guest booted to its script in $(guest_booted_after) s; initiator port $ini logged in"
# The I_T nexus as the management API shows it: the FC initiator port.
sessions=$(gwcli sessions 2>&1) || fail "gwcli sessions failed: $sessions"
grep -qi "${ini#0x}" <<<"$(tr -d ':' <<<"$sessions")" ||
	fail "gwcli sessions does not show the initiator port $ini: $sessions"
note "gwcli sessions: $(tr -s ' \n' ' ' <<<"$sessions")"

if phase pr; then
	guest_step_alive pr-done 240
	note "PR registered and reserved through FC by $ini"
	guest_signal pr-checked
fi
if phase restart; then
	guest_step_alive want-restart 240
	t_restart=$(date +%s.%N)
	stop_sangwd
	sangwd_start
	guest_signal restarted
fi
if phase mtu1500; then
	guest_step_alive want-mtu1500 240
	ip -n "$ns" link set "$tap" mtu 1500 || fail "cannot set $tap's MTU to 1500"
	guest_signal mtu1500
fi

guest_wait 240
[ "$GUEST_RC" = 0 ] && grep -q '^PASS fcoe-guest' "$GUEST_OUTPUT" || {
	tail -n 40 "$GUEST_OUTPUT" >&2
	fail "the guest's part failed (status $GUEST_RC): $(grep 'FAIL:' "$GUEST_OUTPUT" | tail -n 1)"
}
grep '^\[guest' "$GUEST_OUTPUT" >&2
sangwd_alive
stop_sangwd
note "$tap: $(ip -n "$ns" -s link show "$tap" | awk '/TX:/ { getline; print "sent to the guest", $2, "frames,", $4, "dropped" }')"
kill "$TCPDUMP_PID" && wait "$TCPDUMP_PID" 2>/dev/null
# Every frame of the session is in the capture.
kdrops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel/\1/p' "$TEST_DIR/tcpdump.err")
[ "${kdrops:-0}" = 0 ] || fail "tcpdump lost $kdrops frames: the capture is incomplete"
# One pass of tshark over the capture: time, length, R_CTL, ELS code.
tshark -r "$cap" -n -o fc.reassemble:FALSE -Y 'fip || fcoe' -T fields -E separator=/t \
	-e frame.time_epoch -e frame.len -e fc.r_ctl -e fcels.opcode >"$TEST_DIR/frames.tsv" 2>/dev/null ||
	fail "tshark cannot read $cap"
# The aborts the loss caused (FC-FS-4 15.3: ABTS, answered by BA_ACC or
# BA_RJT): the loss is made in the guest, so the capture holds every ABTS
# that reached sangw and every answer it sent. Up to the restart only: an
# ABTS that comes while sangwd is down or before the initiator has logged
# in again is rightly not answered.
read -r abts bacc < <(awk -F'\t' -v t="${t_restart:-1e12}" '$1 < t && $3 == "0x81" { a++ }
	$1 < t && ($3 == "0x84" || $3 == "0x85") { b++ } END { print a + 0, b + 0 }' "$TEST_DIR/frames.tsv")
note "capture: $abts ABTS, $bacc BA_ACC/BA_RJT"
if phase loss; then
	[ "$abts" -ge 1 ] || fail "no ABTS under 1% loss: the aborts were not exercised"
	[ "$bacc" -ge "$abts" ] || fail "sangw answered $bacc of $abts ABTS"
fi
# At MTU 1500 the initiator logged in again (FLOGI, PLOGI with its smaller
# receive size): from then on no frame is larger than 1514 bytes (the
# Ethernet header and 1500), sangw's FCP data included.
if phase mtu1500; then
	read -r flogis big largest < <(awk -F'\t' '$4 == "0x04" && $3 == "0x22" { n++; t = $1; big = 0; max = 0; next }
		t && $2 > 1514 { big++ } t && $2 > max { max = $2 } END { print n + 0, big + 0, max + 0 }' "$TEST_DIR/frames.tsv")
	[ "$flogis" -ge 2 ] || fail "the initiator did not log in again (FLOGI) after the MTU change"
	[ "$big" = 0 ] || fail "$big frames larger than MTU 1500 after the login at MTU 1500"
	note "after the login at MTU 1500: largest frame $largest bytes"
fi
"$(dirname "$0")/fcoe-tshark-check" "$cap" 100 || fail "frames of the session do not dissect cleanly (kept: SANGW_KEEP_TMP=1)"
pass
