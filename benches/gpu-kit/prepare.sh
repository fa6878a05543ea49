#!/usr/bin/env bash
# Build a self-contained GPU benchmark bundle in .gpu/ at the project root (ignored by git):
# the stripped release binary, the tables and peer scripts it needs, the Vulkan loader packages,
# and run.sh. A machine with a GPU but no Rust toolchain then runs `bash .gpu/run.sh OUTDIR`.
# Usage, from the project root: bash benches/gpu-kit/prepare.sh (docs/BENCHMARKS.md). The
# published tables must have been fetched first (bash data/fetch.sh).
set -euo pipefail
root=$(git rev-parse --show-toplevel)
kit=$(cd "$(dirname "$0")" && pwd)
cd "$root"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
for t in data/apple_dmsl_slimpajama/dmsl_llm_slimpajama.csv data/epoch_chinchilla/svg_extracted_data.csv; do
  [ -f "$t" ] || { echo "prepare.sh: $t is missing: run bash data/fetch.sh first" >&2; exit 1; }
done
rm -rf .gpu && mkdir -p .gpu/data .gpu/debs
cargo build --release --locked -q
strip -o .gpu/mixlaw target/release/mixlaw
cp data/apple_dmsl_slimpajama/dmsl_llm_slimpajama.csv .gpu/data/
cp data/epoch_chinchilla/svg_extracted_data.csv .gpu/data/epoch.csv
cp benches/peers/jax_batched.py .gpu/
cp "$kit/run.sh" .gpu/
# The Vulkan loader and GL/EGL dispatch libraries (the GPU machine's driver brings the rest).
lists=$(mktemp -d); mkdir -p "$lists/partial"
o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
apt-get $o update -qq >/dev/null
(cd .gpu/debs && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
git rev-parse HEAD > .gpu/COMMIT
du -sh .gpu
echo "bundle ready in .gpu/ (commit $(cut -c1-10 .gpu/COMMIT)); on the GPU machine: bash .gpu/run.sh OUTDIR"
