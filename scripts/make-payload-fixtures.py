#!/usr/bin/env python3
"""Write the A/B OTA payload fixtures of crates/pc-image/tests/payload.rs, deterministically.

Outputs (under tests/data/images/payload/ unless another folder is given):
* full.bin        a full payload (major version 2, minor version 0) of three partitions:
                  - vendor:  ext4 made by mke2fs -d from examples/acme-a1/firmware/vendor,
                             one extent per operation, REPLACE / REPLACE_BZ / REPLACE_XZ / ZERO
                             (the operations payload-dumper 0.3.0 applies, so it is the oracle);
                  - product: ext4 from examples/acme-a1/firmware/product, same operations;
                  - odm:     synthetic: zero blocks, incompressible blocks, text; ZSTD, DISCARD
                             (over zero blocks), and REPLACE / REPLACE_XZ ops writing several
                             extents out of order (payload-dumper cannot apply these, so this
                             partition's oracle is the image this script made).
                  A metadata signature blob and a payload signature blob are present (dummy
                  bytes: nothing here checks them) so that data offsets start after them.
* incremental.bin a delta payload (minor version 8): SOURCE_COPY + REPLACE over old_partition_info,
                  which a reader of full payloads must refuse.
* images/*.img    not written: the test checks sha256 against oracle.json, made by
                  `scripts/make-payload-fixtures.py --oracle` running payload_dumper on full.bin.

The manifest is encoded here (protobuf wire format by hand) with the field numbers of AOSP
system/update_engine/update_metadata.proto. Needs: mke2fs (e2fsprogs), python3 `zstandard`.

Usage: python3 scripts/make-payload-fixtures.py [OUTDIR]
       python3 scripts/make-payload-fixtures.py --oracle [OUTDIR]   (also runs payload_dumper)
"""
import bz2
import hashlib
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import zstandard

BS = 4096
T = 1700000000  # every time stamp in the images
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# InstallOperation.Type (AOSP update_metadata.proto).
REPLACE, REPLACE_BZ, SOURCE_COPY, ZERO, DISCARD, REPLACE_XZ, ZSTD = 0, 1, 4, 6, 7, 8, 14


# --- protobuf wire format -------------------------------------------------------------------
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, n):
    return varint(num << 3) + varint(n)


def f_bytes(num, b):
    return varint((num << 3) | 2) + varint(len(b)) + b


def extent(start, count):
    return f_varint(1, start) + f_varint(2, count)


def part_info(size, digest):
    return f_varint(1, size) + f_bytes(2, digest)


def operation(kind, data_offset, data, dst, src=()):
    m = f_varint(1, kind)
    if data is not None:
        m += f_varint(2, data_offset) + f_varint(3, len(data))
    for s, c in src:
        m += f_bytes(4, extent(s, c))
    for s, c in dst:
        m += f_bytes(6, extent(s, c))
    if data is not None:
        m += f_bytes(8, hashlib.sha256(data).digest())
    return m


def signatures(blob):
    # Signatures { repeated Signature signatures = 1 { bytes data = 2 } }
    return f_bytes(1, f_bytes(2, blob))


