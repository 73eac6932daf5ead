# The guest's part of tests/cluster/iser-guest.sh (run by tests/guest/
# guest-init with /host as its folder): sangwd (the ASan/UBSan build at
# /mnt/build) with an iSER portal on soft-RoCE (rdma_rxe on eth0), and
# the initiators of the same guest:
#   1. libiscsi's iscsi-inq over iser:// (standard INQUIRY: the vendor);
#      ACLs and LUN masking over iSER (a gwcli-made target with an ACL
#      for another initiator: no discovery, logins refused, the allowed
#      name sees only its mapped LU)
#   2. open-iscsi: discovery over TCP, login over -I iser, the disk;
#      then bad iSER messages (tests/integration/iser-badmsg: short,
#      unknown opcode, reserved bits, truncated PDU, a non-login PDU
#      first), each on a connection of its own: that connection is
#      dropped, sangwd and the kernel's session go on
#   3. fio --verify random read/write, block sizes 512 B-512 KiB, queue
#      depths 1, 32 and 128, on that disk
#      then fio again while the disk gets LU RESETs (sg_reset -d)
#   4. logout, login again, a short verified fio run, logout
#   5. `rdma resource show` counts (cm_id, qp, cq, mr, pd) back to what
#      they were before the first connection
#   6. sangwd killed (-9) under a session and started again: open-iscsi
#      logs in again by itself, fio verify passes
#   7. SIGTERM with a session logged in: sangwd exits 0 and its stderr
#      has no sanitizer report (leaks included)
# Prints "PASS iser-smoke" at the end; any failure exits 1 with why.
. /host/.guest/lib.sh
set -u
iqn=iqn.2026-12.org.sangw:iser-smoke
initiator=iqn.2026-12.org.sangw:guest-iser
log=/host/out/sangwd.log
fail() {
	gnote "FAIL: $*"
	dmesg | grep -iE 'iser|rxe|iscsi|rdma' | tail -n 20
	tail -n 40 "$log" 2>/dev/null
	exit 1
}

modprobe -a rdma_rxe ib_iser rdma_ucm ib_uverbs iscsi_tcp || fail "modprobe"
rdma link add rxe0 type rxe netdev eth0 || fail "rdma link add rxe0"
addr=$(ip -4 -o addr show eth0 | awk '{ sub("/.*", "", $4); print $4; exit }')
echo "InitiatorName=$initiator" >/etc/iscsi/initiatorname.iscsi
iscsid || fail "iscsid"
gnote "kernel $(uname -r), rxe0 on eth0 $addr"

# counts: the RDMA resources sangwd holds, "cm_id N qp N cq N mr N pd N"
# (`rdma resource show KIND` lists each with its pid; the kernel
# initiator's shared CQ pool stays after its sessions end and is not
# sangwd's)
counts() {
	local r
	for r in cm_id qp cq mr pd; do
		printf '%s %s ' "$r" "$(rdma resource show "$r" 2>/dev/null | grep -c "pid $spid ")"
	done
}

mkdir -p /tmp/sangw
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
start_sangwd() {
	rm -f /tmp/sangw/mgmt.sock
	/mnt/build/sangwd -f --listen "$addr:3260" --listen-iser "$addr:3260" --target "$iqn" \
		--lun file:/tmp/lu.img,size=256M -s /tmp/sangw -m /tmp/sangw/mgmt.sock \
		--log-level info >>"$log" 2>&1 &
	spid=$!
	for _ in $(seq 150); do [ -S /tmp/sangw/mgmt.sock ] && break; sleep 0.2; done
	[ -S /tmp/sangw/mgmt.sock ] || fail "sangwd did not start"
	grep -q "listening for iSER on $addr:3260" "$log" || fail "no iSER listener"
}
start_sangwd
before=$(counts)
gnote "rdma resources with sangwd listening: $before"

# 1. libiscsi over iser://
out=$(iscsi-inq "iser://$addr:3260/$iqn/0" 2>&1) || fail "iscsi-inq over iser://: $out"
grep -q "SANGW" <<<"$out" || fail "iscsi-inq: no SANGW vendor in: $out"
gnote "iscsi-inq over iser:// ok: $(grep -i 'vendor' <<<"$out" | head -n 1)"
[ "$(counts)" = "$before" ] || fail "rdma resources after iscsi-inq: $(counts), not $before"

