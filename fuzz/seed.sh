#!/bin/sh
# Seeds every fuzz target's corpus from the fixtures: fuzz/corpus/<target>/ gets the files of
# tests/data (and data/, examples/) that its parser reads, and for the APK-part parsers the entries taken
# out of the fixture APKs (classes*.dex, AndroidManifest.xml, resources.arsc, res/xml/*.xml).
# The fixtures keep their own licences (tests/data/SOURCES.md); they are copied here at run time,
# never committed (fuzz/corpus is ignored). Files over 1 MiB are left out: libFuzzer's input
# length and speed follow the largest seed. Safe to run again: files are named by content.
#
#   fuzz/seed.sh                 # all targets
#   fuzz/seed.sh dex axml        # only these
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
corpus="$root/fuzz/corpus"
max=$((1 << 20))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# add TARGET FILE...: copies each FILE (at most $max bytes) into the target's corpus.
add() {
    t=$1
    shift
    mkdir -p "$corpus/$t"
    for f in "$@"; do
        [ -f "$f" ] || continue
        [ "$(wc -c <"$f")" -le "$max" ] || continue
        sum=$(sha1sum "$f" | cut -c1-40)
        cp "$f" "$corpus/$t/$sum"
    done
}

# Files under tests/data, data/ or examples/ whose names match the find(1) patterns given.
fixtures() {
    find tests/data data examples "$@" -type f 2>/dev/null | sort
}

# The entries of the fixture APKs, extracted once.
extract() {
    n=0
    for apk in $(fixtures -name '*.apk'); do
        n=$((n + 1))
        d="$tmp/apk$n"
        mkdir -p "$d"
        unzip -qq -o "$apk" 'classes*.dex' AndroidManifest.xml resources.arsc 'res/xml/*.xml' \
            -d "$d" 2>/dev/null || true
    done
}

captures=$(fixtures \( -name '*.pcap' -o -name '*.pcap.gz' -o -name '*.pcapng' -o -name '*.pcapng.gz' -o -name '*.pcapng.1' \))
pcaps=$(fixtures \( -name '*.pcap' -o -name '*.pcap.gz' \))
pcapngs=$(fixtures \( -name '*.pcapng' -o -name '*.pcapng.gz' -o -name '*.pcapng.1' \))
hars=$(fixtures -name '*.har')
apks=$(fixtures -name '*.apk')
tomls=$(fixtures -name '*.toml')
keylogs=$(fixtures \( -name '*.keys' -o -name '*keylog*' \))
logs=$(fixtures \( -name '*.logcat' -o -name '*.txt' \))
permission_xmls=$(fixtures -path '*/etc/*permissions*/*.xml')
extract
dexes=$(find "$tmp" -name 'classes*.dex' | sort)
manifests=$(find "$tmp" \( -name AndroidManifest.xml -o -path '*/res/xml/*.xml' \) | sort)
arscs=$(find "$tmp" -name resources.arsc | sort)

seed() {
    case $1 in
    pcap) add pcap $pcaps ;;
    pcapng) add pcapng $pcapngs ;;
    har) add har $hars ;;
    # Stream parsers: whole captures are the nearest real bytes (the target's own framing is
    # found by mutation; the capture headers are skipped quickly).
    net | dns | tls | http1 | quic | quic_conn | http2 | tls_records | protobuf | decode)
        add "$1" $captures ;;
    zip | firmware_apk | sigblock | registry_bundle) add "$1" $apks ;;
    dex | firmware_endpoints) add "$1" $dexes ;;
    axml) add axml $manifests ;;
    arsc) add arsc $arscs ;;
    firmware_permissions_xml) add "$1" $permission_xmls ;;
    certify_parse | basic_functions) add "$1" $tomls ;;
    log_lines) add "$1" $logs $hars ;;
    certify_verify) add "$1" $tomls $keylogs ;;
    sparse) add "$1" $(fixtures -name '*.simg') ;;
    # A super image holding only metadata (the fixture's partitions make it too large).
    liblp)
        python3 scripts/make-super.py "$tmp/super-meta.img" --slots 2 --empty system_a --empty vendor_a
        add "$1" "$tmp/super-meta.img" ;;
    erofs) add "$1" $(fixtures -name '*.erofs') ;;
    payload) add "$1" $(fixtures -path '*/images/payload/*.bin') ;;
    transfer_list) add "$1" $(fixtures -name '*.transfer.list') ;;
    vbmeta) add "$1" $(fixtures -name 'vbmeta*.img') ;;
    tar_index) printf 'hello\n' > "$tmp/hello.txt" && tar -C "$tmp" -cf "$tmp/seed.tar" hello.txt && add "$1" "$tmp/seed.tar" ;;
    *)
        echo "seed.sh: no seeds known for target $1 (add it to fuzz/seed.sh)" >&2
        return 1
        ;;
    esac
}

if [ $# -eq 0 ]; then
    set -- $(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^phonecert-fuzz$')
fi
status=0
for t in "$@"; do
    seed "$t" || status=1
    [ -d "$corpus/$t" ] && echo "$t: $(ls "$corpus/$t" | wc -l) seeds"
done
exit $status
