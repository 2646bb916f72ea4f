#!/usr/bin/env bash
# APK analysis benchmark: phonecert versus androguard extracting the same facts, same run.
#
#   bench/apk.sh            (needs `pip install androguard`; reads ../shared/corpus/apk, or
#                            PHONECERT_CORPUS=/path/to/corpus)
#
# Two workloads: every APK of the corpus, and the 18 MB 16-dex appium APK alone. For each, the
# wall time of `phonecert apk --format json` and of bench/androguard_facts.py, and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${PHONECERT_CORPUS:-../shared/corpus}
OUT=${BENCH_DIR:-bench/out}
mkdir -p "$OUT"
cargo build --release --quiet -p phonecert
BIN=target/release/phonecert
mapfile -t ALL < <(find "$CORPUS/apk" -name '*.apk' | sort)
BIG="$CORPUS/apk/appium/appium-uiautomator2-server-v10.6.6.apk"
# Wall seconds and peak RSS (KiB); time(1) prefixes a line when the command exits non-zero
# (phonecert exits 2 when an APK of the corpus is broken, which some are on purpose).
secs() { /usr/bin/time -f "%e %M" -o "$OUT/t.txt" "$@" > "$OUT/last.out" 2>"$OUT/last.err" || true; tail -1 "$OUT/t.txt"; }
run() { # label files...
  local label=$1; shift
  read -r pc pc_kb < <(secs "$BIN" apk "$@" --format json)
  read -r ag ag_kb < <(secs python3 bench/androguard_facts.py "$@")
  python3 - "$label" "$#" "$(du -cb "$@" | tail -1 | cut -f1)" "$pc" "$pc_kb" "$ag" "$ag_kb" <<'PY'
import sys
label, n, size, pc, pc_kb, ag, ag_kb = sys.argv[1:]
pc, ag = float(pc), float(ag)
print(f"{label}: {n} APKs, {int(size)/1e6:.1f} MB")
print(f"  phonecert  {pc:8.2f} s  peak RSS {int(pc_kb)/1024:.0f} MiB")
print(f"  androguard {ag:8.2f} s  peak RSS {int(ag_kb)/1024:.0f} MiB")
print(f"  ratio      phonecert is {ag/max(pc, 0.001):.0f}x faster")
PY
}
echo "$(nproc) cores"
run "whole corpus" "${ALL[@]}"
run "18 MB 16-dex APK" "$BIG"
