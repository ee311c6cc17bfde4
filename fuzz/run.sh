#!/usr/bin/env bash
# fuzz/run.sh [SECONDS]: run every fuzz target for SECONDS (default 30) with libFuzzer, from the
# checked-in seeds (fuzz/seeds/<target>) plus the local corpus (fuzz/corpus/<target>, grown by
# earlier runs, not checked in). Exits non-zero if any target crashes, leaks, times out or
# runs out of memory; the reproducer is in fuzz/artifacts/<target>/.
#
# Runs on stable Rust: cargo-fuzz needs `-Z` flags only for sanitizers, so the targets are
# built with `--sanitizer none` (Rust is memory-safe here: the parsers have no `unsafe`; the
# invariants are asserts) and RUSTC_BOOTSTRAP=1 lets stable accept cargo-fuzz's build.
# Needs `cargo install cargo-fuzz` and a C++ compiler (libfuzzer-sys builds libFuzzer).
#
# Environment: FUZZ_TARGETS="a b" to run some targets only; FUZZ_JOBS=N parallel workers per
# target (default 1).
set -euo pipefail
seconds="${1:-30}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1
targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
jobs="${FUZZ_JOBS:-1}"
cargo fuzz build --sanitizer none
failed=()
for t in $targets; do
    mkdir -p "$here/corpus/$t" "$here/artifacts/$t"
    max_len=4096
    case "$t" in
        engine_frame) max_len=16384 ;;  # several frames per input
        pubsub_frame) max_len=8192 ;;
    esac
    echo "=== $t: ${seconds}s" >&2
    log="$here/artifacts/$t/last-run.log"
    extra=()
    if ((jobs > 1)); then
        extra=(-jobs="$jobs" -workers="$jobs")
    fi
    if cargo fuzz run "$t" --sanitizer none \
        "$here/corpus/$t" "$here/seeds/$t" -- \
        -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "${extra[@]}" 2>"$log"; then
        grep -E "^stat::number_of_executed_units|Done [0-9]+ runs" "$log" >&2 || true
    else
        tail -40 "$log" >&2
        failed+=("$t")
    fi
done
if ((${#failed[@]})); then
    echo "fuzz/run.sh: crashes in: ${failed[*]} (reproducers in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz/run.sh: no crash in ${seconds}s per target" >&2
