#!/usr/bin/env python3
"""Write the seeds of fuzz_state (tests/fuzz/corpus-state/) for the
operations a single node never submits itself: COMPARE AND WRITE range
locks of other nodes (cluster_range_lock.h) and fencing (fencing.h). The
payloads are the C structs of this build (x86-64 layout). The other seeds
of corpus-state are captured (fuzz_state.c)."""
import os
import struct

out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-state")
SOP_RANGE_LOCK, SOP_RANGE_UNLOCK = 16, 17
SOP_FENCE_IDENTITY, SOP_FENCE_BEGIN, SOP_FENCE_DONE, SOP_NODE_ROLE = 18, 19, 20, 21
ISCSI_NAME_MAX, FENCE_IDENTITY_MAX = 224, 1024
T = b"iqn.2026-11.org.sangw:fuzz"


def op(type_, origin, payload):
    return bytes([type_, origin]) + struct.pack(">H", len(payload)) + payload


def lu_ref(lun):
    return T.ljust(ISCSI_NAME_MAX, b"\0") + struct.pack("<Q", lun)


def range_lock(lun, token, lba=0, count=0):
    return lu_ref(lun) + struct.pack("<QQQ", token, lba, count)


def fence(node, identity):
    return struct.pack("<I", node) + identity.ljust(FENCE_IDENTITY_MAX, b"\0")


seeds = {
    "ops-range-locks": op(SOP_RANGE_LOCK, 2, range_lock(0, 7, 0, 8))
    + op(SOP_RANGE_LOCK, 3, range_lock(0, 9, 4, 8))
    + op(SOP_RANGE_LOCK, 1, range_lock(1, 1, 0, 1))
    + op(SOP_RANGE_UNLOCK, 2, range_lock(0, 7))
    + op(SOP_RANGE_UNLOCK, 3, range_lock(0, 9)),
    "ops-fencing": op(SOP_FENCE_IDENTITY, 2, fence(2, b"client.4242 203.0.113.7:0/1234"))
    + op(SOP_FENCE_IDENTITY, 1, fence(1, b"client.17"))
    + op(SOP_FENCE_BEGIN, 1, fence(2, b"client.4242 203.0.113.7:0/1234"))
    + op(SOP_FENCE_DONE, 1, fence(2, b"client.4242 203.0.113.7:0/1234"))
    + op(SOP_FENCE_IDENTITY, 2, fence(2, b"client.5000")),
}

os.makedirs(out_dir, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(b"\0" + data)
print(f"{len(seeds)} seeds in {out_dir}")
