#!/bin/sh
# Builds the EROFS test images of crates/pc-image/tests/erofs.rs with erofs-utils' mkfs.erofs
# (Debian bookworm: 1.5) and writes each image's oracle listing from `fsck.erofs --extract`
# (an independent reader): one line per path, sorted by path bytes,
#   d<TAB>path | f<TAB>path<TAB>size<TAB>sha256 | l<TAB>path<TAB>target
# Deterministic: fixed time (-T0), fixed UUID, --all-root, a seeded synthetic tree, so running
# it twice gives the same bytes (checked by running it twice and cmp).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/tests/data/images/erofs"
shared="$here/../shared/corpus/firmware/erofs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The synthetic tree: links, empty / 1-byte / one-block files, a quarter-incompressible 256 KiB
# file, a deep folder, a 254-byte name (mkfs.erofs 1.5 refuses 255), a folder of 200 entries (several folder blocks).
python3 - "$work/synth" <<'PY'
import os, random, sys
root = sys.argv[1]
r = random.Random(20261208)
def w(p, data):
    p = os.path.join(root, p); os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(data)
w("empty", b"")
w("one-byte", b"x")
w("one-block", bytes(r.randrange(256) for _ in range(4096)))
words = [bytes(r.choice(b"abcdefghijklmnop") for _ in range(r.randrange(2, 9))) for _ in range(400)]
text = b" ".join(r.choice(words) for _ in range(40000))[:192 * 1024]
w("big/mixed.bin", r.randbytes(64 * 1024) + text)
w("big/text-tail.txt", text[:10000 + 123])
w("etc/build.prop", b"ro.product.model=Synth\nro.build.version.sdk=34\n")
deep = "/".join("d%02d" % i for i in range(24))
w(deep + "/leaf.txt", b"deep\n")
w("n" * 254, b"long name\n")  # mkfs.erofs 1.5 fails on 255 ("Could not format the device")
for i in range(200):
    w("many/entry-%04d.txt" % i, b"%d\n" % i)
os.symlink("etc/build.prop", os.path.join(root, "link-rel"))
os.symlink("/system/etc/build.prop", os.path.join(root, "link-abs"))
os.symlink("n" * 200, os.path.join(root, "big/link-long"))
for dp, dn, fn in os.walk(root):
    for n in dn + fn:
        os.utime(os.path.join(dp, n), (0, 0), follow_symlinks=False)
PY

# acme-a1's system partition without its 3 MB settings APK (keeps the fixtures small).
acme="$here/examples/acme-a1/firmware/system"
uuid=c0ffee00-0000-4000-8000-00000000e0f5
mk() { # name source options...
    name=$1; src=$2; shift 2
    mkfs.erofs --quiet -T0 -U"$uuid" --all-root "$@" "$out/$name.erofs" "$src" >/dev/null
}
mk synth-plain "$work/synth"
# Chunk-based: only the big/ folder (keeps the fixtures small).
mk synth-chunk "$work/synth/big" --chunksize=8192
mk synth-lz4 "$work/synth" -zlz4
mk synth-lz4hc "$work/synth" -zlz4hc
mk synth-lz4hc-big "$work/synth" -zlz4hc -C65536
mk synth-lz4hc-ztail "$work/synth" -zlz4hc -Eztailpacking
mk synth-lz4hc-big-ztail-ext "$work/synth" -zlz4hc,12 -C16384 -Eztailpacking,force-inode-extended
mk synth-lz4-compact-noinline "$work/synth/big" -zlz4 -Eforce-inode-compact,noinline_data
# Full (8-byte) lcluster indexes: erofs-utils writes them only with legacy-compress.
mk synth-lz4hc-legacy "$work/synth/big" -zlz4hc -Elegacy-compress
mk acme-lz4hc "$acme" -zlz4hc --exclude-path=app/AcmeSettings/AcmeSettings.apk

# go-erofs' images (Apache-2.0), copied as they are.
for f in "$shared"/*.erofs; do
    [ -e "$f" ] && cp "$f" "$out/go-$(basename "$f")"
done

listing() { # extracted folder -> listing on stdout
    python3 - "$1" <<'PY'
import hashlib, os, sys
root = os.fsencode(sys.argv[1])
rows = []
for dp, dn, fn in os.walk(root):
    for n in dn + fn:
        p = os.path.join(dp, n); rel = os.path.relpath(p, root)
        if os.path.islink(p):
            rows.append((rel, b"l\t" + rel + b"\t" + os.readlink(p)))
        elif os.path.isdir(p):
            rows.append((rel, b"d\t" + rel))
        else:
            d = open(p, "rb").read()
            rows.append((rel, b"f\t%s\t%d\t%s" % (rel, len(d), hashlib.sha256(d).hexdigest().encode())))
sys.stdout.buffer.write(b"".join(r[1] + b"\n" for r in sorted(rows)))
PY
}
for img in "$out"/*.erofs; do
    base=$(basename "$img" .erofs)
    rm -rf "$work/x"
    if fsck.erofs --extract="$work/x" "$img" >"$work/log" 2>&1; then
        listing "$work/x" >"$out/$base.listing"
    else
        echo "fsck.erofs cannot read $base (see the SOURCES.md note):" >&2
        cat "$work/log" >&2
        rm -f "$out/$base.listing"
    fi
done
