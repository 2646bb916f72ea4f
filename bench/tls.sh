#!/usr/bin/env bash
# TLS decryption benchmark.
#
#   bench/tls.sh [SIZE]     (default 256M; needs python3, tshark)
#
# 1. Record decryption throughput on one core (pc-tlsdec's throughput example: AES-128-GCM and
#    ChaCha20-Poly1305, 16 KiB records).
# 2. End to end on a capture of TLS connections with a key log, built from the corpus's keyed
#    captures (bench/make-big-capture.py repeats them; repeated connections reuse their client
#    random, so one key log decrypts them all): phonecert traffic --keylog versus
#    tshark -o tls.keylog_file: extracting the decrypted HTTP requests, as a ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-256M}
OUT=${BENCH_DIR:-bench/out}
mkdir -p "$OUT"
echo "== record decryption, one core"
cargo run --release --quiet -p pc-tlsdec --example throughput
SRC=(tests/data/pcap/wireshark/tls12-chacha20poly1305.pcap tests/data/pcap/wireshark/http2-data-reassembly.pcap
     tests/data/pcap/wireshark/tls13-rfc8446.pcap)
CAP="$OUT/tls-$SIZE.pcap"
KEYS="$OUT/tls.keys"
# One line break between files: a key log need not end with one.
for k in tests/data/pcap/wireshark/{tls12-chacha20poly1305,http2-data-reassembly,tls13-rfc8446}.keys; do
  cat "$k"; echo
done > "$KEYS"
if [ ! -s "$CAP" ]; then
  python3 bench/make-big-capture.py "$CAP.part" --size "$SIZE" "${SRC[@]}"
  mv "$CAP.part" "$CAP"
fi
cargo build --release --quiet -p phonecert
BYTES=$(stat -c %s "$CAP")
t() { /usr/bin/time -f "%e %M" -o "$OUT/t.txt" "$@" > "$OUT/last.out" 2> "$OUT/last.err" || true; tail -1 "$OUT/t.txt"; }
read -r pc pc_kb < <(t target/release/phonecert traffic "$CAP" --keylog "$KEYS" --format json -j 1)
pc_req=$(python3 -c "import json; d=json.load(open('$OUT/last.out')); print(sum(1 for r in d['requests'] if r['protocol'] in ('https-decrypted','http2')))")
read -r ts ts_kb < <(t tshark -n -r "$CAP" -o "tls.keylog_file:$KEYS" -Y 'http.request || http2.type == 1' -T fields -e frame.number)
ts_req=$(wc -l < "$OUT/last.out")
python3 - "$BYTES" "$pc" "$pc_kb" "$pc_req" "$ts" "$ts_kb" "$ts_req" <<'PY'
import sys
b, pc, pckb, pcr, ts, tskb, tsr = sys.argv[1:]
b, pc, ts = int(b) / 1e6, float(pc), float(ts)
print(f"== end to end on {b:.0f} MB of keyed TLS")
print(f"phonecert: {pc:.2f} s, {b/pc:.0f} MB/s, peak RSS {int(pckb)/1024:.0f} MiB, {pcr} decrypted requests")
print(f"tshark:    {ts:.2f} s, {b/ts:.0f} MB/s, peak RSS {int(tskb)/1024:.0f} MiB, {tsr} frames with decrypted requests")
print(f"ratio:     phonecert is {ts/max(pc, 0.001):.1f}x tshark's speed")
PY
