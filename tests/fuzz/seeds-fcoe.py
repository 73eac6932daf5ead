#!/usr/bin/env python3
# Seeds for tests/fuzz/fuzz_fcoe.c: the first byte picks the ethertype
# (odd: FIP 0x8914, even: FCoE 0x8906), the rest follows the Ethernet
# header. Writes tests/fuzz/corpus-fcoe/.
import os, struct, zlib

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-fcoe")
os.makedirs(out, exist_ok=True)
mac = bytes.fromhex("525400123456")

def desc_mac(m): return bytes([2, 2]) + m
def desc_name(w): return bytes([4, 3, 0, 0]) + struct.pack(">Q", w)
def desc_vn(pid, wwpn):
    return bytes([11, 5]) + bytes.fromhex("0efd00") + pid.to_bytes(3, "big") + b"\0" + pid.to_bytes(3, "big") + struct.pack(">Q", wwpn)
def desc_fc4f():
    d = bytearray(164); d[0] = 15; d[1] = 41
    d[4:8] = struct.pack(">I", 1 << 8); d[40:44] = struct.pack(">I", 2)
    return bytes(d)
def desc_size(n): return bytes([6, 1]) + struct.pack(">H", n)
def fip(op, sub, descs, flags=0):
    body = b"".join(descs)
    return bytes([0x10, 0]) + struct.pack(">H", op) + bytes([0, sub]) + struct.pack(">HH", len(body) // 4, flags) + body
def fc_hdr(r_ctl, d_id, s_id, typ, f_ctl, ox, rx=0xffff, param=0):
    return bytes([r_ctl]) + d_id.to_bytes(3, "big") + b"\0" + s_id.to_bytes(3, "big") + bytes([typ]) + \
        f_ctl.to_bytes(3, "big") + bytes([0, 0]) + struct.pack(">HHHI", 0, ox, rx, param)
def fcoe(fc, sof=0x2e, eof=0x42):
    return bytes(13) + bytes([sof]) + fc + struct.pack("<I", zlib.crc32(fc)) + bytes([eof, 0, 0, 0])

wwpn = 0x2000525400123456
seeds = {
    "claim": b"\1" + fip(5, 3, [desc_mac(mac), desc_name(wwpn - 1), desc_vn(0x3456, wwpn), desc_fc4f(), desc_size(2158)]),
    "beacon": b"\1" + fip(5, 5, [desc_mac(mac), desc_name(wwpn - 1), desc_vn(0x3456, wwpn)]),
    "probe": b"\1" + fip(5, 1, [desc_mac(mac), desc_name(wwpn - 1), desc_vn(0x3456, wwpn)], 0x0008),
}
flogi = bytearray(116); flogi[0] = 4; flogi[4] = flogi[5] = 0x20
fc = fc_hdr(0x22, 0x1, 0x3456, 1, 0x290000, 7) + bytes(flogi)
seeds["flogi"] = b"\1" + fip(2, 1, [bytes([7, (4 + len(fc)) // 4, 0, 0]) + fc, desc_mac(bytes.fromhex("0efd00003456"))])
cmnd = bytearray(32); cmnd[11] = 2; cmnd[12] = 0x12; cmnd[16] = 36; cmnd[28:32] = struct.pack(">I", 36)
seeds["fcp_cmnd"] = b"\0" + fcoe(fc_hdr(0x06, 0x1, 0x3456, 8, 0x290000, 9) + bytes(cmnd))
seeds["fcp_data_fill"] = b"\0" + fcoe(fc_hdr(0x01, 0x1, 0x3456, 8, 0x080009, 9, 3, 512) + bytes(40))
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
