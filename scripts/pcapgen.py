"""Packet builders shared by the capture generators (make-example-capture.py,
make-tls-h2-capture.py): IPv4, UDP and TCP with valid checksums, and DNS names.
Only the Python standard library; deterministic."""
import struct


def csum(data):
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def dns_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


class IPv4:
    """IPv4 packets with sequential identification numbers starting after `first_id`."""

    def __init__(self, first_id):
        self.ip_id = first_id

    def ipv4(self, src, dst, proto, payload):
        self.ip_id += 1
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), self.ip_id, 0x4000, 64, proto, 0, ip4(src), ip4(dst))
        hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
        return hdr + payload

    def udp(self, src, sport, dst, dport, payload):
        pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 17, 8 + len(payload))
        hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
        c = csum(pseudo + hdr + payload) or 0xFFFF
        return self.ipv4(src, dst, 17, hdr[:6] + struct.pack("!H", c) + payload)

    def tcp_segment(self, src, sport, dst, dport, seq, ack, flags, payload=b""):
        hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
        pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
        c = csum(pseudo + hdr + payload)
        return self.ipv4(src, dst, 6, hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload)
