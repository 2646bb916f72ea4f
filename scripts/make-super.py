#!/usr/bin/env python3
"""Writes a super.img (Android dynamic partitions, liblp metadata 10.2) from partition images.

No Debian tool builds super images (AOSP's lpmake is not packaged), so this generator follows
the format definition (AOSP fs_mgr/liblp/include/liblp/metadata_format.h); its output is
checked by an independent reader, PyPI liblp's lpunpack (scripts/make-firmware-images.sh).

    make-super.py OUT --slots 2 --part system_a=system.img --part vendor_a=vendor.img \
        [--empty system_b ...]

Deterministic: same inputs, same bytes.
"""
import argparse, hashlib, struct

SECTOR = 512
RESERVED = 4096
GEOMETRY_SIZE = 4096
MAX_META = 65536
ALIGN = 1 << 20


def name36(s):
    b = s.encode()
    assert len(b) < 36
    return b + b"\0" * (36 - len(b))


def geometry(slots, block_size):
    g = struct.pack("<II32sIII", 0x616C4467, 52, b"\0" * 32, MAX_META, slots, block_size)
    g = g[:8] + hashlib.sha256(g).digest() + g[40:]
    return g + b"\0" * (GEOMETRY_SIZE - len(g))


def metadata(parts, device_size, first_sector):
    """parts: list of (name, attributes, group_index, [(sectors, type, target)])."""
    pt, et = b"", b""
    n_ext = 0
    for name, attrs, group, exts in parts:
        pt += name36(name) + struct.pack("<IIII", attrs, n_ext, len(exts), group)
        for sectors, typ, target in exts:
            et += struct.pack("<QIQI", sectors, typ, target, 0)
        n_ext += len(exts)
    gt = name36("default") + struct.pack("<IQ", 0, 0)
    gt += name36("phonecert_dynamic") + struct.pack("<IQ", 0, device_size)
    bt = struct.pack("<QIIQ", first_sector, ALIGN, 0, device_size) + name36("super") + struct.pack("<I", 0)
    tables = pt + et + gt + bt
    desc = struct.pack(
        "<12I",
        0, len(parts), 52,
        len(pt), n_ext, 24,
        len(pt) + len(et), 2, 48,
        len(pt) + len(et) + len(gt), 1, 64,
    )
    header_size = 256
    h = struct.pack("<IHHI32sI32s", 0x414C5030, 10, 2, header_size, b"\0" * 32, len(tables),
                    hashlib.sha256(tables).digest())
    h += desc + struct.pack("<I", 0) + b"\0" * 124
    assert len(h) == header_size, len(h)
    h = h[:12] + hashlib.sha256(h).digest() + h[44:]
    m = h + tables
    assert len(m) <= MAX_META
    return m + b"\0" * (MAX_META - len(m))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--part", action="append", default=[])
    ap.add_argument("--empty", action="append", default=[])
    a = ap.parse_args()
    meta_end = RESERVED + 2 * GEOMETRY_SIZE + 2 * a.slots * MAX_META
    pos = (meta_end + ALIGN - 1) // ALIGN * ALIGN
    first_sector = pos // SECTOR
    images, parts = [], []
    for spec in a.part:
        name, path = spec.split("=", 1)
        data = open(path, "rb").read()
        size = (len(data) + SECTOR - 1) // SECTOR * SECTOR
        data += b"\0" * (size - len(data))
        parts.append((name, 1, 1, [(size // SECTOR, 0, pos // SECTOR)]))
        images.append((pos, data))
        pos = (pos + size + ALIGN - 1) // ALIGN * ALIGN
    for name in a.empty:
        parts.append((name, 1, 1, []))
    device_size = pos
    geo = geometry(a.slots, 4096)
    meta = metadata(parts, device_size, first_sector)
    out = bytearray(device_size)
    out[RESERVED:RESERVED + GEOMETRY_SIZE] = geo
    out[RESERVED + GEOMETRY_SIZE:RESERVED + 2 * GEOMETRY_SIZE] = geo
    base = RESERVED + 2 * GEOMETRY_SIZE
    for copy in range(2 * a.slots):
        out[base + copy * MAX_META:base + (copy + 1) * MAX_META] = meta
    for at, data in images:
        out[at:at + len(data)] = data
    open(a.out, "wb").write(out)


if __name__ == "__main__":
    main()
