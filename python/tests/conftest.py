"""Shared fixtures: the repository's example table, the published tables in ``data/`` (``bash
data/fetch.sh`` fetches those not in git; a test whose table is missing skips, or fails under
``MIXLAW_REQUIRE_DATASETS=1``: see ``dataset``), and the ``mixlaw`` binary built from this
checkout, so that Python and the command line can be compared on the same inputs."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "data" / "example.csv"
DATASETS = ROOT / "data"
SLIM = DATASETS / "apple_dmsl_slimpajama" / "dmsl_llm_slimpajama.csv"
EPOCH = DATASETS / "epoch_chinchilla" / "svg_extracted_data.csv"
ISOFLOPS = DATASETS / "open_athena_isoflops" / "isoflops.csv"
# The paper's training runs and its 3B held-out split (tests/suite/common/published.rs).
PAPER_TRAIN = (
    "(model_size==310e6 and n_tokens>=3.96e9) or (model_size==680e6 and n_tokens>=6.93e9) or "
    "(model_size==937e6 and n_tokens>=6.93e9) or (model_size==1235e6 and n_tokens>=12.87e9)"
)
PAPER_TEST = "model_size==2718e6 and n_tokens>=19.8e9"


def dataset(path):
    """``path`` (one of SLIM, EPOCH, ISOFLOPS) if it is there; otherwise the test skips, saying
    how to fetch it, or fails under ``MIXLAW_REQUIRE_DATASETS=1`` (for CI), as the Rust tests'
    ``common::dataset`` does."""
    if path.exists():
        return path
    why = f"{path} is missing: `bash data/fetch.sh` fetches the published tables"
    if os.environ.get("MIXLAW_REQUIRE_DATASETS") == "1":
        pytest.fail(f"MIXLAW_REQUIRE_DATASETS=1 but {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def cli():
    """Run the ``mixlaw`` binary of this checkout (built here if needed); returns a function
    that runs it with arguments and gives its stdout, raising on a non-zero exit."""
    subprocess.run(["cargo", "build", "--quiet", "--bin", "mixlaw"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = target / "debug" / "mixlaw"

    def run(*args, check=True):
        p = subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"mixlaw {' '.join(map(str, args))} failed: {p.stderr}")
        return p

    run.binary = binary
    return run


@pytest.fixture(scope="session")
def cli_json(cli):
    def run(*args):
        return json.loads(cli(*args, "--json").stdout)

    return run
