#!/bin/bash
#SBATCH --job-name=mixlaw-boot
#SBATCH --array=0-31
#SBATCH --cpus-per-task=16
#SBATCH --time=01:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
# 32 shards of a 100,000-replicate study; a task that is requeued resumes its own file.
# (tests/suite/slurm.rs submits this very script, with REPLICATES=36 and --array=0-2.)
set -euo pipefail
mixlaw bootstrap runs.csv --law joint --replicates "${REPLICATES:-100000}" --starts 10 --seed 7 \
  --resample runs --shard auto --out "study.$SLURM_ARRAY_TASK_ID.jsonl" --resume
