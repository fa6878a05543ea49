"""The paper's workflow in a notebook's worth of Python (Shukor et al. 2025, arXiv 2507.09404):
fit the additive law to the SlimPajama runs of models up to 1.2B, check its extrapolation on the
held-out 3B runs, choose the mixture for a 7B model trained on 140B tokens, and put bootstrap
intervals on that choice.

    pip install ./python && python examples/quickstart.py [path/to/dmsl_llm_slimpajama.csv]
"""

import sys
from pathlib import Path

import mixlaw

ROOT = Path(__file__).resolve().parents[1]
TABLE = Path(sys.argv[1]) if len(sys.argv) > 1 else (
    ROOT / "data" / "apple_dmsl_slimpajama" / "dmsl_llm_slimpajama.csv"
)
if not TABLE.exists():
    sys.exit(f"{TABLE} is missing: `bash data/fetch.sh` fetches it (or pass the table's path)")
# The paper's training runs (models up to 1.2B) and its held-out split (the 3B models).
TRAIN = (
    "(model_size==310e6 and n_tokens>=3.96e9) or (model_size==680e6 and n_tokens>=6.93e9) or "
    "(model_size==937e6 and n_tokens>=6.93e9) or (model_size==1235e6 and n_tokens>=12.87e9)"
)
TEST = "model_size==2718e6 and n_tokens>=19.8e9"

# 1. Fit on the training runs: a row of parameters per target domain.
fit = mixlaw.fit(TABLE, law="additive", where=TRAIN, starts=32, seed=0)
print(fit)
print(fit.params[["E", "A", "alpha", "B", "beta"]].round(4), "\n")

# 2. Extrapolate: mean relative error (%) on the 3B runs, per target.
scores = mixlaw.eval(TABLE, law="additive", train=TRAIN, test=TEST, starts=32, seed=0)
print(scores[["train_rows", "test_rows", "train_mre_pct", "test_mre_pct"]].round(3), "\n")

# 3. The mixture minimising the average loss of every target for a 7B model on 140B tokens.
best = fit.optimize(n=7e9, d=140e9, target="avg")
print(best.h.round(4), "\n")

# 4. How sure is that choice? 100 bootstrap replicates, with the optimum's intervals.
study = mixlaw.bootstrap(TABLE, law="additive", where=TRAIN, target="c4_loss", replicates=100,
                         starts=4, seed=0, optimum_at="7e9,140e9")
print(study)
print(study.optimum.round(4))
