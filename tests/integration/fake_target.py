#!/usr/bin/env python3
"""A deliberately strict, tiny iSCSI target for testing initiators (RFC 7143).

Serves one 1 MiB LU (512-byte blocks, in memory) to connections on
127.0.0.1:PORT, one at a time, until --sessions logins have ended. It
negotiates what sangwd does not: InitialR2T=Yes, ImmediateData=No (every
byte of a write through R2T), MaxRecvDataSegmentLength=8192 (Data-Out in
8 KiB pieces) and a CmdSN window of 4 commands, and checks the initiator
keeps to them. Scenarios:

  plain   nothing more;
  nop     a NOP-In ping (TTT set) after the 10th command, whose NOP-Out
          answer must come back with the same TTT and data;
  reject  a Reject of the 20th command (reason 0x09, invalid PDU field);
  async   an Async Message asking for a logout after the 20th command;
  silent  no answer to any command after the 20th (the initiator's
          timeout must end the session).

Prints what it saw on stderr; exits 0 when the initiator kept every rule
(and answered the ping), 1 otherwise, 2 on a bad command line.
"""
import argparse
import socket
import struct
import sys

BLOCK = 512
LU_BLOCKS = 2048
WINDOW = 4
OUR_MRDSL = 8192
MAX_BURST = 65536


def pad4(n):
    return (n + 3) & ~3


def sn_gt(a, b):
    """Serial number arithmetic (RFC 1982), as RFC 7143 4.2.2.1 uses it."""
    d = (a - b) & 0xFFFFFFFF
    return d != 0 and d < 0x80000000


