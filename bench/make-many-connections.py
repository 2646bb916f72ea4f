#!/usr/bin/env python3
"""Write a pcap of N short TCP connections, to measure the traffic engine's memory on captures
of millions of flows (flow-table eviction, bounded lists).

Each connection is a distinct 4-tuple (clients across 10.0.0.0/8, ports 1024..65535) to one of
8 servers on port 80: a SYN, one HTTP GET (every 1000th carries the IMEI 356938035643809 in
its query), and for every other connection a RST; the rest stay open, as connections do in a
capture stopped mid-way, and only flow eviction ends them. Timestamps advance 10 us per packet. Checksums are zero
(tshark and phonecert do not verify them by default).

Usage: make-many-connections.py OUT.pcap [N]      (default N = 10,000,000; about 2.2 GB)
"""
import struct
import sys

out_path = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000

ETH = bytes.fromhex("02000000000202000000000108 00".replace(" ", ""))
SERVERS = [bytes([93, 184, 216, i + 1]) for i in range(8)]


def ip_tcp(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)
    return ETH + ip + tcp + payload


def main():
    ts = 1_700_000_000 * 1_000_000
    with open(out_path, "wb", buffering=16 << 20) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n):
            c = 1 + i // 64512
            src = bytes([10, (c >> 16) & 255, (c >> 8) & 255, c & 255])
            sport = 1024 + i % 64512
            dst = SERVERS[i % 8]
            q = b"imei=356938035643809" if i % 1000 == 0 else b"n=%d" % i
            get = b"GET /c?" + q + b" HTTP/1.1\r\nHost: t%d.example\r\n\r\n" % (i % 8)
            pkts = [
                ip_tcp(src, dst, sport, 80, 1000, 0, 0x02, b""),
                ip_tcp(src, dst, sport, 80, 1001, 1, 0x18, get),
            ]
            if i % 2 == 0:
                pkts.append(ip_tcp(src, dst, sport, 80, 1001 + len(get), 1, 0x04, b""))
            for p in pkts:
                ts += 10
                f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(p), len(p)))
                f.write(p)
    print(f"{out_path}: {n} connections", file=sys.stderr)


main()
