#!/usr/bin/env python3
"""Write the block-OTA fixtures of crates/pc-image/tests/transfer.rs, deterministically.

From one ext4 image (mke2fs -d over examples/acme-a1/firmware/product, fixed UUID, hash seed
and times, as scripts/make-payload-fixtures.py makes them) this writes what a full non-A/B OTA
carries, the way AOSP's blockimgdiff lays it out:
* system.transfer.list   version 4: `new` commands for the non-zero blocks (at most 32 blocks a
                         command, several ranges each), `zero` and `erase` for zero runs, some zero
                         blocks not mentioned at all (they read as zeros);
* system.new.dat         the `new` blocks in order; system.new.dat.br, the same brotli-compressed;
* v1.transfer.list       version 1 (no stash lines), `new` commands only, over the same new.dat;
* incremental.transfer.list  version 4 with stash/move commands (must be refused);
* oracle.json            sha256 and size of the ext4 image (the image itself is the oracle).

Needs mke2fs/debugfs (e2fsprogs) and python `brotli`.
Usage: python3 scripts/make-transfer-fixtures.py [OUTDIR]
"""
import hashlib
import importlib.util
import json
import os
import sys

import brotli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BS = 4096


def payload_script():
    spec = importlib.util.spec_from_file_location(
        "mpf", os.path.join(ROOT, "scripts/make-payload-fixtures.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def rangeset(ranges):
    nums = [n for r in ranges for n in r]
    return "%d,%s" % (len(nums), ",".join(str(n) for n in nums))


def runs(flags, want):
    """Maximal [a, b) runs of blocks whose flag equals want."""
    out, start = [], None
    for i, f in enumerate(flags + [not want]):
        if f == want and start is None:
            start = i
        elif f != want and start is not None:
            out.append((start, i))
            start = None
    return out


def split(ranges, limit):
    """Groups of ranges of at most `limit` blocks each (cutting a range where needed)."""
    groups, cur, n = [], [], 0
    for a, b in ranges:
        while a < b:
            take = min(b - a, limit - n)
            cur.append((a, a + take))
            n += take
            a += take
            if n == limit:
                groups.append(cur)
                cur, n = [], 0
    if cur:
        groups.append(cur)
    return groups


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/data/images/transfer")
    os.makedirs(out, exist_ok=True)
    img = payload_script().ext4_image(
        os.path.join(ROOT, "examples/acme-a1/firmware/product"), 1024,
        "6f1d3c8e-0a52-4c1b-9d0e-5a7b2c3d4e11", "0b7e4a1c-2d3f-4e5a-8b9c-0d1e2f3a4b11")
    total = len(img) // BS
    zero = [img[i * BS:(i + 1) * BS].count(0) == BS for i in range(total)]
    data_runs = runs(zero, False)
    zero_runs = runs(zero, True)
    groups = split(data_runs, 32)
    new_dat = b"".join(img[a * BS:b * BS] for g in groups for a, b in g)

    lines = ["4", str(total), "0", "0"]
    # Zero runs alternate between `erase`, `zero` and not mentioned at all.
    for i, r in enumerate(zero_runs):
        if i % 3 == 0:
            lines.append("erase " + rangeset([r]))
    for g in groups:
        lines.append("new " + rangeset(g))
    zeroed = [r for i, r in enumerate(zero_runs) if i % 3 == 1]
    if zeroed:
        lines.append("zero " + rangeset(zeroed))
    with open(os.path.join(out, "system.transfer.list"), "w") as f:
        f.write("\n".join(lines) + "\n")

    v1 = ["1", str(total)] + ["new " + rangeset(g) for g in groups]
    with open(os.path.join(out, "v1.transfer.list"), "w") as f:
        f.write("\n".join(v1) + "\n")

    inc = ["4", str(total), "1", "8",
           "stash 0000000000000000000000000000000000000000 2,0,8",
           "move 0000000000000000000000000000000000000000 2,8,16 8 2,0,8",
           "free 0000000000000000000000000000000000000000"]
    with open(os.path.join(out, "incremental.transfer.list"), "w") as f:
        f.write("\n".join(inc) + "\n")

    with open(os.path.join(out, "system.new.dat"), "wb") as f:
        f.write(new_dat)
    with open(os.path.join(out, "system.new.dat.br"), "wb") as f:
        f.write(brotli.compress(new_dat, quality=9))
    with open(os.path.join(out, "oracle.json"), "w") as f:
        json.dump({"image_sha256": hashlib.sha256(img).hexdigest(), "image_size": len(img),
                   "new_blocks": len(new_dat) // BS,
                   "note": "the ext4 image the script made (not kept): the rebuilt image must "
                           "hash to this"}, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