# 1b. ACLs and LUN masking over iSER (every fabric enforces them): a
# target made with gwcli whose one ACL maps LU 1 as LUN 0 to another
# initiator. This guest's kernel initiator is not in it: discovery does
# not show the target and its iSER login is refused. libiscsi over
# iser:// as the denied name is refused too; as the allowed name its
# LUN 0 is LU 1 (32 MiB, not LU 0's 16 MiB) and there is no LUN 1.
# libiscsi's tools run with the iSER shim of docs/iser.md preloaded.
acl_iqn=iqn.2026-12.org.sangw:iser-acl
allowed=iqn.2026-12.org.sangw:iser-allowed
acl_url=iser://$addr:3260/$acl_iqn
gw() { /mnt/build/gwcli --socket /tmp/sangw/mgmt.sock "$@" >/tmp/gw.out 2>&1 || fail "gwcli $*: $(cat /tmp/gw.out)"; }
shim() { LD_PRELOAD=/mnt/build/tests/conformance/libiscsi-iser-join.so "$@"; }
gw target create "$acl_iqn"
gw lun create "$acl_iqn" null,size=16M --lun 0
gw lun create "$acl_iqn" null,size=32M --lun 1
gw acl create "$acl_iqn" "$allowed" --map 0:1
out=$(iscsiadm -m discovery -t sendtargets -p "$addr:3260" 2>&1) || fail "discovery over TCP: $out"
grep -q "$acl_iqn" <<<"$out" && fail "discovery shows $acl_iqn to $initiator, which has no ACL: $out"
iscsiadm -m node -T "$acl_iqn" -p "$addr:3260" -I iser -o new >/dev/null 2>&1 || fail "no iser node record for $acl_iqn"
if iscsiadm -m node -T "$acl_iqn" -p "$addr:3260" -I iser --login >/tmp/login.out 2>&1; then
	fail "the kernel initiator without an ACL logged in to $acl_iqn over iSER"
fi
grep -qiE 'authoriz' /tmp/login.out || fail "the iSER login without an ACL failed for another reason: $(cat /tmp/login.out)"
iscsiadm -m node -T "$acl_iqn" -p "$addr:3260" -I iser -o delete >/dev/null 2>&1
out=$(shim iscsi-readcapacity16 -s -i "$initiator" "$acl_url/0" 2>&1) &&
	fail "libiscsi over iser:// logged in to $acl_iqn without an ACL: $out"
grep -q 'Authorization failure' <<<"$out" || fail "libiscsi without an ACL: not an authorization failure: $out"
size=$(shim iscsi-readcapacity16 -s -i "$allowed" "$acl_url/0" 2>&1) || fail "READ CAPACITY as $allowed over iser://: $size"
[ "$size" = $((32 << 20)) ] || fail "LUN 0 of $allowed is $size bytes, expected LU 1's $((32 << 20))"
out=$(shim iscsi-readcapacity16 -s -i "$allowed" "$acl_url/1" 2>&1) &&
	fail "$allowed reached LUN 1, which its ACL does not map: $out"
for _ in $(seq 50); do [ "$(counts)" = "$before" ] && break; sleep 0.2; done
[ "$(counts)" = "$before" ] || fail "rdma resources after the ACL checks: $(counts), not $before"
gnote "ACLs over iSER: without an ACL no discovery, kernel and libiscsi logins refused (authorization failure); with one, LUN 0 = LU 1 ($size bytes), no LUN 1"

# 2. open-iscsi: discovery over TCP, login over iSER
disk_of() {
	iscsiadm -m session -P 3 2>/dev/null | awk -v t="$iqn" '
		/^Target:/ { cur = ($2 == t) }
		cur && /Iface Transport:/ { ok = ($3 == "iser") }
		cur && ok && /Attached scsi disk/ { print $4; exit }'
}
login() {
	iscsiadm -m node -T "$iqn" -p "$addr:3260" -I iser --login >/tmp/login.out 2>&1 ||
		fail "login over iSER: $(cat /tmp/login.out)"
	dev=
	for _ in $(seq 100); do dev=$(disk_of); [ -n "$dev" ] && [ -b "/dev/$dev" ] && break; sleep 0.3; done
	[ -n "$dev" ] || fail "no disk after the iSER login"
	grep -q "iser" <(iscsiadm -m session) || fail "the session is not over iser: $(iscsiadm -m session)"
}
# (discovery over TCP, then a node record of the iser interface)
out=$(iscsiadm -m discovery -t sendtargets -p "$addr:3260" 2>&1) ||
	fail "discovery over TCP: $out"
grep -q "$iqn" <<<"$out" || fail "discovery did not list $iqn: $out"
iscsiadm -m node -T "$iqn" -p "$addr:3260" -I iser -o new >/dev/null 2>&1 ||
	fail "no iser node record"
