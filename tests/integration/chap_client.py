#!/usr/bin/env python3
"""A small iSCSI initiator that logs in with CHAP over TCP, for the CHAP
algorithms libiscsi does not speak (RFC 7143 12.1.3; CHAP_A 6 = SHA-1,
7 = SHA-256, 8 = SHA3-256, 5 = MD5). Its digests come from Python's hashlib
(OpenSSL), independent of the target's nettle. It runs the security stage
(AuthMethod=CHAP, CHAP_A, CHAP_N/CHAP_R, optionally mutual CHAP_I/CHAP_C),
the operational stage into full feature phase, and a logout.

usage: chap_client.py HOST:PORT TARGET_IQN --initiator IQN --user U --secret S
         [--algorithms 5,6,7,8] [--target-user U --target-secret S]
         [--expect-algorithm N] [--expect-status 0xCCDD] [--attempts N]
Prints "CHAP_A=N status=0xCCDD"; exits 0 when the outcome is what was
expected (a full login, unless --expect-status says otherwise), else 1.
"""
import argparse
import hashlib
import os
import socket
import struct
import sys

HASHES = {5: "md5", 6: "sha1", 7: "sha256", 8: "sha3_256"}


def keys_to_data(pairs):
    data = b"".join(f"{k}={v}".encode() + b"\0" for k, v in pairs)
    return data


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


class Conn:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=20)
        self.isid = bytes([0x80, 0, 0, 0x12, 0x34, 0x56])
        self.itt = 1
        self.cmdsn = 1
        self.exp_statsn = 0
        self.tsih = 0

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the target closed the connection")
            buf += chunk
        return buf

    def recv_pdu(self):
        bhs = self.recv_exact(48)
        ahs_len = bhs[4] * 4
        dlen = int.from_bytes(bhs[5:8], "big")
        self.recv_exact(ahs_len)
        data = self.recv_exact(dlen + (-dlen % 4))[:dlen]
        return bhs, data

    def login(self, transit, csg, nsg, pairs):
        data = keys_to_data(pairs)
        flags = (0x80 if transit else 0) | (csg << 2) | (nsg if transit else 0)
        bhs = bytearray(48)
        bhs[0] = 0x40 | 0x03                   # immediate Login Request (11.12)
        bhs[1] = flags
        bhs[5:8] = len(data).to_bytes(3, "big")
        bhs[8:14] = self.isid
        bhs[14:16] = self.tsih.to_bytes(2, "big")
        bhs[16:20] = self.itt.to_bytes(4, "big")
        bhs[24:28] = self.cmdsn.to_bytes(4, "big")
        bhs[28:32] = self.exp_statsn.to_bytes(4, "big")
        self.sock.sendall(bytes(bhs) + pad4(data))
        rsp, rdata = self.recv_pdu()
        if rsp[0] & 0x3F != 0x23:
            raise ValueError(f"expected a Login Response, got opcode 0x{rsp[0] & 0x3f:02x}")
        status = rsp[36] << 8 | rsp[37]
        self.exp_statsn = int.from_bytes(rsp[24:28], "big") + 1
        self.tsih = int.from_bytes(rsp[14:16], "big")
        keys = {}
        for item in rdata.split(b"\0"):
            if b"=" in item:
                k, v = item.split(b"=", 1)
                keys[k.decode()] = v.decode()
        return status, rsp[1], keys

    def logout(self):
        bhs = bytearray(48)
        bhs[0] = 0x40 | 0x06
        bhs[1] = 0x80                          # close the session
        bhs[16:20] = (self.itt + 1).to_bytes(4, "big")
        bhs[24:28] = self.cmdsn.to_bytes(4, "big")
        bhs[28:32] = self.exp_statsn.to_bytes(4, "big")
        self.sock.sendall(bytes(bhs))
        rsp, _ = self.recv_pdu()
        return rsp[0] & 0x3F == 0x26 and rsp[2] == 0


def decode_binary(text):
    if text[:2] in ("0x", "0X"):
        return bytes.fromhex(text[2:] if len(text) % 2 == 0 else "0" + text[2:])
    raise ValueError(f"cannot decode {text!r}")


def chap_digest(alg, ident, secret, challenge):
    h = hashlib.new(HASHES[alg])
    h.update(bytes([ident]) + secret.encode() + challenge)
    return h.digest()


def run(args):
    c = Conn(args.portal)
    status, flags, keys = c.login(False, 0, 1, [
        ("InitiatorName", args.initiator), ("TargetName", args.target),
        ("SessionType", "Normal"), ("AuthMethod", "CHAP")])
    if status:
        return None, status
    status, flags, keys = c.login(False, 0, 1, [("CHAP_A", args.algorithms)])
    if status:
        return None, status
    alg = int(keys["CHAP_A"], 0)
    if alg not in HASHES:
        raise ValueError(f"target picked CHAP_A={alg}")
    challenge = decode_binary(keys["CHAP_C"])
    ident = int(keys["CHAP_I"], 0)
    if len(challenge) != hashlib.new(HASHES[alg]).digest_size:
        raise ValueError(f"challenge of {len(challenge)} bytes for CHAP_A={alg}")
    response = chap_digest(alg, ident, args.secret, challenge)
    pairs = [("CHAP_N", args.user), ("CHAP_R", "0x" + response.hex())]
    my_challenge = os.urandom(32)
    if args.target_user:
        pairs += [("CHAP_I", "77"), ("CHAP_C", "0x" + my_challenge.hex())]
    status, flags, keys = c.login(True, 0, 1, pairs)
    if status:
        return alg, status
    if args.target_user:
        want = chap_digest(alg, 77, args.target_secret, my_challenge)
        if keys.get("CHAP_N") != args.target_user or decode_binary(keys.get("CHAP_R", "0x")) != want:
            print(f"the target's mutual CHAP answer is wrong: {keys}", file=sys.stderr)
            return alg, -1
    if not flags & 0x80:
        raise ValueError("the target did not leave the security stage")
    status, flags, keys = c.login(True, 1, 3, [
        ("HeaderDigest", "None"), ("DataDigest", "None"),
        ("MaxRecvDataSegmentLength", "65536")])
    if status:
        return alg, status
    if not flags & 0x80 or flags & 3 != 3 or c.tsih == 0:
        raise ValueError("no full feature phase")
    if not c.logout():
        raise ValueError("logout failed")
    return alg, 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("portal")
    p.add_argument("target")
    p.add_argument("--initiator", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--algorithms", default="5,6,7,8")
    p.add_argument("--target-user")
    p.add_argument("--target-secret")
    p.add_argument("--expect-algorithm", type=int)
    p.add_argument("--expect-status", type=lambda s: int(s, 0), default=0)
    p.add_argument("--attempts", type=int, default=1, help="log in this many times in a row")
    args = p.parse_args()
    for _ in range(args.attempts):
        try:
            alg, status = run(args)
        except (OSError, ValueError, KeyError) as e:
            print(f"chap_client: {e}", file=sys.stderr)
            return 1
        print(f"CHAP_A={alg or 0} status=0x{status & 0xffff:04x}")
        if status != args.expect_status:
            return 1
        if args.expect_algorithm is not None and (alg or 0) != args.expect_algorithm:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
