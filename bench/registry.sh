#!/usr/bin/env bash
# Registry load benchmark: wrk against the public look-up and verification endpoints of
# `phonecert serve` (embedded SQLite, one audit worker), after seeding it through the JSON API.
#
#   bench/registry.sh        (needs curl, python3 and wrk: `apt-get install wrk`, done for you
#                             when run as root on Debian/Ubuntu)
#   DURATION=20s CONNECTIONS=64 THREADS=2 EXTRA_MODELS=4 EXTRA_MANUFACTURERS=200 bench/registry.sh
#
# Seeding: an admin (created at first start), an API token, manufacturer Acme, and one
# certificate per model — A1 and EXTRA_MODELS more (A2, A3, …) — each through the whole flow:
# submission, examples/acme-a1 (model renamed) uploaded as case.tar, audit run, overrides of the
# failing mandatory requirements, approval, issue. EXTRA_MANUFACTURERS more manufacturers (without
# certificates) fill the manufacturers table. Then, each for DURATION with CONNECTIONS keep-alive
# connections on THREADS wrk threads (--latency):
#   search    GET  /api/v1/public/certificates?q=acme     JSON list of Acme's certificates
#   lookup    GET  /api/v1/public/certificates/NUMBER      one certificate, its signature checked
#   verify    POST /api/v1/public/verify                   {"certificate": JWS}: Ed25519 + record
#   registry  GET  /registry?q=acme                        the public HTML page
# and prints requests/s, p50 and p99 latency, non-2xx responses and socket errors per endpoint.
# wrk runs on the same machine as the server and takes CPU from it: figures are a floor.
# The server binds 127.0.0.1 on a free port (or PORT); its data lives in a temporary folder
# removed at exit. wrk's raw outputs are kept in bench/out/registry-*.txt (or BENCH_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
EXTRA_MODELS=${EXTRA_MODELS:-4}
EXTRA_MANUFACTURERS=${EXTRA_MANUFACTURERS:-200}
OUT=${BENCH_DIR:-bench/out}
mkdir -p "$OUT"

for tool in curl python3 tar; do
  command -v "$tool" > /dev/null || { echo "bench/registry.sh needs $tool" >&2; exit 2; }
done
if ! command -v wrk > /dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    apt-get install -y -q wrk > /dev/null || { apt-get update -q > /dev/null && apt-get install -y -q wrk > /dev/null; }
  else
    echo "bench/registry.sh needs wrk: sudo apt-get install wrk (or build github.com/wg/wrk)" >&2
    exit 2
  fi
fi

. bench/lib-registry.sh
start_server

echo "== seeding $BASE ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
t0=$(date +%s.%N)
api_token

api POST /api/v1/manufacturers "$(json name Acme)" > /dev/null
for i in $(seq 1 "$EXTRA_MANUFACTURERS"); do
  api POST /api/v1/manufacturers "$(json name "$(printf 'Vendor %03d' "$i")")" > /dev/null
done
# Model Mn gets the example case with its [device] model and [firmware] version changed (the
# registry refuses a certificate when the case and the submission name different models).
case_tar() { # MODEL: makes $TMP/case-MODEL.tar
  local m=$1 dir=$TMP/case-$1
  cp -r examples/acme-a1 "$dir"
  sed -i -e "s/^model = \"A1\"/model = \"$m\"/" -e "s/^version = \"A1-14.0.3\"/version = \"$m-14.0.3\"/" "$dir/case.toml"
  tar -C "$dir" -cf "$TMP/case-$m.tar" .
  rm -rf "$dir"
}

# Every submission is created and its run queued first; the one worker takes them in turn.
MODELS=(A1)
for i in $(seq 2 $(( EXTRA_MODELS + 1 ))); do MODELS+=("A$i"); done
SUBS=(); RUNS=()
for m in "${MODELS[@]}"; do
  sub=$(api POST /api/v1/submissions "$(json manufacturer Acme model "$m" firmware "$m-14.0.3")" | field 'd["id"]')
  case_tar "$m"
  api PUT "/api/v1/submissions/$sub/files/case.tar" "@$TMP/case-$m.tar" > /dev/null
  run=$(api POST "/api/v1/submissions/$sub/runs" | field 'd["id"]')
  SUBS+=("$sub"); RUNS+=("$run")
