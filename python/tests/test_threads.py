"""More RAYON_NUM_THREADS than cores: importing mixlaw caps the engine's pool at the cores, as the
binary does, and says so with a RuntimeWarning."""

import os
import re
import subprocess
import sys

from conftest import EXAMPLE

CHECK = """
import os, sys, mixlaw
mixlaw.fit(sys.argv[1], law="additive", starts=4, backend="cpu")
print(len(os.listdir("/proc/self/task")))
"""


def test_more_threads_than_cores_are_capped_with_a_warning():
    env = dict(os.environ, RAYON_NUM_THREADS="10000")
    p = subprocess.run([sys.executable, "-c", CHECK, str(EXAMPLE)], env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    said = re.search(r"RuntimeWarning: RAYON_NUM_THREADS=10000 is more than the (\d+) cores; "
                     r"using \1 threads", p.stderr)
    assert said, p.stderr
    # The pool has been built with that many threads, not 10000.
    assert int(p.stdout) < int(said.group(1)) + 16, p.stdout
