#!/usr/bin/env python3
"""Write the seed corpus of fuzz_session (tests/fuzz/corpus-session/):
full-feature-phase PDU streams as an initiator sends them after the
harness's Login Request (byte 0: the login offer, see fuzz_session.c).
CmdSN starts at 0 (the login's), ExpStatSN follows the target's StatSN."""
import os
import struct

out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-session")


def pad(b):
    return b + bytes(-len(b) % 4)


def pdu(op, flags, itt=0, lun=0, spec=b"", data=b"", immediate=False, ahs=b""):
    bhs = bytearray(48)
    bhs[0] = op | (0x40 if immediate else 0)
    bhs[1] = flags
    bhs[4] = len(ahs) // 4
    bhs[5:8] = len(data).to_bytes(3, "big")
    bhs[8:16] = struct.pack(">Q", lun << 48)
    bhs[16:20] = struct.pack(">I", itt)
    bhs[20:48] = spec.ljust(28, b"\0")[:28]
    return bytes(bhs) + ahs + pad(data)


class Stream:
    def __init__(self):
        self.cmd_sn = 0
        self.itt = 1
        self.out = b""

    def sn(self, immediate=False):
        v = self.cmd_sn
        if not immediate:
            self.cmd_sn += 1
        return v

    def scsi(self, cdb, read=0, write=0, data=b"", lun=0, attr=1, final=True, immediate=False):
        flags = (0x80 if final else 0) | (0x40 if read else 0) | (0x20 if write else 0) | attr
        edtl = write or read
        cdb = bytes(cdb)
        ahs = b""
        if len(cdb) > 16:
            # RFC 7143 11.2.2.3 Extended CDB AHS: the bytes beyond 16
            ext = cdb[16:]
            ahs = struct.pack(">HBB", len(ext) + 1, 1, 0) + ext
            ahs += bytes(-len(ahs) % 4)
        spec = struct.pack(">III", edtl, self.sn(immediate), 0) + cdb[:16].ljust(16, b"\0")
        itt = self.itt
        self.itt += 1
        self.out += pdu(0x01, flags, itt, lun, spec, data, immediate, ahs)
        return itt

    def data_out(self, itt, ttt, offset, data, datasn=0, final=True, lun=0):
        spec = struct.pack(">III", ttt, 0, 0) + struct.pack(">III", 0, datasn, offset)
        self.out += pdu(0x05, 0x80 if final else 0, itt, lun, spec, data)

    def nop(self, data=b"", ping=True):
        itt = self.itt if ping else 0xFFFFFFFF
        self.itt += 1
        spec = struct.pack(">III", 0xFFFFFFFF, self.sn(not ping), 0)
        self.out += pdu(0x00, 0x80, itt, 0, spec, data, immediate=not ping)

    def tmf(self, function, ref_itt=0xFFFFFFFF, lun=0):
        spec = struct.pack(">IIII", ref_itt, self.sn(True), 0, 0)
        self.out += pdu(0x02, 0x80 | function, self.itt, lun, spec, immediate=True)
        self.itt += 1

    def text(self, body, final=True, ttt=0xFFFFFFFF):
        spec = struct.pack(">III", ttt, self.sn(), 0)
        self.out += pdu(0x04, 0x80 if final else 0x40, self.itt, 0, spec, body)
        self.itt += 1

    def logout(self, reason=0):
        spec = struct.pack(">HHII", 0, 0, self.sn(True), 0)
        self.out += pdu(0x06, 0x80 | reason, self.itt, 0, spec, immediate=True)
        self.itt += 1

    def snack(self):
        self.out += pdu(0x10, 0x80, 0xFFFFFFFF, 0, bytes(28))


def seed(offer, build):
    s = Stream()
    # The session sees POWER ON OCCURRED on both LUs first: clear it, so
    # that the seed's commands run.
    s.scsi([0] * 6, lun=0)
    s.scsi([0] * 6, lun=1)
    build(s)
    return bytes([offer]) + s.out


def inquiry(s):
    s.scsi([0x12, 0, 0, 0, 0xFF, 0], read=255)
    s.scsi([0x12, 1, 0x83, 0, 0xFF, 0], read=255)
    s.scsi([0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], read=256)
    s.scsi([0x9E, 0x10] + [0] * 8 + [0, 0, 0, 32, 0, 0], read=32, lun=1)
    s.logout()


def write_immediate(s):
    s.scsi([0x2A, 0, 0, 0, 0, 0, 0, 0, 2, 0], write=1024, data=bytes(1024))
    s.scsi([0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0], read=1024)
    s.logout()


def write_r2t(s):
    # FirstBurstLength 512 (offer 0x10): 512 bytes immediate, the rest
    # after the target's R2T (its first Target Transfer Tag is 1)
    itt = s.scsi([0x2A, 0, 0, 0, 0, 0, 0, 0, 8, 0], write=4096, data=bytes(512))
    s.data_out(itt, 1, 512, bytes(1536), final=False)
    s.data_out(itt, 1, 2048, bytes(2048), datasn=1, final=True)
    s.scsi([0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0], read=4096)
    s.nop(b"ping")


