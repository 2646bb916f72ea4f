#!/usr/bin/env bash
# Builds the firmware-image fixtures of tests/data/images/firmware/ from the example firmware
# folder (examples/acme-a1/firmware), with the real tools of the field, byte for byte the same
# on every run:
#   system  -> EROFS, lz4hc   (mkfs.erofs, erofs-utils)
#   product -> EROFS, plain   (mkfs.erofs)
#   vendor  -> ext4           (mke2fs -d, e2fsprogs; default features incl. metadata_csum)
#   super.img of system_a/vendor_a/product_a (+ empty _b slots) (scripts/make-super.py),
#   made sparse with img2simg (android-sdk-libsparse-utils) -> super.simg (committed);
#   vbmeta.img (scripts/make-vbmeta.py) describing them.
# Oracles, by independent readers, into the same folder:
#   super.lpunpack.json  sha256 of every partition lpunpack (PyPI liblp) extracts from super.img
#   simg2img.sha256      sha256 of what simg2img expands super.simg to
#   *.listing            every file of each partition with its sha256, from fsck.erofs
#                        --extract and debugfs rdump
# Needs: erofs-utils e2fsprogs android-sdk-libsparse-utils, pip liblp.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/data/images/firmware
src=examples/acme-a1/firmware
work=$(mktemp -d)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
# Sources with fixed modes and times (a checkout's are the clone's).
for p in system product vendor; do
    cp -r "$src/$p" "$work/$p"
    find "$work/$p" -type d -exec chmod 755 {} +
    find "$work/$p" -type f -exec chmod 644 {} +
    find "$work/$p" -exec touch -h -d @1700000000 {} +
done
uuid=5d1c0f2e-7a3b-4c55-9e1f-0123456789ab
mkfs.erofs --quiet -zlz4hc -T1700000000 -U "$uuid" --all-root "$work/system.img" "$work/system"
mkfs.erofs --quiet -T1700000000 -U "$uuid" --all-root "$work/product.img" "$work/product"
E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -b 4096 -U "$uuid" -E hash_seed="$uuid",root_owner=0:0 \
    -d "$work/vendor" "$work/vendor.img" 8M
# mke2fs -d copies each file's atime and ctime, which copying and reading the source just
# changed: pin every time of every inode.
(cd "$work/vendor" && find . | sed 's|^\.||; s|^$|/|' | while read -r f; do
    for t in atime ctime mtime crtime; do
        printf 'sif "%s" %s 1700000000\nsif "%s" %s_extra 0\n' "$f" $t "$f" $t
    done; done) > "$work/pin"
E2FSPROGS_FAKE_TIME=1700000000 debugfs -w -f "$work/pin" "$work/vendor.img" >/dev/null 2>&1
python3 scripts/make-super.py "$work/super.img" --slots 2 \
    --part system_a="$work/system.img" --part vendor_a="$work/vendor.img" \
    --part product_a="$work/product.img" --empty system_b --empty vendor_b --empty product_b
img2simg "$work/super.img" "$out/super.simg"
# vbmeta: the AOSP test key (public half, tests/data/images/firmware/testkey_rsa4096.avbpubkey),
# a hash descriptor that matches vendor and one that does not (product, hashed before a byte
# was changed), a hashtree for system, and the flags of a device with verification switched off.
cp "$work/product.img" "$work/product.orig" && printf 'X' | dd of="$work/product.orig" bs=1 seek=8192 conv=notrunc status=none
python3 scripts/make-vbmeta.py "$out/vbmeta.img" --key "$out/testkey_rsa4096.avbpubkey" \
    --algorithm 2 --flags 2 --rollback 7 --hash vendor="$work/vendor.img" \
    --hash product="$work/product.orig" --hashtree system \
    --prop com.android.build.system.fingerprint=acme/a1/a1:14/AP1A.240305.019/11:user/release-keys
simg2img "$out/super.simg" "$work/expanded.img"
sha256sum "$work/expanded.img" | cut -d' ' -f1 > "$out/simg2img.sha256"
mkdir "$work/lp"
lpunpack "$work/super.img" -o "$work/lp" >/dev/null
python3 - "$work/lp" > "$out/super.lpunpack.json" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
print(json.dumps({n: {"size": os.path.getsize(os.path.join(d, n)),
                      "sha256": hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest()}
                  for n in sorted(os.listdir(d))}, indent=1, sort_keys=True))
PY
listing() { # DIR -> "path<TAB>sha256|->target|dir", sorted
    (cd "$1" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort | while read -r f; do
        if [ -L "$f" ]; then printf '%s\tlink %s\n' "$f" "$(readlink "$f")"
        elif [ -d "$f" ]; then printf '%s\tdir\n' "$f"
        else printf '%s\t%s\n' "$f" "$(sha256sum "$f" | cut -d' ' -f1)"; fi
    done)
}
for p in system product; do
    fsck.erofs --extract="$work/x-$p" "$work/$p.img" >/dev/null
    listing "$work/x-$p" > "$out/$p.listing"
done
mkdir "$work/x-vendor"
debugfs -R "rdump / $work/x-vendor" "$work/vendor.img" >/dev/null 2>&1
rm -rf "$work/x-vendor/lost+found"
listing "$work/x-vendor" > "$out/vendor.listing"
e2fsck -fn "$work/vendor.img" >/dev/null
ls -l "$out"