done
for k in "${!SUBS[@]}"; do
  sub=${SUBS[$k]} run=${RUNS[$k]}
  for _ in $(seq 1 1200); do
    api GET "/api/v1/runs/$run" > "$TMP/run.json"
    state=$(field 'd["run"]["state"]' < "$TMP/run.json")
    case $state in
      done) break ;;
      failed | cancelled) echo "run $run of ${MODELS[$k]}: $state" >&2; head -c 1000 "$TMP/run.json" >&2; exit 1 ;;
    esac
    sleep 0.25
  done
  [ "$state" = done ] || { echo "run $run of ${MODELS[$k]} still $state after 5 min" >&2; exit 1; }
  field '"\n".join(r["requirement"] for r in d["results"] if r["level"] == "mandatory" and r["verdict"] != "PASS")' \
    < "$TMP/run.json" > "$TMP/blocking"
  while read -r req; do
    [ -n "$req" ] || continue
    api POST "/api/v1/submissions/$sub/overrides" "$(json requirement "$req" verdict PASS reason bench)" > /dev/null
  done < "$TMP/blocking"
  api POST "/api/v1/submissions/$sub/decision" "$(json decision approve)" > /dev/null
  api POST "/api/v1/submissions/$sub/certificate" > "$TMP/cert-$k.json"
done
t1=$(date +%s.%N)
NUMBER=$(field 'd["number"]' < "$TMP/cert-0.json")
python3 -c 'import json, sys; print(json.dumps({"certificate": json.load(open(sys.argv[1]))["jws"]}))' \
  "$TMP/cert-0.json" > "$TMP/verify.json"

# Each endpoint answers 2xx before it is loaded, and the certificate verifies as valid.
AUTH=()
STATUS=$(api POST /api/v1/public/verify "$(cat "$TMP/verify.json")" | field 'd["status"]')
[ "$STATUS" = valid ] || { echo "the seeded certificate verifies as $STATUS, not valid" >&2; exit 1; }
FOUND=$(api GET "/api/v1/public/certificates?q=acme" | field 'len(d)')
S_SEARCH=$(api GET "/api/v1/public/certificates?q=acme" | wc -c)
S_CERT=$(api GET "/api/v1/public/certificates/$NUMBER" | wc -c)
S_PAGE=$(api GET "/registry?q=acme" | wc -c)
python3 - "$(( EXTRA_MANUFACTURERS + 1 ))" "${#MODELS[@]}" "$FOUND" "$NUMBER" "$t0" "$t1" \
  "$S_SEARCH" "$S_CERT" "$(wc -c < "$TMP/verify.json")" "$S_PAGE" <<'PY'
import sys
mf, certs, found, number, t0, t1, s_search, s_cert, s_verify, s_page = sys.argv[1:]
print(f"{mf} manufacturers, {certs} certificates issued ({float(t1) - float(t0):.1f} s); "
      f"q=acme finds {found}; benchmarked certificate {number}")
print(f"bodies: search {s_search} B, look-up {s_cert} B, verify request {s_verify} B, page {s_page} B")
PY

bench() { # NAME URL [LUA]
  local name=$1 url=$2
  local args=(-t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency)
  [ $# -ge 3 ] && args+=(-s "$3")
  VERIFY_BODY=$TMP/verify.json wrk "${args[@]}" "$url" > "$OUT/registry-$name.txt"
}
echo "== wrk: $THREADS threads, $CONNECTIONS connections, $DURATION per endpoint"
bench search "$BASE/api/v1/public/certificates?q=acme"
bench lookup "$BASE/api/v1/public/certificates/$NUMBER"
bench verify "$BASE/api/v1/public/verify" bench/registry-verify.lua
bench registry "$BASE/registry?q=acme"
kill -0 "$SERVER" 2> /dev/null || server_failed "the server died under load"

python3 - "$OUT" <<'PY'
import re, sys
out = sys.argv[1]
def ms(v):
    n, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v).groups()
    return float(n) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]
rows = [("search", "GET  /api/v1/public/certificates?q=acme"),
        ("lookup", "GET  /api/v1/public/certificates/NUMBER"),
        ("verify", "POST /api/v1/public/verify"),
        ("registry", "GET  /registry?q=acme")]
print(f"{'endpoint':42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'non-2xx':>8} {'sock err':>8}")
for name, label in rows:
    t = open(f"{out}/registry-{name}.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", t).group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
    bad = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
    err = sum(map(int, m.groups())) if m else 0
    print(f"{label:42} {rps:9.0f} {p50:8.2f} {p99:8.2f} {total:9d} {bad:8d} {err:8d}")
PY
echo "(load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
