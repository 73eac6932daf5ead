#!/usr/bin/env python3
"""Write the seed corpus of fuzz_cdb (tests/fuzz/corpus-cdb/): real
command sequences an initiator sends, in fuzz_cdb.c's record format.
Run from anywhere: tests/fuzz/seeds-cdb.py"""
import os
import struct

NONE, IN, OUT = 0, 1, 2
out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-cdb")


def cmd(cdb, dir=NONE, data=b"", alloc=0, nexus=0, lun=0, attr=0, wait=True):
    cdb = bytes(cdb)
    assert len(cdb) in (6, 10, 12, 16)
    length = len(data) if dir == OUT else alloc
    b0 = nexus | (4 if lun == 1 else 8 if lun == 5 else 0) | dir << 4 | attr << 6
    b1 = (len(cdb) - 6) | (0x10 if wait else 0)
    return bytes([b0, b1]) + struct.pack(">H", length) + cdb + bytes(data)


def tmf(function, nexus=0, lun=0, tag=0):
    return bytes([nexus | (4 if lun == 1 else 0), 0xF0, function - 1, tag])


def relogin(nexus):
    return bytes([nexus, 0xE0, 0, 0])


def be(v, n):
    return v.to_bytes(n, "big")


def pr_out(sa, key=0, sakey=0, type_=0, flags=0, extra=b"", nexus=0):
    params = be(key, 8) + be(sakey, 8) + be(0, 4) + bytes([flags, 0, 0, 0]) + extra
    cdb = [0x5F, sa, type_, 0, 0] + list(be(len(params), 4)) + [0]
    return cmd(cdb, OUT, params, nexus=nexus)


def pr_in(sa, nexus=0):
    return cmd([0x5E, sa, 0, 0, 0, 0, 0, 0x10, 0, 0], IN, alloc=4096, nexus=nexus)


def cscd(lun, block):
    # SPC-4 6.4.5.4.3 identification CSCD descriptor: the LU's NAA (the
    # wwn fuzz_gateway.c gives it) and the block device parameters
    naa = bytes.fromhex("60014050000000000000000000f0000%d" % lun)
    return bytes([0xE4, 0, 0, 0, 1, 3, 0, 16]) + naa + bytes(4) + bytes([0]) + be(block, 3)


def xcopy(src, dst, blocks, src_lba, dst_lba):
    # SPC-4 6.4 EXTENDED COPY (LID1): two CSCDs, one block-to-block segment
    cscds = cscd(0, 512) + cscd(1, 4096)
    seg = bytes([0x02, 0]) + be(24, 2) + be(src, 2) + be(dst, 2) + bytes(2) + be(blocks, 2) \
        + be(src_lba, 8) + be(dst_lba, 8)
    params = bytes([0, 0x18]) + be(len(cscds), 2) + bytes(4) + be(len(seg), 4) + be(0, 4) + cscds + seg
    return cmd([0x83] + [0] * 9 + list(be(len(params), 4)) + [0, 0], OUT, params)


