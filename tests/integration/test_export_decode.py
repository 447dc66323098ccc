#!/usr/bin/env python3
"""The IPFIX stream the real binary sends, received on a loopback socket and
checked two ways: by tshark's IPFIX dissector (no malformed or warning expert
info) and by a small independent decoder (RFC 7011: templates before data,
sequence numbers, message sizes, end reasons, record counts)."""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

TUNNEL = os.path.join(harness.CORPUS, "icmp-tunnel.pcap")


class Receiver:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.datagrams = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                self.datagrams.append(self.sock.recv(65535))
            except socket.timeout:
                pass

    def stop(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def decode(datagrams):
    """Returns (messages, data records by template id, flow end reasons)."""
    templates = {}
    records = {}
    reasons = []
    messages = []
    for dg in datagrams:
        version, length, export_time, seq, odid = struct.unpack("!HHIII", dg[:16])
        assert version == 10 and length == len(dg), "header length matches the datagram"
        off = 16
        data_in_msg = 0
        while off < length:
            set_id, set_len = struct.unpack("!HH", dg[off:off + 4])
            assert set_len >= 4 and off + set_len <= length, "set inside its message"
            body = dg[off + 4:off + set_len]
            if set_id in (2, 3):
                p = 0
                while p + 4 <= len(body):
                    tid, count = struct.unpack("!HH", body[p:p + 4])
                    p += 4
                    if set_id == 3:
                        scope = struct.unpack("!H", body[p:p + 2])[0]
                        p += 2
                    fields = []
                    for _ in range(count):
                        ie, flen = struct.unpack("!HH", body[p:p + 4])
                        p += 4
                        pen = None
                        if ie & 0x8000:
                            pen = struct.unpack("!I", body[p:p + 4])[0]
                            p += 4
                        fields.append((ie & 0x7FFF, flen, pen))
                    templates[tid] = fields
            elif set_id >= 256:
                assert set_id in templates, "template %d arrives before its data" % set_id
                fields = templates[set_id]
                p = 0
                fixed = all(f[1] != 0xFFFF for f in fields)
                min_len = sum(f[1] for f in fields if f[1] != 0xFFFF)
                while len(body) - p >= max(min_len, 1) and (fixed or len(body) - p >= 4):
                    rec = {}
                    for ie, flen, pen in fields:
                        if flen == 0xFFFF:
                            flen = body[p]
                            p += 1
                            if flen == 255:
                                flen = struct.unpack("!H", body[p:p + 2])[0]
                                p += 2
                        rec[(ie, pen)] = body[p:p + flen]
                        p += flen
                    records.setdefault(set_id, []).append(rec)
                    data_in_msg += 1
                    if (136, None) in rec:
                        reasons.append(rec[(136, None)][0])
                    if not fixed and all(b == 0 for b in body[p:]):
                        break  # padding
            off += set_len
        messages.append(dict(seq=seq, odid=odid, length=length, data=data_in_msg))
    return messages, records, reasons


class ExportDecode(unittest.TestCase):
    def run_capture(self, pcap, extra=()):
        rx = Receiver()
        try:
            _, stats = harness.run_echoflow(["--pcap", pcap, "--collector", "127.0.0.1:%d" % rx.port, "--quiet",
                                             "--odid", "77"] + list(extra))
        finally:
            rx.stop()
        return rx.datagrams, stats

    @harness.needs_corpus
    def test_stream_follows_rfc7011_and_counts_match(self):
        datagrams, stats = self.run_capture(TUNNEL, ["--idle-timeout", "2"])
        self.assertEqual(len(datagrams), stats["messages_sent"])
        messages, records, reasons = decode(datagrams)
        expected_seq = 0
        for m in messages:
            self.assertEqual(m["odid"], 77)
            self.assertLessEqual(m["length"], 1472)
            self.assertEqual(m["seq"], expected_seq & 0xFFFFFFFF, "sequence = data records sent before")
            expected_seq += m["data"]
        # Flow records are the ones carrying packetDeltaCount (IE 2); the
        # options records (statistics, RFC 5610 type records) do not.
        flow_records = sum(1 for v in records.values() for r in v if (2, None) in r)
        self.assertEqual(flow_records, stats["records_exported"])
        total_packets = sum(int.from_bytes(r[(2, None)], "big") for v in records.values() for r in v
                            if (2, None) in r)
        self.assertEqual(total_packets, harness.tshark_icmp_totals(TUNNEL)["packets"])
        self.assertIn(4, reasons, "end of capture: forced end")
        self.assertIn(1, reasons, "2 s idle timeout on a capture with longer pauses: idle")

    @harness.needs_corpus
    def test_tshark_decodes_without_warnings(self):
        datagrams, stats = self.run_capture(TUNNEL)
        port = 4739
        with tempfile.TemporaryDirectory() as d:
            pcap = os.path.join(d, "export.pcap")
            from scapy.all import IP, UDP, Ether, wrpcap  # python3-scapy
            wrpcap(pcap, [Ether() / IP(src="127.0.0.1", dst="127.0.0.1") / UDP(sport=40000, dport=port) / dg
                          for dg in datagrams])
            out = subprocess.run(["tshark", "-r", pcap, "-d", "udp.port==%d,cflow" % port, "-V"],
                                 capture_output=True, text=True, check=True).stdout
            fields = subprocess.run(["tshark", "-r", pcap, "-d", "udp.port==%d,cflow" % port, "-T", "fields",
                                     "-e", "cflow.packets", "-E", "aggregator=,"],
                                    capture_output=True, text=True, check=True).stdout
        self.assertNotIn("Malformed", out)
        self.assertNotIn("[Expert Info (Warning", out)
        self.assertNotIn("[Expert Info (Error", out)
        self.assertIn("IPFIX", out)
        counts = [int(x) for line in fields.split() for x in line.split(",") if x]
        self.assertEqual(sum(counts), harness.tshark_icmp_totals(TUNNEL)["packets"])
        self.assertEqual(len(counts), stats["records_exported"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
