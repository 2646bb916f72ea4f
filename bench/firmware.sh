#!/usr/bin/env bash
# Firmware benchmark: a 300-app tree of about 3 GB built from corpus APKs (hard links, so the
# disk holds each APK once; the first run reads cold, the second is timed warm), analysed by
# `phonecert firmware` on all cores. Prints wall time, throughput and peak memory.
#
#   bench/firmware.sh [APPS]   (default 300; reads ../shared/corpus/apk or PHONECERT_CORPUS)
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${PHONECERT_CORPUS:-../shared/corpus}
N=${1:-300}
OUT=${BENCH_DIR:-bench/out}
TREE="$OUT/firmware-$N"
cargo build --release --quiet -p phonecert
if [ ! -d "$TREE" ]; then
  mapfile -t SRC < <(find "$CORPUS/apk" -name '*.apk' -size +100k | sort)
  BIG="$CORPUS/apk/appium/appium-uiautomator2-server-v10.6.6.apk"
  parts=(system/app system/priv-app product/app vendor/app system_ext/priv-app odm/app)
  for i in $(seq 1 "$N"); do
    # Every other app is the 18 MB one: about 3 GB for 300 apps.
    if (( i % 2 == 0 )); then src=$BIG; else src=${SRC[$(( i % ${#SRC[@]} ))]}; fi
    d="$TREE/${parts[$(( i % ${#parts[@]} ))]}/App$i"
    mkdir -p "$d"
    ln "$src" "$d/App$i.apk" 2>/dev/null || cp "$src" "$d/App$i.apk"
  done
fi
BYTES=$(find -L "$TREE" -name '*.apk' -printf '%s\n' | awk '{s+=$1} END {print s}')
target/release/phonecert firmware "$TREE" --format json > /dev/null 2>&1 || true   # warm the cache
/usr/bin/time -f "%e %M" -o "$OUT/t.txt" target/release/phonecert firmware "$TREE" --format json > "$OUT/firmware.json" 2> "$OUT/firmware.err" || true
read -r s kb < "$OUT/t.txt"
python3 -c "print(f'$N apps, {$BYTES/1e9:.2f} GB: {float($s):.1f} s on $(nproc) cores, {$BYTES/1e6/float($s):.0f} MB/s, peak RSS {$kb/1024:.0f} MiB')"
