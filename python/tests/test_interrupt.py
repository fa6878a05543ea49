"""Ctrl-C: a Python process sent SIGINT in the middle of a long fit or study stops within 2 s with
KeyboardInterrupt and leaves no half-written file (a study file keeps the whole records it had
appended, which `resume=True` continues from). SIGTERM (`kill`, Slurm) during a call stops the run
the same way and exits with 143 (a second SIGTERM ends it at once), and the process's own SIGTERM
handling is left as it was."""

import json
import os
import signal
import subprocess
import sys
import time

import mixlaw
from conftest import EXAMPLE, SLIM, dataset

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
    took, code, err = interrupt(FIT, dataset(SLIM), out)
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


TERMINATED = """
import sys, mixlaw
print("ready", flush=True)
mixlaw.bootstrap(sys.argv[1], replicates=400, starts=3, seed=1, backend="cpu", out=sys.argv[2])
print("finished", flush=True)
"""


def test_sigterm_stops_a_study_which_resume_completes_to_the_uninterrupted_file(tmp_path):
    out = tmp_path / "study.jsonl"
    p = subprocess.Popen([sys.executable, "-c", TERMINATED, str(EXAMPLE), str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        # A few records appended (up to a minute on a loaded machine), then SIGTERM.
        clock = time.monotonic()
        while not (out.exists() and len(out.read_bytes().splitlines()) >= 3):
            assert time.monotonic() - clock < 60, "no records after a minute"
            time.sleep(0.005)
        assert p.poll() is None, "the study ended before SIGTERM: " + p.stderr.read()
        sent = time.monotonic()
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
        took = time.monotonic() - sent
    finally:
        p.kill()
    err = p.stderr.read()
    assert p.returncode == 128 + signal.SIGTERM, err
    assert "finished" not in p.stdout.read()
    assert took < 2.0, f"stopped {took:.2f}s after SIGTERM"
    text = out.read_text()
    assert text.endswith("\n")
    lines = text.splitlines()
    assert "mixlaw_bootstrap" in json.loads(lines[0])
    assert all(json.loads(line)["replicate"] >= 0 for line in lines[1:])
    assert len(lines) - 1 < 400
    assert [f.name for f in tmp_path.iterdir()] == ["study.jsonl"], "no temporary file is left"
    mixlaw.bootstrap(EXAMPLE, replicates=400, starts=3, seed=1, backend="cpu", out=out,
                     resume=True)
    whole = tmp_path / "whole.jsonl"
    mixlaw.bootstrap(EXAMPLE, replicates=400, starts=3, seed=1, backend="cpu", out=whole)
    assert out.read_bytes() == whole.read_bytes()


def test_sigterm_handling_is_left_as_it_was():
    before = signal.getsignal(signal.SIGTERM)
    try:
        # The default, replaced during a call only.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        mixlaw.fit(EXAMPLE, law="additive", starts=2, backend="cpu")
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        # A handler of the caller's own is theirs: kept during the call, and called.
        seen = []

        def mine(signum, frame):
            seen.append(signum)

        signal.signal(signal.SIGTERM, mine)
        progress = []

        def terminate_once(what, done, total):
            if not progress:
                os.kill(os.getpid(), signal.SIGTERM)
            progress.append(done)

        args = ["--law", "additive", "--starts", "64", "--backend", "cpu"]
        mixlaw._call(mixlaw._native.fit, str(EXAMPLE), args, terminate_once)
        assert seen == [signal.SIGTERM], "the caller's handler ran, and the fit went on"
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, before)


def test_a_second_sigterm_while_a_run_stops_takes_the_default_way():
    """The first SIGTERM stops the run; a second one while it stops ends the process at once, as
    it does the CLI's (the disposition is the default again from the first one on)."""
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    while_stopping = []
    try:
        with mixlaw._stop_on_sigterm():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)  # the handler runs here, and raises
            finally:
                while_stopping.append(signal.getsignal(signal.SIGTERM))
    except SystemExit as e:
        assert e.code == 128 + signal.SIGTERM
    else:
        raise AssertionError("SIGTERM did not stop the call")
    assert while_stopping == [signal.SIG_DFL]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
