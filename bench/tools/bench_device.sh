#!/usr/bin/env bash
# `make bench-device`: the colocated-box run of issue 16, in one command, within 6 minutes.
#
# On the device (a machine with a core per spinner; no package registry, no perf; Python 3.12
# with numpy and numba): installs what `make device-bundle` put in dist/device (the x86-64
# abi3 wheels of phantom-pipeline and phantom-bench, with their release executables, and the
# small wheels the machine lacks) into a venv offline, records `uname -r` (and refuses a gVisor
# kernel: its futex and scheduling are emulated, so the figures would say nothing about the
# box), then runs phantom-spin pinned, phantom-adaptive and the baselines through
# `python -m phantom_bench.e2e.repeat`, writing OUT/repeat.json, OUT/uname.txt, OUT/summary.md
# and, where matplotlib is there, the plots (else render them elsewhere:
# `python -m phantom_bench.e2e.repeat --plot OUT/repeat.json`).
#
#   MODE=spin      (default) phantom-spin + phantom-adaptive pinned to CPUS, baselines
#   MODE=adaptive  a dry run on a small machine: phantom-adaptive and the baselines, unpinned,
#                  labelled as such (phantom-spin is skipped by the harness with its reason)
#   CPUS           cores for the pinned phantom processes (default: 2-4, leaving 0-1 to the
#                  simulator and the harness)
#   OUT            results directory (default bench/results/device)
#   LABEL          what the report calls this machine
set -euo pipefail
MODE=${MODE:-spin}
OUT=${OUT:-bench/results/device}
CPUS=${CPUS:-2-4}
PY=${PY:-python3}
mkdir -p "$OUT"
kernel=$(uname -r)
echo "$kernel" > "$OUT/uname.txt"
# gVisor reports a fixed 4.4.0 kernel built "Sun Jan 10 15:06:54 PST 2016", and says so in dmesg.
is_gvisor() {
    [[ $kernel == 4.4.0 && $(uname -v) == *"Sun Jan 10 15:06:54 PST 2016"* ]] && return 0
    grep -qi gvisor /proc/version 2>/dev/null && return 0
    command -v dmesg >/dev/null && dmesg 2>/dev/null | grep -qi gvisor
}
if is_gvisor; then
    echo "bench-device: refusing: this kernel ($kernel) is gVisor, whose futex and scheduler are emulated; the figures would not describe the box" >&2
    exit 2
fi
if ! "$PY" -c 'import phantom_pipeline, phantom_bench' 2>/dev/null; then
    if [[ ! -d dist/device ]]; then
        echo "bench-device: phantom_pipeline is not installed and there is no dist/device (run make device-bundle where a registry is reachable, and carry dist/device)" >&2
        exit 2
    fi
    "$PY" -m venv --system-site-packages .venv-device
    PY=$PWD/.venv-device/bin/python
    "$PY" -m pip install --no-index --find-links dist/device --no-deps dist/device/*.whl
fi
cores=$(nproc)
case $MODE in
    spin)
        systems=phantom-spin,phantom-adaptive,all-rust,pure-python-tuned,pure-python
        rates=2000,10000,100000
        extra=(--cpus "$CPUS" --base phantom-spin)
        label=${LABEL:-"$cores cores, Linux $kernel, phantom pinned to CPUs $CPUS"} ;;
    adaptive)
        systems=phantom-adaptive,all-rust,pure-python-tuned
        rates=2000,10000
        extra=()
        label=${LABEL:-"DRY RUN, adaptive mode: $cores cores, Linux $kernel, unpinned (not the device)"} ;;
    *) echo "bench-device: MODE must be spin or adaptive, got $MODE" >&2; exit 2 ;;
esac
# One run of 5 s per system and rate: 5 systems x 3 rates fit the 6 minutes with start-up.
PY=$(command -v "$PY")
PATH=$(dirname "$PY"):$PATH timeout 360 "$PY" -m phantom_bench.e2e.repeat --runs 1 \
    --systems "$systems" --rates "$rates" --duration 5 --idle 5 --label "$label" \
    --out "$OUT/repeat.json" --plots "$OUT" "${extra[@]}" | tee "$OUT/summary.md"