login
gnote "logged in over iSER: /dev/$dev ($(cat /sys/block/$dev/size) sectors)"
during=$(counts)
gnote "rdma resources of sangwd while logged in: $during"
[ "$during" != "$before" ] || fail "the count of sangwd's RDMA resources did not change with a session"

# Bad iSER messages on connections of their own: each is dropped, the
# daemon and the kernel's session go on (fio below runs on that session).
badmsg=/mnt/build/tests/integration/iser-badmsg
[ -x "$badmsg" ] || fail "$badmsg is not built (make check builds it)"
for c in short opcode reserved truncated notlogin; do
	out=$(ASAN_OPTIONS=detect_leaks=0 "$badmsg" "$addr" 3260 "$c" 2>&1) ||
		fail "bad message $c: $out"
done
kill -0 "$spid" 2>/dev/null || fail "sangwd died on a bad message"
for why in "short iSER message" "unknown iSER opcode" "reserved bits set in the iSER header" \
	"iSER message shorter than its PDU" "non-login PDU during login"; do
	grep -q "closing connection: $why" "$log" || fail "no \"$why\" in sangwd's log"
done
gnote "bad iSER messages: each connection dropped, sangwd running"

# 3. fio verify: random read/write, 512 B - 512 KiB, QD 1-32
fio_verify() { # NAME SIZE BSRANGE QD
	fio --name="$1" --filename="/dev/$dev" --direct=1 --ioengine=libaio --rw=randrw \
		--bsrange="$3" --iodepth="$4" --size="$2" --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --randrepeat=0 --output=/tmp/fio.out >/dev/null 2>&1 ||
		fail "fio $1: $(tail -n 20 /tmp/fio.out)"
	grep -qE 'err= *0' /tmp/fio.out || fail "fio $1 reported errors: $(grep err= /tmp/fio.out)"
}
for qd in 1 32; do
	fio_verify "qd$qd-small" 8M 512-64k "$qd"
	fio_verify "qd$qd-large" 24M 64k-512k "$qd"
	gnote "fio verify qd $qd passed"
done
fio_verify qd128 16M 4k-128k 128
gnote "fio verify qd 128 passed"

# LU RESET under I/O (RFC 7143 11.5: the commands in flight, RDMA READs
# and WRITEs included, are terminated; the SCSI midlayer retries them):
# fio must still verify every block.
fio --name=reset --filename="/dev/$dev" --direct=1 --ioengine=libaio --rw=randrw \
	--bsrange=4k-256k --iodepth=32 --size=32M --verify=crc32c --verify_fatal=1 \
	--do_verify=1 --randrepeat=0 --output=/tmp/fio-reset.out >/dev/null 2>&1 &
fpid=$!
for _ in 1 2 3; do
	sleep 2
	kill -0 "$fpid" 2>/dev/null || break
	sg_reset -d "/dev/$dev" >/dev/null 2>&1 || fail "sg_reset -d /dev/$dev"
done
wait "$fpid" || fail "fio under LU RESET: $(tail -n 20 /tmp/fio-reset.out)"
gnote "fio verify under LU RESET passed"

# 4. logout, login again
iscsiadm -m node -T "$iqn" -p "$addr:3260" --logout >/dev/null || fail "logout"
login
fio_verify relogin 4M 4k-128k 8
iscsiadm -m node -T "$iqn" -p "$addr:3260" --logout >/dev/null || fail "second logout"
gnote "logout, login, fio verify, logout: ok"

# 5. resources back to where they started
for _ in $(seq 50); do [ "$(counts)" = "$before" ] && break; sleep 0.2; done
[ "$(counts)" = "$before" ] || fail "rdma resources after logout: $(counts), not $before"
gnote "rdma resources back to: $(counts)"

# 6. sangwd killed (-9) under a logged-in session and started again: the
# kernel initiator logs in again by itself and verified I/O goes on
login
kill -KILL "$spid"
wait "$spid" 2>/dev/null
sessions=$(grep -c "normal session of $initiator" "$log")
start_sangwd
fio_verify after-restart 4M 4k-128k 8
[ "$(grep -c "normal session of $initiator" "$log")" -gt "$sessions" ] ||
	fail "the initiator did not log in again after the restart"
gnote "sangwd killed and restarted: the session came back, fio verify passed"

# 7. clean exit with a session logged in (sangwd asks it to log out, then
# closes it), no sanitizer report
kill -TERM "$spid"
wait "$spid"; rc=$?
[ "$rc" = 0 ] || fail "sangwd exited $rc"
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
	fail "sanitizer report in sangwd's output"
fi
echo "PASS iser-smoke"
