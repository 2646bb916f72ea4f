#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation and runs each for SECONDS,
# seeded by fuzz/seed.sh; prints one line per target with its executions and the rate. A crash
# stops with status 1 and leaves the input in fuzz/artifacts/<target>/.
#
#   fuzz/run.sh 3                  # CI's smoke: every target, 3 s each
#   fuzz/run.sh 600 dex zip        # long runs of some targets
#
# Stable Rust is enough: the flags are the ones cargo-fuzz passes (coverage counters, compare
# tracing, `cfg(fuzzing)`), without a sanitizer (AddressSanitizer needs nightly; the code under
# test forbids unsafe, so what is looked for is panics, overflows, hangs and runaway memory).
# `--target` keeps the flags off build scripts and proc macros, as cargo-fuzz does.
# FUZZ_JOBS targets run at once (default 1); FUZZ_MAX_LEN caps the input length (default:
# libFuzzer's own choice from the seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
target=x86_64-unknown-linux-gnu
dir=${CARGO_TARGET_DIR:-fuzz/target}
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
    CARGO_TARGET_DIR=$dir ${CARGO:-cargo} build --quiet --manifest-path fuzz/Cargo.toml --locked --release \
    --target $target --bins
if [ $# -eq 0 ]; then
    set -- $(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^phonecert-fuzz$')
fi
sh fuzz/seed.sh "$@" >/dev/null
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# one TARGET: runs it, prints its figures; returns non-zero on a crash.
one() {
    t=$1
    mkdir -p "fuzz/artifacts/$t"
    set -- -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="fuzz/artifacts/$t/"
    [ -n "${FUZZ_MAX_LEN:-}" ] && set -- "$@" -max_len="$FUZZ_MAX_LEN"
    if "$dir/$target/release/$t" "$@" "fuzz/corpus/$t" >"$logs/$t" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t")
        echo "$t: ${runs:-?} executions in ${secs} s ($(( ${runs:-0} / secs ))/s)"
    else
        echo "$t: FAILED, see below" >&2
        tail -40 "$logs/$t" >&2
        touch "$logs/$t.failed"
        return 1
    fi
}

jobs=${FUZZ_JOBS:-1}
for t in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
    one "$t" &
done
wait
! ls "$logs"/*.failed >/dev/null 2>&1
