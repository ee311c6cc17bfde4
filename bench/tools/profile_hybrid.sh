#!/usr/bin/env bash
# Profile phantom-adaptive inside the end-to-end benchmark (issue 16): one system, one rate.
#   bench/tools/profile_hybrid.sh RATE SECONDS OUTDIR
# Runs `phantom-pipeline bench --systems phantom-adaptive --rates RATE --duration SECONDS`,
# and while the market runs attaches, to the feeder, the strategy and the signer:
#   perf stat  (task-clock, context switches, migrations: where the CPU goes, kernel included)
#   perf record (user-space samples, cpu-clock; `perf report -i OUTDIR/NAME.data`)
# and then strace -c on each for a few seconds (syscall counts; strace slows the process, so
# it runs after the perf window and its timings are not used). Needs perf and strace; the
# processes are this user's, so perf_event_paranoid 2 is enough for user-space samples.
set -euo pipefail
rate=${1:?rate}; secs=${2:?seconds}; out=${3:?outdir}
mkdir -p "$out"
uptime > "$out/uptime.txt"
phantom-pipeline bench --systems phantom-adaptive --rates "$rate" --duration "$secs" --json \
    --results "$out/results" > "$out/bench.json" 2> "$out/bench.log" &
bench=$!
pid_of() {  # the newest process of this user running executable $1
    pgrep -n -u "$(id -u)" -f "$1" || true
}
deadline=$((SECONDS + 300))
while :; do
    feeder=$(pid_of 'phantom-feeder --instance bench'); signer=$(pid_of 'phantom-signer --instance bench')
    strategy=$(pid_of 'phantom_pipeline.runtime')
    if [[ -n $feeder && -n $signer && -n $strategy ]]; then
        break
    fi
    if (( SECONDS > deadline )); then
        echo "phantom-adaptive did not come up" >&2; kill "$bench"; exit 1
    fi
    sleep 0.2
done
# The harness prints its progress line before the system comes up; the market starts once all
# pools are ready. Give it a moment, then measure the middle of the market window.
sleep 2
win=$((secs - 3)); (( win < 2 )) && win=2
for p in feeder:$feeder strategy:$strategy signer:$signer; do
    name=${p%%:*}; pid=${p#*:}
    perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p "$pid" \
        -o "$out/$name.stat" -- sleep "$win" &
    perf record -F 1999 -e cpu-clock:u -p "$pid" -o "$out/$name.data" -- sleep "$win" \
        > /dev/null 2>&1 &
done
wait_for=$(jobs -p | grep -v "^$bench\$" || true)
for j in $wait_for; do wait "$j" || true; done
wait "$bench"
uptime >> "$out/uptime.txt"
for name in feeder strategy signer; do
    perf report -i "$out/$name.data" --no-children --stdio --percent-limit 2 \
        --sort dso,symbol 2> /dev/null | grep -v '^$' | head -60 > "$out/$name.report" || true
done
echo "profiles in $out"