def write_unsolicited(s):
    # FirstBurstLength 65536, InitialR2T=No: immediate then unsolicited
    itt = s.scsi([0x2A, 0, 0, 0, 0, 0, 0, 0, 8, 0], write=4096, data=bytes(512), final=False)
    s.data_out(itt, 0xFFFFFFFF, 512, bytes(1536), final=False)
    s.data_out(itt, 0xFFFFFFFF, 2048, bytes(2048), datasn=1, final=True)
    s.logout()


def write_r2t_no_immediate(s):
    itt = s.scsi([0x2A, 0, 0, 0, 0, 0, 0, 0, 2, 0], write=1024)
    s.data_out(itt, 1, 0, bytes(512), final=False)
    s.data_out(itt, 1, 512, bytes(512), datasn=1, final=True)
    s.scsi([0x00] * 6)
    s.logout()


def tmfs(s):
    a = s.scsi([0x2A, 0, 0, 0, 0, 0, 0, 0, 8, 0], write=4096)
    s.tmf(1, a)
    s.scsi([0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0], read=4096)
    s.tmf(2)
    s.tmf(4)
    s.tmf(5)
    s.tmf(6)
    s.tmf(3)
    s.tmf(8)
    s.tmf(7)


def text_nop(s):
    s.text(b"SendTargets=All\0")
    s.text(b"SendTargets=" + b"iqn.2026-11.org.sangw:fuzz\0")
    s.text(b"MaxRecvDataSegmentLength=512\0", final=False)
    s.nop(b"x" * 100)
    s.nop(ping=False)
    s.snack()
    s.logout(1)
    s.logout(2)
    s.logout()


def pr_over_iscsi(s):
    params = bytes(8) + struct.pack(">Q", 0x42) + bytes(8)
    s.scsi([0x5F, 0, 0, 0, 0, 0, 0, 0, 24, 0], write=24, data=params)
    params = struct.pack(">Q", 0x42) + bytes(16)
    s.scsi([0x5F, 1, 5, 0, 0, 0, 0, 0, 24, 0], write=24, data=params)
    s.scsi([0x5E, 1, 0, 0, 0, 0, 0, 0x10, 0, 0], read=4096)
    s.scsi([0x48, 0x01, 0, 0, 0, 0, 0, 0, 8, 0], write=8, data=bytes([1, 0, 0, 4, 1, 2, 3, 4]))
    s.scsi([0x00] * 6)
    s.logout()


def ordered(s):
    s.scsi([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], read=512, attr=2)
    s.scsi([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], read=512, attr=0)
    s.scsi([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], read=512, attr=4)
    s.scsi([0x00] * 6, immediate=True)
    s.cmd_sn += 5   # out of window: ignored
    s.scsi([0x00] * 6)


def long_cdbs(s):
    # SBC-3 variable-length CDBs (0x7F): WRITE(32) and READ(32) through the
    # Extended CDB AHS; a bidirectional command; a 32-byte CDB without AHS
    write32 = [0x7F, 0, 0, 0, 0, 0, 0, 0x18, 0x00, 0x0B] + [0] * 10 + [0] * 8 + [0, 0, 0, 1]
    read32 = [0x7F, 0, 0, 0, 0, 0, 0, 0x18, 0x00, 0x09] + [0] * 10 + [0] * 8 + [0, 0, 0, 1]
    s.scsi(write32, write=512, data=bytes(512))
    s.scsi(read32, read=512)
    s.scsi([0x53, 0, 0, 0, 0, 0, 0, 0, 1, 0], read=512, write=512, data=bytes(512))
    s.scsi([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], read=512)
    s.logout()


def text_continue(s):
    # a Text request split over two PDUs (C bit, RFC 7143 11.10.2), then
    # the continuation of a long answer with the target's TTT
    s.text(b"SendTar", final=False)
    s.text(b"gets=All\0")
    s.text(b"", ttt=1)
    s.nop(bytes(range(256)) * 16)
    s.logout()


seeds = {
    "long-cdbs": seed(0, long_cdbs),
    "text-continue": seed(0x08, text_continue),
    "inquiry": seed(0, inquiry),
    "write-immediate": seed(0, write_immediate),
    "write-r2t": seed(0x10, write_r2t),
    "write-unsolicited": seed(0, write_unsolicited),
    "write-r2t-no-immediate": seed(0x06, write_r2t_no_immediate),
    "small-segments": seed(0x08, write_immediate),
    "digests": seed(0x01, inquiry),
    "tmfs": seed(0, tmfs),
    "text-nop-logout": seed(0, text_nop),
    "pr-sanitize": seed(0, pr_over_iscsi),
    "ordered": seed(0, ordered),
}

os.makedirs(out_dir, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {out_dir}")