TUR = cmd([0, 0, 0, 0, 0, 0])
# Every nexus sees POWER ON OCCURRED on every LU first: clear it, so that
# the seeds' commands run.
UA = b"".join(cmd([0, 0, 0, 0, 0, 0], nexus=n, lun=l) for n in range(3) for l in (0, 1))
seeds = {
    "inquiry": cmd([0x12, 0, 0, 0, 0xFF, 0], IN, alloc=255)
    + cmd([0x12, 1, 0x00, 0, 0xFF, 0], IN, alloc=255)
    + cmd([0x12, 1, 0x83, 0, 0xFF, 0], IN, alloc=255)
    + cmd([0x12, 1, 0xB0, 0, 0xFF, 0], IN, alloc=255)
    + cmd([0x12, 1, 0xB2, 0, 0xFF, 0], IN, alloc=255),
    "tur-sense": TUR + cmd([0x03, 0, 0, 0, 0xFC, 0], IN, alloc=252) + TUR,
    "capacity": cmd([0x25] + [0] * 9, IN, alloc=8)
    + cmd([0x9E, 0x10] + [0] * 8 + [0, 0, 0, 32, 0, 0], IN, alloc=32),
    "read-write": cmd([0x2A, 0, 0, 0, 0, 8, 0, 0, 1, 0], OUT, bytes(range(256)) * 2)
    + cmd([0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0], IN, alloc=512)
    + cmd([0x8A, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 2, 0, 0], OUT, bytes(1024))
    + cmd([0x88, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 2, 0, 0], IN, alloc=1024)
    + cmd([0x0A, 0, 0, 1, 1, 0], OUT, bytes(512))
    + cmd([0x08, 0, 0, 1, 1, 0], IN, alloc=512)
    + cmd([0x35] + [0] * 9),
    "overlap": cmd([0x2A, 0, 0, 0, 0, 8, 0, 0, 1, 0], OUT, bytes(512), wait=False)
    + cmd([0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0], IN, alloc=512, wait=False, attr=2)
    + cmd([0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0], IN, alloc=512, wait=False, attr=1)
    + tmf(1, tag=1) + tmf(2) + tmf(5) + tmf(4, nexus=1) + tmf(6) + tmf(7),
    "pr": pr_out(0, sakey=0x1111)
    + pr_out(0, sakey=0x2222, nexus=1)
    + pr_out(1, key=0x1111, type_=5)
    + pr_in(0, nexus=2) + pr_in(1, nexus=2) + pr_in(2) + pr_in(3)
    + cmd([0x2A, 0, 0, 0, 0, 8, 0, 0, 1, 0], OUT, bytes(512), nexus=2)
    + pr_out(4, key=0x2222, sakey=0x1111, type_=5, nexus=1)
    + pr_out(2, key=0x2222, type_=5, nexus=1)
    + pr_out(6, sakey=0x3333, nexus=2)
    + pr_out(3, key=0x3333, nexus=2)
    + pr_out(0, key=0x1111, sakey=0x1111, flags=1)   # APTPL
    + relogin(0) + pr_in(0),
    "pr-spec-i-pt": pr_out(0, sakey=0xAB, flags=0x0C,
                           extra=be(24, 4) + bytes([0x45, 0, 0, 20]) + b"iqn.2026-11.x:y,i,0x1\x00\x00\x00"[:20])
    + pr_out(1, key=0xAB, type_=1)
    + pr_out(7, key=0xAB, sakey=0xCD, type_=1,
             extra=b"")
    + pr_in(1),
    "spc2-reserve": cmd([0x16, 0, 0, 0, 0, 0]) + TUR
    + cmd([0x16, 0, 0, 0, 0, 0], nexus=2) + cmd([0x17, 0, 0, 0, 0, 0])
    + cmd([0x56] + [0] * 9, nexus=2) + cmd([0x57] + [0] * 9, nexus=2),
    "mode": cmd([0x1A, 0, 0x3F, 0, 0xFF, 0], IN, alloc=255)
    + cmd([0x5A, 0, 0x3F, 0, 0, 0, 0, 0x10, 0, 0], IN, alloc=4096)
    + cmd([0x55, 0x10, 0, 0, 0, 0, 0, 0, 28, 0], OUT,
          bytes([0, 26, 0, 0, 0, 0, 0, 0]) + bytes([0x08, 0x12, 0x04]) + bytes(17))
    + cmd([0x15, 0x10, 0, 0, 16, 0], OUT,
          bytes([15, 0, 0, 0]) + bytes([0x0A, 0x0A, 0x02, 0x10]) + bytes(8))
    + cmd([0x5A, 0, 0x0A, 0, 0, 0, 0, 0x10, 0, 0], IN, alloc=4096),
    "unmap": cmd([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], OUT,
                 be(22, 2) + be(16, 2) + bytes(4) + be(8, 8) + be(16, 4) + bytes(4))
    + cmd([0x9E, 0x12] + [0] * 8 + [0, 0, 0x10, 0, 0, 0], IN, alloc=4096),
    "write-same": cmd([0x93, 0x08] + list(be(0, 8)) + list(be(64, 4)) + [0, 0], OUT, bytes(512))
    + cmd([0x41, 0, 0, 0, 0, 0, 0, 0, 8, 0], OUT, b"\xAA" * 512)
    + cmd([0x93, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    "sanitize": cmd([0x48, 0x01, 0, 0, 0, 0, 0, 0, 8, 0], OUT, bytes([1, 0, 0, 4, 0xDE, 0xAD, 0xBE, 0xEF]))
    + TUR + cmd([0x03, 0, 0, 0, 0xFC, 0], IN, alloc=252)
    + cmd([0x48, 0x02] + [0] * 8) + cmd([0x48, 0x1F] + [0] * 8),
    "xcopy": xcopy(0, 1, 8, 0, 1) + xcopy(1, 0, 1, 2, 0) + xcopy(0, 0, 4, 0, 16)
    + cmd([0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], IN, alloc=256)
    + cmd([0x28, 0, 0, 0, 0, 16, 0, 0, 4, 0], IN, alloc=2048),
    "compare-write": cmd([0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0], OUT, bytes(512))
    + cmd([0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], OUT, bytes(512) + b"\x55" * 512)
    + cmd([0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], OUT, b"\x01" * 1024)
    + cmd([0x8B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], OUT, bytes(512))
    + cmd([0x2E, 0x02, 0, 0, 0, 0, 0, 0, 1, 0], OUT, bytes(512))
    + cmd([0x2F, 0x02, 0, 0, 0, 0, 0, 0, 1, 0], OUT, bytes(512))
    + cmd([0x9C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], OUT, bytes(512)),
    "luns-alua": cmd([0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], IN, alloc=256, lun=5)
    + cmd([0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], IN, alloc=256)
    + cmd([0xA4, 0x0A, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0], OUT, bytes([0, 0, 0, 0, 0x01, 0, 0, 1]))
    + cmd([0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0], IN, alloc=4096)
    + cmd([0xA3, 0x0C, 0x01, 0x5F, 0, 0x01, 0, 0, 0x10, 0, 0, 0], IN, alloc=4096)
    + cmd([0x12, 0, 0, 0, 0x24, 0], IN, alloc=36, lun=5)
    + cmd([0x4D, 0, 0x40, 0, 0, 0, 0, 0x10, 0, 0], IN, alloc=4096)
    + cmd([0x1C, 0, 0, 0x10, 0, 0], IN, alloc=4096),
    "verify": cmd([0x2F, 0, 0, 0, 0, 0, 0, 0, 8, 0])
    + cmd([0x8F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0])
    + cmd([0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    + cmd([0x91, 0] + [0] * 14) + cmd([0x1B, 0, 0, 0, 1, 0]) + cmd([0x1E, 0, 0, 0, 1, 0])
    + cmd([0x04, 0, 0, 0, 0, 0], lun=1),
}

os.makedirs(out_dir, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(UA + data)
print(f"{len(seeds)} seeds in {out_dir}")
