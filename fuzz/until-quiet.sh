#!/usr/bin/env bash
# Fuzz one target until it finds nothing new in mixlaw's own code for QUIET seconds (or MAX
# seconds pass): the issue's "until it finds nothing new for several minutes", as a command.
#
#   fuzz/until-quiet.sh TARGET [QUIET=300] [MAX=3600]
#
# Runs `cargo +nightly fuzz run TARGET` on fuzz/corpus/TARGET (growing it, from fuzz/seeds/TARGET
# the first time; the corpus is not in the repository: fuzz/README.md) with libFuzzer's
# -print_pcs=1, which names the source line of every newly covered edge. Each new edge in this
# repository's code restarts the quiet clock; edges elsewhere do not, because the hash tables of
# std, indexmap and hashbrown (inside serde_json and toml) take a random seed in every process
# and every map, so their probing covers "new" edges by chance for as long as a fuzzer runs (one
# corpus replayed by three processes covered 9,018, 9,016 and 9,017 edges). Prints one summary
# line: target, seconds run, executions, edges (and those in mixlaw's code), the seconds (and
# executions) since the last new edge in mixlaw's code and since the last anywhere, and whether
# it stopped because it was quiet. The executions say what the quiet minutes were worth: on a
# shared machine a niced fuzzer runs fewer of them. A crash stops libFuzzer itself (its
# artifact is in fuzz/artifacts/TARGET) and this script exits 1.
set -euo pipefail
target=$1 quiet=${2:-300} max=${3:-3600}
cd "$(dirname "$0")"
root=$(cd .. && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo +nightly fuzz build "$target" >/dev/null 2>&1
# libFuzzer's -timeout is wall-clock time: a fuzzer at nice 19 beside a build can stall for more
# than 10 s on an input it reads in milliseconds (a false "timeout" that ends the run), so 60 s.
mkdir -p "corpus/$target"
cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
    -print_pcs=1 -max_total_time="$max" >"$log" 2>&1 &
pid=$!
start=$(date +%s)
last_cov="" last_new=$start new_at=0
last_own=0 last_own_new=$start own_at=0
# The latest status line's execution count (`#N` at its start).
executions() { grep -ao '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true; }
while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    own=$(grep -ac "NEW_PC: .* $root/" "$log" || true)
    now=$(date +%s)
    if [[ -n $cov && $cov != "$last_cov" ]]; then
        last_cov=$cov last_new=$now new_at=$(executions)
    fi
    if ((own != last_own)); then
        last_own=$own last_own_new=$now own_at=$(executions)
    fi
    if ((now - last_own_new >= quiet)); then
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
if grep -aq 'ERROR: libFuzzer\|==ERROR\|SUMMARY: libFuzzer: \(deadly\|timeout\|out-of-memory\)' "$log"; then
    grep -am3 'ERROR\|SUMMARY' "$log" >&2
    echo "$target: CRASH after $((now - start)) s (see fuzz/artifacts/$target)"
    exit 1
fi
quiet_own=$((now - last_own_new))
echo "$target: $((now - start)) s, ${execs:-?} executions, ${last_cov:-?} edges ($last_own new in mixlaw's code);" \
    "last new edge in mixlaw's code ${quiet_own} s ($((${execs:-0} - own_at)) executions) before the end," \
    "anywhere $((now - last_new)) s ($((${execs:-0} - new_at)) executions) before;" \
    "quiet: $([[ $quiet_own -ge $quiet ]] && echo yes || echo no)"
