#!/usr/bin/env bash
# Capture the Linux kernel's own FCoE VN2VN frames into this folder (see
# README.md): boots the QEMU guest of tests/guest/ with a second NIC (eth1)
# on a tap in a namespace made here, captures that tap while the guest's
# initiator runs alone (vn2vn-alone.pcap), and keeps the capture the guest
# made of its two ports on a veth pair with LIO's tcm_fc (lio-vn2vn.pcap).
#   sudo tests/unit/fcoe-frames/capture.sh [OUTDIR]
# Needs root, qemu-system-x86_64, tcpdump; about 2 minutes (TCG guest).
set -u
here=$(cd "$(dirname "$0")" && pwd)
outdir=${1:-$here}
. "$here/../../guest/lib.sh"
command -v tcpdump >/dev/null || { echo "capture.sh: needs tcpdump" >&2; exit 2; }
guest_image || { echo "capture.sh: no guest image" >&2; exit 1; }
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/sangw-fcoe-capture.XXXXXX")
tcpdump_pid=
finish() {
	[ -n "$tcpdump_pid" ] && kill "$tcpdump_pid" 2>/dev/null
	guest_cleanup
	[ "${SANGW_KEEP_TMP:-0}" = 1 ] && echo "capture.sh: kept $run_dir" >&2 || rm -rf "$run_dir"
}
trap finish EXIT
guest_prepare "$run_dir"
cp "$here/capture.guest" "$GUEST_SHARE/test.sh"
guest_start --nic sgwg-fc0,mtu=9000 --timeout 300 test.sh || exit 1
ip netns exec "$GUEST_NETNS" tcpdump -i sgwg-fc0 -s 0 -U -w "$run_dir/alone.pcap" 'ether proto 0x8914 or ether proto 0x8906' 2>"$run_dir/tcpdump.err" &
tcpdump_pid=$!
sleep 1
guest_signal capturing
guest_wait_for alone-done 180 || { tail -n 30 "$GUEST_OUTPUT"; echo "capture.sh: the guest did not finish part 1" >&2; exit 1; }
kill "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null
tcpdump_pid=
guest_wait
cat "$GUEST_OUTPUT"
[ "$GUEST_RC" = 0 ] || { echo "capture.sh: the guest's part failed ($GUEST_RC)" >&2; exit 1; }
cp "$run_dir/alone.pcap" "$outdir/vn2vn-alone.pcap"
tcpdump -r "$GUEST_SHARE/out/lio.pcap" -w "$outdir/lio-vn2vn.pcap" 'ether proto 0x8914 or ether proto 0x8906' 2>/dev/null
ls -l "$outdir"/*.pcap
