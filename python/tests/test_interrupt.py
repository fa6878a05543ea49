"""Ctrl-C: a Python process sent SIGINT in the middle of a long fit or study stops within 2 s with
KeyboardInterrupt and leaves no half-written file (a study file keeps the whole records it had
appended, which `resume=True` continues from)."""

import json
import signal
import subprocess
import sys
import time

import mixlaw
from conftest import EXAMPLE, SLIM

FIT = """
import sys, mixlaw
print("ready", flush=True)
fit = mixlaw.fit(sys.argv[1], law="joint", starts=20000, backend="cpu")
fit.save(sys.argv[2])
"""

STUDY = """
import sys, mixlaw
print("ready", flush=True)
mixlaw.bootstrap(sys.argv[1], replicates=100000, starts=3, seed=1, backend="cpu", out=sys.argv[2])
"""


def interrupt(script, *args, after=2.0):
    """Run `script` in a fresh interpreter, send SIGINT `after` seconds after it is ready;
    returns (seconds from SIGINT to exit, return code, stderr)."""
    p = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(after)
    assert p.poll() is None, "the run ended before it was interrupted: " + p.stderr.read()
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=10)
    finally:
        p.kill()
    return time.monotonic() - sent, p.returncode, p.stderr.read()


def test_ctrl_c_stops_a_fit_within_two_seconds_and_writes_nothing(tmp_path):
    out = tmp_path / "fit.json"
    took, code, err = interrupt(FIT, SLIM, out)
    assert "KeyboardInterrupt" in err, err
    assert code != 0
    assert took < 2.0, f"stopped {took:.2f}s after SIGINT"
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_stops_a_study_leaving_whole_records(tmp_path):
    out = tmp_path / "study.jsonl"
    took, code, err = interrupt(STUDY, EXAMPLE, out, after=3.0)
    assert "KeyboardInterrupt" in err, err
    assert took < 2.0, f"stopped {took:.2f}s after SIGINT"
    assert out.exists() and out.read_bytes().endswith(b"\n")
    lines = out.read_text().splitlines()
    assert "mixlaw_bootstrap" in json.loads(lines[0])
    for line in lines[1:]:
        assert json.loads(line)["replicate"] >= 0
    assert len(lines) - 1 < 100000
    assert [p.name for p in tmp_path.iterdir()] == ["study.jsonl"]
