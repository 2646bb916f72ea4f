#!/usr/bin/env bash
# Upload benchmark: how fast `phonecert serve` takes a large upload, and how much memory it
# needs to. The same SIZE of incompressible files is sent as .zip (stored), .tar and .tar.gz;
# each is streamed to disk while hashed, then checked entry by entry (paths, sizes, CRCs,
# ratios) before it is acknowledged. Prints per format: seconds from first byte to the 201,
# MB/s, and the server's peak RSS during that upload (VmHWM, reset before each one).
#
#   bench/upload.sh            (1 GiB per format; needs curl, python3, tar, gzip)
#   SIZE_MB=4096 FILES=16 bench/upload.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
FILES=${FILES:-8}
for tool in curl python3 tar gzip; do
  command -v "$tool" > /dev/null || { echo "bench/upload.sh needs $tool" >&2; exit 2; }
done
. bench/lib-registry.sh
start_server
api_token
api POST /api/v1/manufacturers "$(json name Acme)" > /dev/null
SUB=$(api POST /api/v1/submissions "$(json manufacturer Acme model U1 firmware U1-1)" | field 'd["id"]')

echo "== making $SIZE_MB MiB of random files ($FILES files) as .zip, .tar and .tar.gz"
python3 - "$TMP/tree" "$SIZE_MB" "$FILES" <<'PY'
import os, sys, zipfile
root, size_mb, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
each = size_mb * 2**20 // files
for i in range(files):
    d = os.path.join(root, "firmware", "system", "app", f"Big{i}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"Big{i}.bin"), "wb") as f:
        for _ in range(each // 2**20):
            f.write(os.urandom(2**20))
        f.write(os.urandom(each % 2**20))
PY
(cd "$TMP/tree" && python3 -c '
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED, allowZip64=True) as z:
    for d, _, fs in os.walk("firmware"):
        for f in sorted(fs):
            z.write(os.path.join(d, f))
' "$TMP/big.zip")
tar -C "$TMP/tree" -cf "$TMP/big.tar" firmware
gzip -1 -c "$TMP/big.tar" > "$TMP/big.tar.gz"
rm -rf "$TMP/tree"

hwm() { awk '/VmHWM/ {print $2}' "/proc/$SERVER/status"; }
echo "server idle: peak RSS $(( $(hwm) / 1024 )) MiB"
printf '%-8s %10s %9s %9s %14s\n' format MB seconds MB/s "peak RSS MiB"
for f in big.zip big.tar big.tar.gz; do
  # Writing 5 to clear_refs resets the peak RSS (Linux 4.0+); without it the figure is cumulative.
  echo 5 > "/proc/$SERVER/clear_refs" 2> /dev/null || true
  t0=$(date +%s.%N)
  api PUT "/api/v1/submissions/$SUB/files/$f" "@$TMP/$f" > /dev/null
  t1=$(date +%s.%N)
  python3 - "$f" "$(stat -c %s "$TMP/$f")" "$t0" "$t1" "$(hwm)" <<'PY'
import sys
name, size, t0, t1, hwm = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:5]), int(sys.argv[5])
s = t1 - t0
print(f"{name.removeprefix('big'):8} {size / 1e6:10.0f} {s:9.2f} {size / 1e6 / s:9.0f} {hwm / 1024:14.0f}")
PY
  rm -f "$TMP/$f"
done
kill -0 "$SERVER" 2> /dev/null || server_failed "the server died"