def die(msg):
    print("fake_target: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


class Conn:
    def __init__(self, sock, scenario, store):
        self.sock = sock
        self.scenario = scenario
        self.store = store
        self.statsn = 1000
        self.exp_cmdsn = 0
        self.max_cmdsn = 0
        self.peer_mrdsl = 8192
        self.commands = 0
        self.writes = {}        # TTT -> [itt, lba, length, received bytes, buffer]
        self.next_ttt = 1
        self.ping_answered = False
        self.ping_sent = False
        self.logged_out = False

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            buf += chunk
        return buf

    def recv_pdu(self):
        bhs = self.recv_exact(48)
        if bhs is None:
            return None, None
        ahs = bhs[4] * 4
        dsl = int.from_bytes(bhs[5:8], "big")
        rest = self.recv_exact(ahs + pad4(dsl)) if ahs + dsl else b""
        if rest is None:
            die("connection closed inside a PDU")
        return bhs, rest[ahs:ahs + dsl]

    def send_pdu(self, bhs, data=b""):
        bhs = bytearray(bhs)
        bhs[5:8] = len(data).to_bytes(3, "big")
        self.sock.sendall(bytes(bhs) + data + b"\0" * (pad4(len(data)) - len(data)))

    def seq_fields(self, bhs, status=True):
        """StatSN (advanced when status is True), ExpCmdSN, MaxCmdSN."""
        struct.pack_into(">III", bhs, 24, self.statsn, self.exp_cmdsn, self.max_cmdsn)
        if status:
            self.statsn += 1

    def login(self):
        stage_done = False
        while True:
            bhs, data = self.recv_pdu()
            if bhs is None:
                return False
            if bhs[0] & 0x3F != 0x03:
                die("expected a Login Request, got opcode 0x%02x" % (bhs[0] & 0x3F))
            keys = dict(kv.split("=", 1) for kv in data.decode().split("\0") if "=" in kv)
            csg = (bhs[1] >> 2) & 3
            nsg = bhs[1] & 3
            cmdsn = struct.unpack_from(">I", bhs, 24)[0]
            self.exp_cmdsn = cmdsn
            self.max_cmdsn = cmdsn + WINDOW - 1
            rsp = bytearray(48)
            rsp[0] = 0x23
            rsp[8:14] = bhs[8:14]
            rsp[16:20] = bhs[16:20]
            if csg == 0:
                if keys.get("AuthMethod") != "None" or "InitiatorName" not in keys:
                    die("security stage without AuthMethod=None and InitiatorName: %r" % keys)
                text = "TargetPortalGroupTag=1\0AuthMethod=None\0"
            else:
                if "MaxRecvDataSegmentLength" in keys:
                    self.peer_mrdsl = int(keys["MaxRecvDataSegmentLength"])
                text = ("HeaderDigest=None\0DataDigest=None\0InitialR2T=Yes\0ImmediateData=No\0"
                        "FirstBurstLength=65536\0MaxBurstLength=%d\0MaxOutstandingR2T=1\0"
                        "MaxConnections=1\0ErrorRecoveryLevel=0\0DataPDUInOrder=Yes\0"
                        "DataSequenceInOrder=Yes\0DefaultTime2Wait=0\0DefaultTime2Retain=0\0"
                        "MaxRecvDataSegmentLength=%d\0" % (MAX_BURST, OUR_MRDSL))
                stage_done = True
            if bhs[1] & 0x80:
                rsp[1] = 0x80 | (csg << 2) | nsg
            else:
                rsp[1] = csg << 2
            rsp[14:16] = (7).to_bytes(2, "big")      # TSIH
            self.seq_fields(rsp)
            self.send_pdu(rsp, text.encode())
            if stage_done and bhs[1] & 0x80 and nsg == 3:
                return True

    def respond(self, itt, status=0, sense=b""):
        rsp = bytearray(48)
        rsp[0] = 0x21
        rsp[1] = 0x80
        rsp[3] = status
        rsp[16:20] = itt
        self.seq_fields(rsp)
        data = (len(sense).to_bytes(2, "big") + sense) if sense else b""
        self.send_pdu(rsp, data)

    def data_in(self, itt, payload):
        """Data-In PDUs of at most half the initiator's MRDSL, status in the last."""
        piece = max(512, min(self.peer_mrdsl, 65536) // 2)
        offset = 0
        datasn = 0
        while True:
            chunk = payload[offset:offset + piece]
            last = offset + len(chunk) >= len(payload)
            pdu = bytearray(48)
            pdu[0] = 0x25
            pdu[1] = 0x81 if last else 0x00
            pdu[16:20] = itt
            pdu[20:24] = b"\xff\xff\xff\xff"
            self.seq_fields(pdu, status=last)
            struct.pack_into(">II", pdu, 36, datasn, offset)
            self.send_pdu(pdu, chunk)
            offset += len(chunk)
            datasn += 1
            if last:
                return

    def command(self, bhs):
        itt = bhs[16:20]
        cmdsn = struct.unpack_from(">I", bhs, 24)[0]
        immediate = bool(bhs[0] & 0x40)
        if not immediate:
            if cmdsn != self.exp_cmdsn:
                die("CmdSN %d, expected %d" % (cmdsn, self.exp_cmdsn))
            if sn_gt(cmdsn, self.max_cmdsn):
                die("CmdSN %d beyond MaxCmdSN %d" % (cmdsn, self.max_cmdsn))
            self.exp_cmdsn = (cmdsn + 1) & 0xFFFFFFFF
        self.commands += 1
        # A window of WINDOW commands past the last one received.
        self.max_cmdsn = (self.exp_cmdsn + WINDOW - 1) & 0xFFFFFFFF
        edtl = struct.unpack_from(">I", bhs, 20)[0]
        cdb = bhs[32:48]
        if self.scenario == "reject" and self.commands == 20:
            rej = bytearray(48)
            rej[0] = 0x3F
            rej[1] = 0x80
            rej[2] = 0x09
            rej[16:20] = b"\xff\xff\xff\xff"
            self.seq_fields(rej)
            self.send_pdu(rej, bytes(bhs))
            print("fake_target: rejected command %d" % self.commands, file=sys.stderr)
            return
        if self.scenario == "silent" and self.commands > 20:
            return
        if self.scenario == "async" and self.commands == 20:
            msg = bytearray(48)
            msg[0] = 0x32
            msg[1] = 0x80
            msg[16:20] = b"\xff\xff\xff\xff"
            self.seq_fields(msg)
            msg[36] = 1                      # the target requests a logout
            struct.pack_into(">HHH", msg, 38, 0, 0, 5)
            self.send_pdu(msg)
            print("fake_target: asked for a logout", file=sys.stderr)
        if self.scenario == "nop" and self.commands == 10 and not self.ping_sent:
            ping = bytearray(48)
            ping[0] = 0x20
            ping[1] = 0x80
            ping[16:20] = b"\xff\xff\xff\xff"
            ping[20:24] = (0x77).to_bytes(4, "big")
            self.seq_fields(ping, status=False)
            self.send_pdu(ping, b"ping-data")
            self.ping_sent = True
            print("fake_target: sent a NOP-In ping", file=sys.stderr)
        op = cdb[0]
        if op == 0x00:                                   # TEST UNIT READY
            self.respond(itt)
        elif op == 0x9E and cdb[1] & 0x1F == 0x10:       # READ CAPACITY(16)
            data = struct.pack(">QI", LU_BLOCKS - 1, BLOCK) + b"\0" * 20
            self.data_in(itt, data[:edtl])
        elif op in (0x88, 0x8A):                         # READ(16), WRITE(16)
            lba = int.from_bytes(cdb[2:10], "big")
            length = int.from_bytes(cdb[10:14], "big") * BLOCK
            if length != edtl or lba * BLOCK + length > len(self.store):
                self.respond(itt, 2, bytes([0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, 0]))
            elif op == 0x88:
                if not bhs[1] & 0x40:
                    die("READ(16) without the R bit")
                self.data_in(itt, bytes(self.store[lba * BLOCK:lba * BLOCK + length]))
            else:
                if int.from_bytes(bhs[5:8], "big") != 0:
                    die("immediate data although ImmediateData=No")
                if not bhs[1] & 0x80:
                    die("unsolicited Data-Out announced although InitialR2T=Yes")
                ttt = self.next_ttt
                self.next_ttt += 1
                self.writes[ttt] = [itt, lba, length, 0, bytearray(length)]
                self.r2t(ttt)
        else:
            self.respond(itt, 2, bytes([0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0]))

    def r2t(self, ttt):
        itt, _lba, length, got, _buf = self.writes[ttt]
        pdu = bytearray(48)
        pdu[0] = 0x31
        pdu[1] = 0x80
        pdu[16:20] = itt
        pdu[20:24] = ttt.to_bytes(4, "big")
        self.seq_fields(pdu, status=False)
        struct.pack_into(">III", pdu, 36, 0, got, min(MAX_BURST, length - got))
        self.send_pdu(pdu)

    def data_out(self, bhs, data):
        ttt = struct.unpack_from(">I", bhs, 20)[0]
        if ttt not in self.writes:
            die("Data-Out with TTT 0x%x that no R2T gave" % ttt)
        if len(data) > OUR_MRDSL:
            die("Data-Out of %d bytes, more than our MaxRecvDataSegmentLength %d" % (len(data), OUR_MRDSL))
        w = self.writes[ttt]
        offset = struct.unpack_from(">I", bhs, 40)[0]
        if offset != w[3]:
            die("Data-Out at offset %d, expected %d" % (offset, w[3]))
        w[4][offset:offset + len(data)] = data
        w[3] += len(data)
        if bhs[1] & 0x80:
            if w[3] == w[2]:
                del self.writes[ttt]
                self.store[w[1] * BLOCK:w[1] * BLOCK + w[2]] = w[4]
                self.respond(w[0])
            elif w[3] % MAX_BURST == 0:
                self.r2t(ttt)
            else:
                die("final Data-Out at %d of %d bytes, not at a burst's end" % (w[3], w[2]))

    def serve(self):
        if not self.login():
            return
        while True:
            bhs, data = self.recv_pdu()
            if bhs is None:
                return
            op = bhs[0] & 0x3F
            if op == 0x01:
                self.command(bhs)
            elif op == 0x05:
                self.data_out(bhs, data)
            elif op == 0x00:                             # NOP-Out
                ttt = struct.unpack_from(">I", bhs, 20)[0]
                if ttt == 0x77 and data == b"ping-data" and bhs[0] & 0x40:
                    self.ping_answered = True
                    print("fake_target: the ping was answered", file=sys.stderr)
                else:
                    die("unexpected NOP-Out (TTT 0x%x, data %r)" % (ttt, data))
            elif op == 0x06:                             # Logout Request
                rsp = bytearray(48)
                rsp[0] = 0x26
                rsp[1] = 0x80
                rsp[16:20] = bhs[16:20]
                self.seq_fields(rsp)
                self.send_pdu(rsp)
                self.logged_out = True
                return
            else:
                die("unexpected opcode 0x%02x" % op)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--scenario", choices=["plain", "nop", "reject", "async", "silent"], default="plain")
    p.add_argument("--sessions", type=int, default=1)
    p.add_argument("--ready-file")
    a = p.parse_args()
    store = bytearray(LU_BLOCKS * BLOCK)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(4)
    srv.settimeout(60)
    if a.ready_file:
        open(a.ready_file, "w").close()
    pinged = answered = False
    for _ in range(a.sessions):
        sock, _addr = srv.accept()
        sock.settimeout(60)
        conn = Conn(sock, a.scenario, store)
        conn.serve()
        sock.close()
        pinged |= conn.ping_sent
        answered |= conn.ping_answered
    if a.scenario == "nop" and not (pinged and answered):
        die("the NOP-In ping was %s" % ("never sent" if not pinged else "not answered"))
    print("fake_target: ok", file=sys.stderr)


if __name__ == "__main__":
    main()
