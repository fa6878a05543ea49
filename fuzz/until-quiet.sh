#!/usr/bin/env bash
# Fuzz one target until it finds no new coverage edge for QUIET seconds (or MAX seconds pass):
# the issue's "until it finds nothing new for several minutes", as a command.
#
#   fuzz/until-quiet.sh TARGET [QUIET=300] [MAX=3600]
#
# Runs `cargo +nightly fuzz run TARGET` on fuzz/corpus/TARGET (growing it) and watches libFuzzer's
# status lines; each new `cov:` value (coverage edges) restarts the quiet clock. Prints one summary
# line: target, seconds run, executions, edges, seconds (and executions) since the last new edge,
# and whether it stopped because it was quiet. The executions say what the quiet minutes were
# worth: on a shared machine a niced fuzzer runs fewer of them. A crash stops libFuzzer itself (its artifact is in
# fuzz/artifacts/TARGET) and this script exits 1.
set -euo pipefail
target=$1 quiet=${2:-300} max=${3:-3600}
cd "$(dirname "$0")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo +nightly fuzz build "$target" >/dev/null 2>&1
# libFuzzer's -timeout is wall-clock time: a fuzzer at nice 19 beside a build can stall for more
# than 10 s on an input it reads in milliseconds (a false "timeout" that ends the run), so 60 s.
cargo +nightly fuzz run "$target" -- -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
    -max_total_time="$max" >"$log" 2>&1 &
pid=$!
start=$(date +%s) last_cov="" last_new=$start new_at=0
# The latest status line's execution count (`#N` at its start).
executions() { grep -ao '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true; }
while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    now=$(date +%s)
    if [[ -n $cov && $cov != "$last_cov" ]]; then
        last_cov=$cov last_new=$now new_at=$(executions)
    fi
    if ((now - last_new >= quiet)); then
        pkill -INT -P "$pid" 2>/dev/null || true
        kill -INT "$pid" 2>/dev/null || true
        break
    fi
done
status=0
wait "$pid" || status=$?
now=$(date +%s)
# libFuzzer's final count, or the last status line's.
execs=$(grep -ao 'number_of_executed_units: [0-9]*' "$log" | cut -d' ' -f2 || true)
execs=${execs:-$(executions)}
quiet_for=$((now - last_new))
if grep -q 'ERROR: libFuzzer\|==ERROR\|SUMMARY: libFuzzer: \(deadly\|timeout\|out-of-memory\)' "$log"; then
    grep -m3 'ERROR\|SUMMARY' "$log" >&2
    echo "$target: CRASH after $((now - start)) s (see fuzz/artifacts/$target)"
    exit 1
fi
echo "$target: $((now - start)) s, ${execs:-?} executions, ${last_cov:-?} edges, last new edge ${quiet_for} s ($((${execs:-0} - ${new_at:-0})) executions) before the end, quiet: $([[ $quiet_for -ge $quiet ]] && echo yes || echo no)"
