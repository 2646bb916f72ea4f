#!/usr/bin/env bash
# Traffic engine benchmark: phonecert versus tshark on the same captures, in the same run.
#
#   bench/traffic.sh [SIZE]        (default 512M; needs python3, tshark, rg, /usr/bin/time)
#   MANY=10000000 bench/traffic.sh (also: peak memory on 10 million short TCP connections)
#
# Two captures of SIZE are built from real corpus traces, each repetition a distinct set of
# flows (bench/make-big-capture.py; a plain concatenation would be retransmissions):
#  - mix:   Android and iPhone app traces of nDPI (Instagram, WhatsApp, Facebook) and the
#           example's idle phone, with few transmissions;
#  - leaks: the nDPI Android 9 phone trace, whose DHCP and mDNS traffic carries the phone's own
#           Wi-Fi MAC address (4c:6a:f6:9f:f6:27): dense with identifier transmissions.
# For each: phonecert with -j 1 and -j 2 (every identifier form, full protocol analysis; best
# of 3), tshark's `frame contains` over the plain values (the peer), and `rg -F -f` over the
# same plain values (a raw scan of the bytes: the floor of any search). Prints MB/s, peak RSS
# and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-512M}
OUT=${BENCH_DIR:-bench/out}
mkdir -p "$OUT"
MIX=(examples/acme-a1/captures/declined-idle.pcap tests/data/pcap/ndpi/instagram.pcap
     tests/data/pcap/ndpi/iphone.pcap tests/data/pcap/ndpi/whatsapp.pcap tests/data/pcap/ndpi/facebook.pcap)
LEAKS=(tests/data/pcap/ndpi/android.pcap)
build() { # name, sources...
  local cap="$OUT/$1-$SIZE.pcap"; shift
  if [ ! -s "$cap" ]; then
    # Built beside and renamed, so an interrupted build never leaves a short capture behind.
    python3 bench/make-big-capture.py "$cap.part" --size "$SIZE" "$@" >&2
    mv "$cap.part" "$cap"
  fi
  echo "$cap"
}
cargo build --release --quiet -p phonecert
BIN=target/release/phonecert
IDS=(wifi_mac=4c:6a:f6:9f:f6:27 imei=356938035643809 imsi=208150123456789 iccid=8933150319009875432
     msisdn=+33612345678 android_id=9774d56d682e549c advertising_id=1209d0b9-b959-42e6-b921-aa5d9d08c1af
     email=lab.unit7@example.org serial=A1X9K2Q7ZP)
ARGS=(); FILTER=""; : > "$OUT/patterns.txt"
for i in "${IDS[@]}"; do
  ARGS+=(--id "$i"); v=${i#*=}
  FILTER+="${FILTER:+ || }frame contains \"$v\""
  # A MAC address also travels as its 6 bytes (DHCP, ARP): unquoted, tshark reads it as bytes.
  case $i in wifi_mac=*|bt_mac=*) FILTER+=" || frame contains $v" ;; esac
  echo "$v" >> "$OUT/patterns.txt"
done
# Best of 3 wall times, with the peak RSS of that run: "seconds KiB".
measure() { # label, command...
  local label=$1; shift; local best="" rss=0
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" > "$OUT/$label.out" 2> "$OUT/$label.err" || true
    # The last line: GNU time puts "Command exited with non-zero status" before it.
    read -r s kb < <(tail -n 1 "$OUT/time.txt")
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $s < $best else 1)"; then best=$s; rss=$kb; fi
  done
  echo "$best $rss"
}
echo "$(nproc) cores; tshark $(tshark --version | head -1 | awk '{print $3}'); $(rg --version | head -1)"
for name in mix leaks; do
  if [ $name = mix ]; then CAP=$(build mix "${MIX[@]}"); else CAP=$(build leaks "${LEAKS[@]}"); fi
  BYTES=$(stat -c %s "$CAP")
  read -r j1_s j1_kb < <(measure "$name-j1" "$BIN" traffic "$CAP" "${ARGS[@]}" --format json -j 1 -o "$OUT/$name-j1.json")
  read -r j2_s j2_kb < <(measure "$name-j2" "$BIN" traffic "$CAP" "${ARGS[@]}" --format json -j 2 -o "$OUT/$name-j2.json")
  cmp -s "$OUT/$name-j1.json" "$OUT/$name-j2.json" && same=identical || same=DIFFERENT
  read -r rg_s _ < <(measure "$name-rg" rg -c -a -F -f "$OUT/patterns.txt" "$CAP")
  ts=$( /usr/bin/time -f "%e %M" -o "$OUT/time.txt" tshark -n -r "$CAP" -Y "$FILTER" -T fields -e frame.number \
        > "$OUT/$name-tshark.out" 2>/dev/null || true; tail -n 1 "$OUT/time.txt")
  read -r ts_s ts_kb <<< "$ts"
  sent=$(python3 -c "import json; r=json.load(open('$OUT/$name-j1.json')); print(sum(f['count'] for f in r['findings']))")
  python3 - "$name" "$BYTES" "$j1_s" "$j1_kb" "$j2_s" "$j2_kb" "$ts_s" "$ts_kb" "$rg_s" "$sent" "$same" \
    "$(wc -l < "$OUT/$name-tshark.out")" <<'PY'
import sys
name, b = sys.argv[1], int(sys.argv[2])
j1, j1kb, j2, j2kb, ts, tskb, rg = map(float, sys.argv[3:10])
sent, same, frames = sys.argv[10], sys.argv[11], sys.argv[12]
mb = b / 1e6
print(f"\n{name}: {mb:.0f} MB; phonecert found {sent} transmissions, tshark matched {frames} frames")
print(f"  phonecert -j 1: {j1:.2f} s, {mb/j1:.0f} MB/s, peak RSS {j1kb/1024:.0f} MiB")
print(f"  phonecert -j 2: {j2:.2f} s, {mb/j2:.0f} MB/s, peak RSS {j2kb/1024:.0f} MiB ({j1/j2:.2f}x -j 1; reports {same})")
print(f"  tshark:         {ts:.2f} s, {mb/ts:.0f} MB/s, peak RSS {tskb/1024:.0f} MiB")
print(f"  rg -F -f:       {rg:.2f} s, {mb/rg:.0f} MB/s (raw scan of the plain values)")
print(f"  ratio:          phonecert -j 2 is {ts/j2:.1f}x tshark ({ts/j1:.1f}x with -j 1)")
PY
done
if [ -n "${MANY:-}" ]; then
  CAP="$OUT/many-$MANY.pcap"
  [ -s "$CAP" ] || { python3 bench/make-many-connections.py "$CAP.part" "$MANY"; mv "$CAP.part" "$CAP"; }
  read -r m_s m_kb < <(measure many "$BIN" traffic "$CAP" --id imei=356938035643809 --format json -j 2 -o "$OUT/many.json")
  python3 - "$OUT/many.json" "$m_s" "$m_kb" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); i = r["inputs"][0]
print(f"\nmany connections: {i['tcp_flows']} TCP flows, {i['packets']} packets in {float(sys.argv[2]):.1f} s; "
      f"peak RSS {int(sys.argv[3])/1024:.0f} MiB")
print(f"  evicted: {i['flows_evicted_capacity']} flows for capacity, {i['flows_evicted_idle']} idle; "
      f"requests listed {len(r['requests'])}, left out {i['omitted']['requests']}; "
      f"transmissions found {sum(f['count'] for f in r['findings'])}")
PY
fi
