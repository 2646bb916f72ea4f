#!/usr/bin/env python3
"""Write a pcap of N DNS queries, each a distinct name from a distinct source port (a phone
that resolves a new tracking subdomain per event), for memory measurements:

    python3 bench/make-dns-flood.py 1200000 /tmp/dns-flood.pcap
    /usr/bin/time -v target/release/phonecert traffic /tmp/dns-flood.pcap --id imei=356938035643809 -o /dev/null
"""
import struct
import sys

n = int(sys.argv[1])
out = open(sys.argv[2], "wb")
out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
client, server = bytes([10, 0, 0, 2]), bytes([8, 8, 8, 8])
for i in range(n):
    name = b"".join(bytes([len(l)]) + l for l in [b"e%d" % i, b"t", b"acme-analytics", b"example"]) + b"\0"
    dns = struct.pack(">HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
    sport = 1024 + i % 60000
    udp = struct.pack(">HHHH", sport, 53, 8 + len(dns), 0) + dns
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0, client, server) + udp
    frame = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + ip
    ts = 1782000000 + i // 1000
    out.write(struct.pack("<IIII", ts, (i % 1000) * 1000, len(frame), len(frame)) + frame)
out.close()
