"""Packet builders shared by the capture generators (make-example-capture.py,
make-tls-h2-capture.py): IPv4, UDP and TCP with valid checksums, DNS names and exchanges, and a
TCP connection with real sequence numbers. Only the Python standard library; deterministic.

Frames leave through the generator's own `emit(from_phone, ip_packet)`, which adds its link
layer and timestamp."""
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


def dns_exchange(emit, ip, phone, resolver, name, addr, txid, sport):
    """One A query from the phone and its answer `addr`, through `emit`."""
    q = struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack("!HH", 1, 1)
    emit(True, ip.udp(phone, sport, resolver, 53, q))
    ans = struct.pack("!HHHHHH", txid, 0x8180, 1, 1, 0, 0) + dns_name(name) + struct.pack("!HH", 1, 1)
    ans += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + ip4(addr)
    emit(False, ip.udp(resolver, 53, phone, sport, ans))


class TcpConn:
    """One TCP connection from the phone: handshake, data both ways in MSS-sized segments, each
    acknowledged, and an orderly close. Initial sequence numbers derive from the source port so
    that every connection of a capture has its own."""

    def __init__(self, emit, ip, phone, server, sport, dport):
        self.emit, self.ip, self.phone = emit, ip, phone
        self.server, self.sport, self.dport = server, sport, dport
        self.cseq, self.sseq = 0x1A2B3C4D + sport * 7919, 0x55AA0000 + sport * 104729

    def _up(self, seq, ack, flags, data=b""):
        self.emit(True, self.ip.tcp_segment(self.phone, self.sport, self.server, self.dport, seq, ack, flags, data))

    def _down(self, seq, ack, flags, data=b""):
        self.emit(False, self.ip.tcp_segment(self.server, self.dport, self.phone, self.sport, seq, ack, flags, data))

    def handshake(self):
        self._up(self.cseq, 0, 0x02)
        self._down(self.sseq, self.cseq + 1, 0x12)
        self.cseq += 1
        self.sseq += 1
        self._up(self.cseq, self.sseq, 0x10)

    def send(self, data, mss=1400):
        for i in range(0, len(data), mss):
            chunk = data[i:i + mss]
            self._up(self.cseq, self.sseq, 0x18, chunk)
            self.cseq += len(chunk)
        self._down(self.sseq, self.cseq, 0x10)

    def recv(self, data, mss=1400):
        for i in range(0, len(data), mss):
            chunk = data[i:i + mss]
            self._down(self.sseq, self.cseq, 0x18, chunk)
            self.sseq += len(chunk)
        self._up(self.cseq, self.sseq, 0x10)

    def close(self):
        self._up(self.cseq, self.sseq, 0x11)
        self._down(self.sseq, self.cseq + 1, 0x11)
        self._up(self.cseq + 1, self.sseq + 1, 0x10)
