#!/usr/bin/env bash
# Traffic engine benchmark: phonecert versus tshark on the same ≥1 GB capture, in the same run.
#
#   bench/traffic.sh [SIZE]        (default 1G; needs python3, tshark, /usr/bin/time)
#
# Builds a capture from real corpus captures (bench/make-big-capture.py), then times
#  - phonecert traffic CAPTURE --id … (every identifier form, one automaton, full protocol analysis)
#  - tshark -r CAPTURE -Y 'frame contains "v1" || frame contains "v2" …' (plain values only)
# and prints throughput (MB/s), peak memory (max RSS) and the speed ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1G}
OUT=${BENCH_DIR:-bench/out}
mkdir -p "$OUT"
CAP="$OUT/big-$SIZE.pcap"
SRC=(examples/acme-a1/captures/declined-idle.pcap tests/data/pcap/ndpi/instagram.pcap
     tests/data/pcap/ndpi/iphone.pcap tests/data/pcap/ndpi/whatsapp.pcap tests/data/pcap/ndpi/facebook.pcap)
if [ ! -s "$CAP" ]; then
  # Built beside and renamed, so an interrupted build never leaves a short capture behind.
  python3 bench/make-big-capture.py "$CAP.part" --size "$SIZE" "${SRC[@]}"
  mv "$CAP.part" "$CAP"
fi
BYTES=$(stat -c %s "$CAP")
cargo build --release --quiet -p phonecert
BIN=target/release/phonecert
IDS=(imei=356938035643809 imsi=208150123456789 iccid=8933150319009875432 msisdn=+33612345678
     wifi_mac=02:00:5e:10:00:01 android_id=9774d56d682e549c advertising_id=1209d0b9-b959-42e6-b921-aa5d9d08c1af
     email=lab.unit7@example.org serial=A1X9K2Q7ZP)
ARGS=(); FILTER=""
for i in "${IDS[@]}"; do
  ARGS+=(--id "$i"); v=${i#*=}
  FILTER+="${FILTER:+ || }frame contains \"$v\""
done
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" > "$OUT/$label.out" 2> "$OUT/$label.err" || true
  read -r secs rss_kb < "$OUT/time.txt"
  echo "$label $secs $rss_kb"
}
echo "capture: $CAP ($BYTES bytes); $(nproc) cores"
read -r _ pc_s pc_kb < <(measure phonecert "$BIN" traffic "$CAP" "${ARGS[@]}" --format json -j 1)
read -r _ ts_s ts_kb < <(measure tshark tshark -n -r "$CAP" -Y "$FILTER" -T fields -e frame.number)
python3 - "$BYTES" "$pc_s" "$pc_kb" "$ts_s" "$ts_kb" <<'PY'
import sys
b, pcs, pckb, tss, tskb = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
mb = b / 1e6
print(f"phonecert: {pcs:.2f} s, {mb/pcs:.0f} MB/s on one thread, peak RSS {pckb/1024:.0f} MiB")
print(f"tshark:    {tss:.2f} s, {mb/tss:.0f} MB/s, peak RSS {tskb/1024:.0f} MiB")
print(f"ratio:     phonecert is {tss/pcs:.1f}x tshark's speed")
PY