# --- images ---------------------------------------------------------------------------------
def ext4_image(src_dir, size_kib, uuid, seed):
    """mke2fs -d over a copy of src_dir whose times are fixed (mke2fs copies them)."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "tree")
        shutil.copytree(src_dir, tree)
        for dirpath, dirnames, filenames in os.walk(tree, topdown=False):
            for n in filenames + dirnames:
                os.utime(os.path.join(dirpath, n), (1700000000, 1700000000))
        os.utime(tree, (1700000000, 1700000000))
        img = os.path.join(tmp, "fs.img")
        env = dict(os.environ, E2FSPROGS_FAKE_TIME="1700000000", SOURCE_DATE_EPOCH="1700000000")
        subprocess.run(
            ["mke2fs", "-q", "-F", "-t", "ext4", "-b", str(BS), "-O", "^has_journal",
             "-m", "0", "-N", "64", "-U", uuid, "-E", f"hash_seed={seed}",
             "-L", os.path.basename(src_dir), "-d", tree, img, f"{size_kib}k"],
            check=True, env=env)
        # mke2fs -d copies each file's ctime and the nanoseconds of its times, which no copy
        # can fix: set every used inode's times afterwards.
        count = sum(len(d) + len(f) for _, d, f in os.walk(tree)) + 12
        cmds = "".join(f"sif <{ino}> {field} {val}\n" for ino in range(2, count)
                       for field, val in (("atime", T), ("ctime", T), ("mtime", T), ("crtime", T),
                                          ("atime_extra", 0), ("ctime_extra", 0),
                                          ("mtime_extra", 0), ("crtime_extra", 0)))
        subprocess.run(["debugfs", "-w", "-f", "-", img], input=cmds.encode(), check=True,
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(img, "rb") as f:
            return f.read()


def prng(seed, n):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(seed + i.to_bytes(8, "little")).digest()
        i += 1
    return bytes(out[:n])


def odm_image():
    """48 blocks: 0-7 text, 8-15 zero, 16-23 random, 24-31 zero, 32-47 text + random."""
    text = b"".join(b"ro.odm.build.line=%06d acme odm\n" % i for i in range(2000))
    blocks = [b""] * 48
    for i in range(8):
        blocks[i] = text[i * BS:(i + 1) * BS]
    for i in range(8, 16):
        blocks[i] = bytes(BS)
    rnd = prng(b"odm", 16 * BS)
    for i in range(16, 24):
        blocks[i] = rnd[(i - 16) * BS:(i - 15) * BS]
    for i in range(24, 32):
        blocks[i] = bytes(BS)
    for i in range(32, 40):
        blocks[i] = text[(i - 24) * BS:(i - 23) * BS]
    for i in range(40, 48):
        blocks[i] = rnd[(i - 32) * BS:(i - 31) * BS]
    return b"".join(blocks)


# --- payload --------------------------------------------------------------------------------
class Blobs:
    def __init__(self):
        self.data = bytearray()

    def add(self, b):
        off = len(self.data)
        self.data += b
        return off


def simple_ops(img, blobs, chunk=16):
    """One extent per op, cycling REPLACE / REPLACE_BZ / REPLACE_XZ; ZERO for zero chunks."""
    ops = []
    nblocks = len(img) // BS
    kinds = [REPLACE, REPLACE_BZ, REPLACE_XZ]
    k = 0
    for start in range(0, nblocks, chunk):
        n = min(chunk, nblocks - start)
        raw = img[start * BS:(start + n) * BS]
        if raw.count(0) == len(raw):
            ops.append(operation(ZERO, 0, None, [(start, n)]))
            continue
        kind = kinds[k % 3]
        k += 1
        data = {REPLACE: raw, REPLACE_BZ: bz2.compress(raw, 9),
                REPLACE_XZ: lzma.compress(raw, check=lzma.CHECK_CRC32)}[kind]
        ops.append(operation(kind, blobs.add(data), data, [(start, n)]))
    return ops


def odm_ops(img, blobs):
    def blk(a, b):
        return img[a * BS:b * BS]
    ops = []
    # ZSTD over text blocks 0-7.
    d = zstandard.ZstdCompressor(level=19, write_checksum=True).compress(blk(0, 8))
    ops.append(operation(ZSTD, blobs.add(d), d, [(0, 8)]))
    # ZERO 8-15.
    ops.append(operation(ZERO, 0, None, [(8, 8)]))
    # REPLACE of random data into two extents, the second first: 20-23 then 16-19.
    d = blk(20, 24) + blk(16, 20)
    ops.append(operation(REPLACE, blobs.add(d), d, [(20, 4), (16, 4)]))
    # DISCARD 24-31 (zero in the image: what a reader returns for discarded blocks).
    ops.append(operation(DISCARD, 0, None, [(24, 8)]))
    # REPLACE_XZ of blocks 40-47 then 32-39 in one stream.
    d = lzma.compress(blk(40, 48) + blk(32, 40), check=lzma.CHECK_CRC32)
    ops.append(operation(REPLACE_XZ, blobs.add(d), d, [(40, 8), (32, 8)]))
    return ops


def partition(name, img, ops, old=None):
    m = f_bytes(1, name.encode())
    if old is not None:
        m += f_bytes(6, part_info(len(old), hashlib.sha256(old).digest()))
    m += f_bytes(7, part_info(len(img), hashlib.sha256(img).digest()))
    for op in ops:
        m += f_bytes(8, op)
    return m


def payload(parts, blobs, minor, spl):
    sig = signatures(prng(b"payload-signature", 256))
    body = f_varint(3, BS)
    body += f_varint(4, len(blobs.data)) + f_varint(5, len(sig))
    body += f_varint(12, minor)
    for p in parts:
        body += f_bytes(13, p)
    body += f_varint(14, 1700000000)
    body += f_bytes(18, spl.encode())
    meta_sig = signatures(prng(b"metadata-signature", 256))
    head = b"CrAU" + struct.pack(">QQI", 2, len(body), len(meta_sig))
    return head + body + meta_sig + bytes(blobs.data) + sig


def main():
    args = sys.argv[1:]
    oracle = "--oracle" in args
    args = [a for a in args if a != "--oracle"]
    out = args[0] if args else os.path.join(ROOT, "tests/data/images/payload")
    os.makedirs(out, exist_ok=True)
    fw = os.path.join(ROOT, "examples/acme-a1/firmware")
    vendor = ext4_image(os.path.join(fw, "vendor"), 512, "6f1d3c8e-0a52-4c1b-9d0e-5a7b2c3d4e01",
                        "0b7e4a1c-2d3f-4e5a-8b9c-0d1e2f3a4b01")
    product = ext4_image(os.path.join(fw, "product"), 768, "6f1d3c8e-0a52-4c1b-9d0e-5a7b2c3d4e02",
                         "0b7e4a1c-2d3f-4e5a-8b9c-0d1e2f3a4b02")
    odm = odm_image()

    blobs = Blobs()
    parts = [partition("vendor", vendor, simple_ops(vendor, blobs)),
             partition("product", product, simple_ops(product, blobs)),
             partition("odm", odm, odm_ops(odm, blobs))]
    with open(os.path.join(out, "full.bin"), "wb") as f:
        f.write(payload(parts, blobs, 0, "2026-11-05"))

    # Incremental: odm rebuilt from an older odm by copying its first 16 blocks.
    blobs = Blobs()
    old = odm_image()[:32 * BS]
    d = odm[16 * BS:]
    ops = [operation(SOURCE_COPY, 0, None, [(0, 16)], src=[(0, 16)]),
           operation(REPLACE, blobs.add(d), d, [(16, 32)])]
    with open(os.path.join(out, "incremental.bin"), "wb") as f:
        f.write(payload([partition("odm", odm, ops, old=old)], blobs, 8, "2026-11-05"))

    expect = {n: hashlib.sha256(i).hexdigest() for n, i in (("vendor", vendor), ("product", product), ("odm", odm))}
    if oracle:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["payload_dumper", "--out", tmp, "--partitions", "vendor,product",
                            "--workers", "1", os.path.join(out, "full.bin")],
                           check=True, stdout=subprocess.DEVNULL)
            dumped = {}
            for name in ("vendor", "product"):
                with open(os.path.join(tmp, name + ".img"), "rb") as f:
                    dumped[name] = hashlib.sha256(f.read()).hexdigest()
        doc = {
            "tool": "payload_dumper 0.3.0 (PyPI payload-dumper), "
                    "payload_dumper --out DIR --partitions vendor,product full.bin",
            "payload_dumper": dumped,
            "made_by_script": expect,
            "note": "odm uses ZSTD and DISCARD and multi-extent REPLACE, which payload_dumper "
                    "0.3.0 does not apply; its oracle is the sha256 of the image the script "
                    "made. The images themselves are not kept.",
        }
        with open(os.path.join(out, "oracle.json"), "w") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
