"""Every ``python`` block of README.md and of every other Markdown file in the repository runs:
the blocks of one file in order, in one namespace, in a scratch directory holding copies of
``data/``, ``laws/`` and ``examples/`` (the Rust suite's ``docs::`` runs the shell blocks the
same way; CONTRIBUTING.md, "Documentation", has the conventions). A block whose info string has
a second word ``no-run`` is shown, not run. A file naming a published table under ``data/`` that
has not been fetched (``bash data/fetch.sh``) is skipped, or fails under
``MIXLAW_REQUIRE_DATASETS=1``."""

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {"target", "corpus", "artifacts", "node_modules"}
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*(.*)$")
DATA_PATH = re.compile(r"(?<![\w./-])data/[\w./-]+")


def markdown_files():
    out = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
        out += [Path(dirpath, f).relative_to(ROOT) for f in filenames if f.endswith(".md")]
    return sorted(out)


def blocks(text):
    """The fenced blocks of a Markdown text: (language, other info words, text, first line)."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).split()
        body, start = [], i + 1
        i += 1
        while i < len(lines):
            s = lines[i].lstrip()
            if s.startswith(fence) and not s.strip(fence[0]).strip():
                break
            cut = len(lines[i]) - len(s)
            body.append(lines[i][min(cut, indent):])
            i += 1
        i += 1
        out.append((info[0] if info else "", info[1:], "\n".join(body) + "\n", start))
    return out


def python_files():
    found = []
    for rel in markdown_files():
        text = (ROOT / rel).read_text()
        if any(lang == "python" and "no-run" not in words for lang, words, _, _ in blocks(text)):
            found.append(rel)
    return found


@pytest.mark.parametrize("rel", python_files(), ids=str)
def test_python_blocks_run(rel, tmp_path, monkeypatch):
    runnable = [
        (text, line)
        for lang, words, text, line in blocks((ROOT / rel).read_text())
        if lang == "python" and "no-run" not in words
    ]
    named = {p.rstrip("./") for text, _ in runnable for p in DATA_PATH.findall(text)}
    missing = sorted(p for p in named if not (ROOT / p).exists())
    if missing:
        if os.environ.get("MIXLAW_REQUIRE_DATASETS") == "1":
            pytest.fail(f"{rel} needs {missing} (MIXLAW_REQUIRE_DATASETS=1): bash data/fetch.sh")
        pytest.skip(f"{rel}: {missing} not fetched (bash data/fetch.sh)")
    for sub in ["data", "laws", "examples"]:
        shutil.copytree(ROOT / sub, tmp_path / sub)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for text, line in runnable:
        code = compile(text, f"{rel}:{line}", "exec")
        exec(code, namespace)


def test_python_blocks_are_found():
    assert python_files(), "no documentation file has a python block"
