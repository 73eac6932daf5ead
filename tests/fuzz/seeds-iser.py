#!/usr/bin/env python3
# Seeds for tests/fuzz/fuzz_iser.c: byte 0 (bit 0: a Hello is allowed,
# bits 1-2: the receive limit 8192/512/262144/2^24-1), then one iSER Send
# message (RFC 7145 9.2: 28-byte header; 9.3 Hello; an iSCSI PDU as the
# Linux initiator sends them: Login, SCSI Command with immediate data and
# STags, Data-Out is never sent by an iSER initiator but parses, NOP-Out,
# Text, Logout). Writes tests/fuzz/corpus-iser/.
import os, struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-iser")
os.makedirs(out, exist_ok=True)

def iser_hdr(wsv=False, rsv=False, wstag=0, wva=0, rstag=0, rva=0):
    b0 = 0x10 | (0x08 if wsv else 0) | (0x04 if rsv else 0)
    return bytes([b0, 0, 0, 0]) + struct.pack(">IQIQ", wstag, wva, rstag, rva)

def bhs(op, flags, data_len, ahs_words=0, lun=0, itt=1, rest=b""):
    b = bytearray(48)
    b[0] = op; b[1] = flags; b[4] = ahs_words
    b[5:8] = data_len.to_bytes(3, "big")
    b[8:16] = struct.pack(">Q", lun)
    b[16:20] = struct.pack(">I", itt)
    b[20:20 + len(rest)] = rest
    return bytes(b)

def text(*kv):
    return b"".join(k.encode() + b"=" + v.encode() + b"\0" for k, v in kv)

def pdu(op, flags, data=b"", ahs=b"", **kw):
    return bhs(op, flags, len(data), len(ahs) // 4, **kw) + ahs + data

login_keys = text(("InitiatorName", "iqn.2026-11.org.sangw:fuzz-initiator"),
                  ("TargetName", "iqn.2026-11.org.sangw:fuzz"), ("SessionType", "Normal"),
                  ("RDMAExtensions", "Yes"), ("TargetRecvDataSegmentLength", "8192"),
                  ("InitiatorRecvDataSegmentLength", "262144"),
                  ("MaxOutstandingUnexpectedPDUs", "0"), ("HeaderDigest", "None"),
                  ("DataDigest", "None"), ("InitialR2T", "Yes"))
cdb_read = bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0]) + bytes(6)
cdb_write = bytes([0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0]) + bytes(6)
scsi_rest = lambda edtl, cdb: struct.pack(">III", edtl, 1, 1) + cdb  # EDTL CmdSN ExpStatSN CDB
seeds = {
    "hello": b"\x01" + bytes([0x20, 0x11, 0, 16]),
    "hello-badver": b"\x01" + bytes([0x20, 0x22, 0, 16]),
    "hello-late": b"\x00" + bytes([0x20, 0x11, 0, 16]),
    "login": b"\x01" + iser_hdr() + pdu(0x43, 0x87, login_keys, lun=0x8000000000010000, rest=struct.pack(">HHII", 0, 0, 1, 0)),  # ISID; CID CmdSN ExpStatSN
    "read-rsv": b"\x00" + iser_hdr(rsv=True, rstag=0x1234, rva=0x7f0000001000) +
                pdu(0x01, 0xc0, lun=0, rest=scsi_rest(4096, cdb_read)),
    "write-imm-wsv": b"\x00" + iser_hdr(wsv=True, wstag=0x4321, wva=0x7f0000002000) +
                     pdu(0x01, 0xa0, bytes(512), rest=scsi_rest(4096, cdb_write)),
    "write-ahs": b"\x00" + iser_hdr(wsv=True, wstag=1, wva=2) +
                 pdu(0x01, 0xa0, bytes(16), ahs=bytes([0, 0x11, 1, 0]) + bytes(16),
                     rest=scsi_rest(16, cdb_write)),
    "nop-out": b"\x00" + iser_hdr() + pdu(0x00, 0x80, b"ping", itt=7),
    "text": b"\x00" + iser_hdr() + pdu(0x04, 0x80, text(("SendTargets", "All"))),
    "logout": b"\x00" + iser_hdr() + pdu(0x46, 0x80),
    "too-long-512": b"\x02" + iser_hdr() + pdu(0x01, 0xa0, bytes(1024), rest=scsi_rest(1024, cdb_write)),
    "short": b"\x00" + iser_hdr()[:20],
    "truncated-pdu": b"\x00" + (iser_hdr() + pdu(0x04, 0x80, bytes(100)))[:-10],
    "reserved-bits": b"\x00" + bytes([0x13]) + iser_hdr()[1:] + pdu(0x00, 0x80),
    "hello-reply-op": b"\x01" + bytes([0x30, 0x11, 0, 16]),
}
for name, blob in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(blob)
