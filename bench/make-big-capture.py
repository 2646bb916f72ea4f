#!/usr/bin/env python3
"""Assemble a large benchmark capture from real captures of the corpus.

Reads classic pcap files with Ethernet link type (DLT 1) and writes one pcap of at least
--size bytes by repeating them. Each repetition shifts timestamps forward and rewrites the
client-side TCP/UDP port (port + repetition, wrapping in 20000..60000) so that every repetition
is a distinct set of flows, as in a long capture, rather than retransmissions of the same ones.
Checksums are not recomputed (tshark and phonecert do not verify them by default).

Usage: make-big-capture.py OUT.pcap --size 1G IN.pcap [IN.pcap ...]
"""
import argparse
import struct
import sys


def read_pcap(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xA1B2C3D4:
        e, nano = "<", False
    elif magic == 0xD4C3B2A1:
        e, nano = ">", False
    elif magic == 0xA1B23C4D:
        e, nano = "<", True
    elif magic == 0x4D3CB2A1:
        e, nano = ">", True
    else:
        sys.exit(f"{path}: not a classic pcap")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    if linktype != 1:
        sys.exit(f"{path}: link type {linktype}, only Ethernet (1) is used here")
    off, pkts = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        ns = sec * 1_000_000_000 + (frac if nano else frac * 1000)
        pkts.append((ns, bytearray(data[off + 16:off + 16 + incl]), orig))
        off += 16 + incl
    return pkts


def shift_ports(frame, rep, src):
    # Ethernet + optional VLAN, IPv4 or IPv6, TCP/UDP: rewrite the larger (ephemeral) port.
    off, et = 12, struct.unpack("!H", frame[12:14])[0]
    while et in (0x8100, 0x88A8) and len(frame) >= off + 6:
        off += 4
        et = struct.unpack("!H", frame[off:off + 2])[0]
    off += 2
    if et == 0x0800 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        proto = frame[off + 9]
        frag = struct.unpack("!H", frame[off + 6:off + 8])[0] & 0x1FFF
        if frag:
            return
        l4 = off + ihl
    elif et == 0x86DD and len(frame) >= off + 40:
        proto = frame[off + 6]
        l4 = off + 40
    else:
        return
    if proto not in (6, 17) or len(frame) < l4 + 4:
        return
    sport, dport = struct.unpack("!HH", frame[l4:l4 + 4])
    def bump(p):
        # Distinct per repetition and per source capture, so that no two flows share a 4-tuple.
        return 20000 + (p + rep * 7 + src * 7919) % 40000
    if sport >= dport:
        sport = bump(sport)
    else:
        dport = bump(dport)
    frame[l4:l4 + 4] = struct.pack("!HH", sport, dport)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--size", default="1G")
    a = ap.parse_args()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    size = int(a.size[:-1]) * mult[a.size[-1]] if a.size[-1] in mult else int(a.size)
    sources = [read_pcap(p) for p in a.inputs]
    written, rep, t = 24, 0, 1_782_000_000 * 1_000_000_000
    with open(a.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
        while written < size:
            for src, pkts in enumerate(sources):
                base = min(p[0] for p in pkts) if pkts else 0
                span = 0
                for ns, frame, orig in pkts:
                    fr = bytearray(frame)
                    shift_ports(fr, rep, src)
                    # Captures with stray timestamps keep their order but no more than an hour.
                    ts = t + min(ns - base, 3600 * 1_000_000_000)
                    span = max(span, min(ns - base, 3600 * 1_000_000_000))
                    f.write(struct.pack("<IIII", ts // 1_000_000_000, ts % 1_000_000_000, len(fr), max(orig, len(fr))))
                    f.write(fr)
                    written += 16 + len(fr)
                t += span + 1_000_000_000
            rep += 1
    print(f"{a.out}: {written} bytes, {rep} repetitions of {len(sources)} captures", file=sys.stderr)


if __name__ == "__main__":
    main()
