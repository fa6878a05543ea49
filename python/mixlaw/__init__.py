"""mixlaw: fit data-mixture scaling laws and choose training mixtures.

A thin layer over mixlaw's Rust engine (the same one the ``mixlaw`` command runs): keyword
arguments are the command line's flags with underscores for dashes (``n_col="N"`` is
``--n-col N``), tables may be pandas DataFrames, dicts of arrays or CSV paths, and results come
back as DataFrames. The same inputs and seed give bit-identical numbers here and on the command
line, and fit files written by one are read by the other.

    >>> import mixlaw
    >>> fit = mixlaw.fit("data/example.csv", law="additive", starts=32)
    >>> fit.params                      # a row per target
    >>> fit.optimize(n=7e9, d=140e9).h  # the optimal mixture
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sys
import threading
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

# The Vulkan loader (and Mesa's window-system layer under it) complains on stderr whenever
# XDG_RUNTIME_DIR is unset, as in CI and containers, although mixlaw never opens a window; the
# binary gives it a directory too (src/main.rs).
if not os.environ.get("XDG_RUNTIME_DIR"):
    import tempfile

    os.environ["XDG_RUNTIME_DIR"] = tempfile.gettempdir()

from . import _native  # noqa: E402
from ._native import GpuError, InputError  # noqa: E402

__version__ = _native.__version__

# More RAYON_NUM_THREADS than cores: the engine's pool is capped at the cores when the module is
# imported (as the binary does), and told here as the binary tells it on stderr.
if _native.thread_note:
    warnings.warn(_native.thread_note, RuntimeWarning)

__all__ = [
    "InputError",
    "GpuError",
    "Fit",
    "Mixture",
    "Study",
    "fit",
    "eval",
    "backtest",
    "bootstrap",
    "merge",
    "load_fit",
    "laws",
    "devices",
    "simulate",
    "EXACT_FLOATS",
    "Figure",
]

# --------------------------------------------------------------------------------------------
# Keywords as flags, tables as columns, messages and progress.


def _flags(settings: Dict[str, Any]) -> List[str]:
    """Keyword arguments as the command line's flags: ``True`` is a bare flag, ``False`` and
    ``None`` are left out, a list or tuple repeats its flag (``target=["a", "b"]``), a dict gives
    ``NAME=VALUE`` items (``min={"code": 0.1}``) and numbers are written so that they round-trip.
    """
    out: List[str] = []
    for key, value in settings.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
            continue
        if isinstance(value, dict):
            value = [f"{k}={_text(v)}" for k, v in value.items()]
        if isinstance(value, (list, tuple, np.ndarray)):
            for v in value:
                out += [flag, _text(v)]
        else:
            out += [flag, _text(value)]
    return out


def _text(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


_FLAG = re.compile(r"'?--([a-z][a-z0-9-]*)(?: <[A-Z_.,\[\]]+>)?'?")


def _keywords(message: str) -> str:
    """A message of the engine with its flags named as this package's keywords."""
    message = message.replace("pass --force", "pass force=True")
    return _FLAG.sub(lambda m: "'" + m.group(1).replace("-", "_") + "'", message)


@contextlib.contextmanager
def _stop_on_sigterm() -> Any:
    """SIGTERM (what ``kill`` and Slurm send) during an engine call stops the run as Ctrl-C does,
    then raises ``SystemExit(143)``: by default it would kill the process where it stands, with an
    output half-written and a study's last record torn. The engine's wait runs Python's signal
    handlers every 50 ms, and an exception from one stops the run at its next round (a study
    keeps its whole replicates; nothing is half-written). A second SIGTERM while it stops ends
    the process at once, as it does the CLI's. Only the default disposition is replaced, and
    only for the call: a handler of the caller's own (or SIGTERM ignored) is theirs, and
    handlers can only be set on the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _call(function: Callable, *args: Any) -> Any:
    """Call the engine, raising its errors with keyword names in their messages."""
    try:
        with _stop_on_sigterm():
            return function(*args)
    except (InputError, TypeError) as e:
        raise type(e)(_keywords(str(e))) from None


def _tell(notes: Iterable[str]) -> None:
    """The engine's warnings as Python warnings, its notes on stderr (as the CLI prints them),
    flags named as keywords."""
    for note in map(_keywords, notes):
        if note.startswith("warning: "):
            warnings.warn(note[len("warning: "):], stacklevel=3)
        elif not note.startswith("note: backend "):
            print(note, file=sys.stderr)


class _Bar:
    """``progress=True``: a tqdm bar when tqdm is installed, else a plain line on stderr."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.what: Optional[str] = None
        self.bar: Any = None
        try:
            from tqdm.auto import tqdm

            self.tqdm: Any = tqdm
        except ImportError:
            self.tqdm = None

    def __call__(self, what: str, done: int, total: int) -> None:
        if what != self.what:
            self.close()
            self.what = what
            if self.tqdm is not None:
                self.bar = self.tqdm(total=total, desc=f"{self.label} {what}", leave=False)
        if self.bar is not None:
            self.bar.n = done
            self.bar.refresh()
        else:
            print(f"\r{self.label} {what}: {done}/{total}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.what is not None and self.tqdm is None:
            print(file=sys.stderr)


def _run(function: Callable, progress: bool, label: str, *args: Any) -> Any:
    bar = _Bar(label) if progress else None
    try:
        return _call(function, *args, bar)
    finally:
        if bar is not None:
            bar.close()


Data = Union[str, "os.PathLike[str]", pd.DataFrame, Dict[str, Any]]


def _table(data: Data) -> Any:
    """A table for the engine: a CSV path as it is, else named columns (numbers as float64
    bytes with NaN for a missing value, anything else as text with "" for a missing value)."""
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: No such file or directory")
        return path
    if isinstance(data, pd.DataFrame):
        name = "<DataFrame>"
        items = [(str(c), data[c]) for c in data.columns]
    elif isinstance(data, dict):
        name = "<dict>"
        items = [(str(c), v) for c, v in data.items()]
    else:
        raise TypeError(
            f"data must be a pandas DataFrame, a dict of arrays or a CSV path, not {type(data).__name__}"
        )
    columns = []
    for column, values in items:
        series = pd.Series(values) if not isinstance(values, pd.Series) else values
        if pd.api.types.is_bool_dtype(series.dtype):
            series = series.astype(str)
        if pd.api.types.is_numeric_dtype(series.dtype):
            array = np.ascontiguousarray(series.to_numpy(dtype="<f8", na_value=np.nan))
            columns.append((column, array.tobytes()))
        else:
            columns.append((column, ["" if _missing(v) else str(v) for v in series.tolist()]))
    return (name, columns)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT


# pandas before 3 parses floats with a fast parser that may miss by an ulp unless asked for
# round-trip precision; pandas 3 parses them exactly and deprecates the option. Pass these to
# ``pd.read_csv`` to read a table exactly as the command line does.
EXACT_FLOATS: Dict[str, Any] = (
    {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
)


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""], **EXACT_FLOATS)


def _html_table(title: str, frames: Sequence[Tuple[str, pd.DataFrame]]) -> str:
    parts = [f"<div><strong>{title}</strong>"]
    for caption, frame in frames:
        if caption:
            parts.append(f"<p>{caption}</p>")
        parts.append(frame.to_html())
    parts.append("</div>")
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# Figures.


class Figure:
    """One figure: shows inline in a notebook (SVG) and saves as SVG or PNG (rendered by the
    engine, with its own embedded font)."""

    def __init__(self, draw: Callable[[str, int, int], bytes], size: Tuple[int, int]) -> None:
        self._draw = draw
        self.size = size
        self.svg: str = draw("svg", *size).decode()

    def _repr_svg_(self) -> str:
        return self.svg

    def png(self, size: Optional[Tuple[int, int]] = None) -> bytes:
        """The figure as PNG bytes (at ``size`` pixels, default the figure's)."""
        return self._draw("png", *(size or self.size))

    def save(self, path: Union[str, "os.PathLike[str]"], force: bool = False) -> None:
        """Write the figure to ``path`` (``.svg`` or ``.png``), atomically; an existing file only
        with ``force=True``."""
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower()
        if ext == ".svg":
            _call(_native.write, path, self.svg, force)
        elif ext == ".png":
            _call(_native.write_bytes, path, self.png(), force)
        else:
            raise InputError(f"{path}: a figure is written as .svg or .png")

    def __repr__(self) -> str:
        title = re.search(r"<text[^>]*>([^<]*)</text>", self.svg)
        return f"<mixlaw.Figure {title.group(1) if title else ''!s}>"


def _study_source(study: Any, settings: Dict[str, Any]) -> Optional[str]:
    """A study for a figure: a ``Study`` (its JSON) or a study file's path (the ``study`` flag)."""
    if study is None:
        return None
    if isinstance(study, Study):
        return study._text
    settings["study"] = os.fspath(study)
    return None


# --------------------------------------------------------------------------------------------
# Fits.


class Fit:
    """A fitted law: one parameter vector per target, as in the CLI's fit file.

    Attributes:
        file: the fit file as a dict (the JSON ``mixlaw fit --out`` writes).
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self.file: Dict[str, Any] = json.loads(text)

    @property
    def law(self) -> str:
        """The law's name."""
        return self.file["law"]

    @property
    def domains(self) -> List[str]:
        """The mixture's domains, in the order of the law's per-domain parameters."""
        return list(self.file["domains"])

    @property
    def targets(self) -> List[str]:
        """The fitted targets."""
        return [t["target"] for t in self.file["targets"]]

    def _index(self) -> pd.Index:
        if any("group" in t for t in self.file["targets"]):
            return pd.MultiIndex.from_tuples(
                [(t.get("group"), t["target"]) for t in self.file["targets"]],
                names=[self.file.get("data", {}).get("group_by") or "group", "target"],
            )
        return pd.Index(self.targets, name="target")

    @property
    def params(self) -> pd.DataFrame:
        """The fitted parameters: a row per target, a column per parameter (fit units)."""
        rows = [dict(t["params"]) for t in self.file["targets"]]
        return pd.DataFrame(rows, index=self._index())

    @property
    def summary(self) -> pd.DataFrame:
        """Per target: rows, objective, train MRE (%), converged starts, parameters at their
        bounds and flat directions."""
        rows = [
            {
                "rows": t["rows"],
                "objective": t["objective"],
                "train_mre_pct": t["train_mre_pct"],
                "converged": t["converged"],
                "starts": t["starts"],
                "at_bounds": list(t["at_bounds"]),
                "flat": list(t["flat"]),
            }
            for t in self.file["targets"]
        ]
        return pd.DataFrame(rows, index=self._index())

    def predict(self, data: Data, **columns: Any) -> pd.DataFrame:
        """Predict every fitted target on a table (same column keywords as :func:`fit`).

        Returns a DataFrame with a row per usable row of the table (indexed as the input
        DataFrame was; by 0-based row number for a CSV), N, D, the mixture, and per target the
        observed value (NaN where there is none) and ``<target>_pred``.
        """
        text, notes = _call(_native.predict, self._text, _table(data), _flags(columns))
        _tell(notes)
        frame = _csv(text)
        rows = frame.pop("row").to_numpy() - 1
        frame.index = data.index[rows] if isinstance(data, pd.DataFrame) else pd.Index(rows)
        return frame

    def optimize(
        self,
        n: Optional[float] = None,
        d: Optional[float] = None,
        target: Union[str, Sequence[str]] = "avg",
        min: Optional[Dict[str, float]] = None,
        max: Optional[Dict[str, float]] = None,
        available: Optional[Dict[str, float]] = None,
        flops: Optional[float] = None,
        resolution: int = 20,
        **settings: Any,
    ) -> "Mixture":
        """The mixture minimising one or more fitted targets (``"avg"``: their mean) at model
        size ``n`` and tokens ``d``, or choosing N for a compute budget ``flops``.

        ``min``/``max``/``available`` map domains to bounds on their weight (or on their tokens,
        h·D). Further keywords are ``optimize``'s flags (``top``, ``backend``, ``n_grid``,
        ``d_grid``, ``targets`` for a CSV of weightings).
        """
        args = _flags(
            dict(n=n, d=d, target=[target] if isinstance(target, str) else list(target),
                 min=min, max=max, available=available, flops=flops, resolution=resolution,
                 **settings)
        )
        text, notes = _call(_native.optimize, self._text, args)
        _tell(notes)
        flags = dict(n=n, d=d, goal=[target] if isinstance(target, str) else list(target), min=min,
                     max=max, available=available, flops=flops, resolution=resolution, **settings)
        return Mixture(json.loads(text), self.domains, self.targets, self, flags)

    def sweep(self, n: float, d: float, **settings: Any) -> pd.DataFrame:
        """The optimal mixture of every fitted target and of their average at ``n``, ``d``: a
        row per target with ``h_<domain>``, ``pred_<target>``, ``loss``, ``lattice_loss`` and
        ``on_bounds`` (``sweep``'s flags as keywords: ``resolution``, ``min``, ``max``, ...)."""
        text, notes = _call(_native.sweep, self._text, _flags(dict(n=n, d=d, **settings)))
        _tell(notes)
        return _csv(text).set_index("target")

    def save(self, path: Union[str, "os.PathLike[str]"], force: bool = False) -> None:
        """Write the fit file (the CLI's format), atomically; an existing file only with
        ``force=True``."""
        _call(_native.write, os.fspath(path), self._text, force)

    def plot(
        self,
        kind: str,
        data: Optional[Data] = None,
        study: Any = None,
        of: Optional[str] = None,
        index: Optional[int] = None,
        size: Tuple[int, int] = (720, 480),
        **settings: Any,
    ) -> Figure:
        """One figure of this fit, as ``mixlaw plot KIND`` draws it.

        ``kind``: ``observed``, ``residuals``, ``scaling`` (need ``data``, a table), ``along``,
        ``simplex``, ``optimum``, ``optimum-grid`` (need ``n`` and ``d``, or ``flops``; ``goal``,
        ``min``, ``max``, ``n_grid``, ``d_grid``, ...), ``histograms``, ``alpha-beta`` (need
        ``study``, a :class:`Study` or a study file). ``of`` picks a target and ``index`` one of
        several figures of the kind.
        """
        text = _study_source(study, settings)
        args = _flags(dict(of=of, index=index, **settings))
        table = _table(data) if data is not None else None

        def draw(fmt: str, w: int, h: int) -> bytes:
            out, notes = _call(_native.figure, self._text, kind, table, text, args, fmt, w, h)
            _tell(notes)
            return out

        return Figure(draw, size)

    def report(
        self,
        path: Union[str, "os.PathLike[str]"],
        data: Optional[Data] = None,
        study: Any = None,
        title: Optional[str] = None,
        force: bool = False,
        **settings: Any,
    ) -> None:
        """Write the HTML report of this fit (``mixlaw report``): one self-contained page, a
        summary and a section per target, with the figures ``data``, ``study`` and a scale
        (``n``, ``d``) allow."""
        text = _study_source(study, settings)
        args = _flags(dict(title=title, **settings))
        table = _table(data) if data is not None else None
        html, notes = _call(_native.report, self._text, table, text, args)
        _tell(notes)
        _call(_native.write, os.fspath(path), html, force)

    def to_json(self) -> str:
        """The fit file's text."""
        return self._text

    def __repr__(self) -> str:
        s = self.summary
        lines = [f"<mixlaw.Fit {self.law} law, {len(s)} target(s), {self.file['data']['rows']} rows>"]
        for key, row in s.iterrows():
            name = key if isinstance(key, str) else "/".join(str(k) for k in key)
            lines.append(f"  {name}: objective {row['objective']:.6g}, train MRE "
                         f"{row['train_mre_pct']:.4f}%, {row['converged']}/{row['starts']} converged")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return _html_table(
            f"mixlaw fit: {self.law} law ({self.file['formula']})",
            [("", self.summary), ("parameters", self.params)],
        )


class Mixture:
    """Optimal mixtures, as ``mixlaw optimize --json`` reports them.

    Attributes:
        report: the report as a dict.
    """

    def __init__(self, report: Dict[str, Any], domains: List[str], targets: List[str],
                 fit: "Fit", flags: Dict[str, Any]) -> None:
        self.report = report
        self._domains = domains
        self._targets = targets
        self._fit = fit
        self._flags = flags

    def plot(self, kind: str = "optimum", study: Any = None, **settings: Any) -> Figure:
        """A figure of this optimum: ``optimum`` (h* as bars, with a study's intervals),
        ``along`` (loss along each weight), ``simplex`` (a ternary map, or slices through h*)."""
        flags = {k: v for k, v in self._flags.items() if k != "targets"}
        flags.update(settings)
        return self._fit.plot(kind, study=study, **flags)

    def _frame(self, key: str, columns: List[str]) -> pd.DataFrame:
        rows, index = [], []
        for t in self.report["targets"]:
            rows.append([t[key][c] for c in columns])
            index.append((t["target"], t["n"], t["d"]) if "n" in t else t["target"])
        names = ["target", "n", "d"] if self.report["targets"] and "n" in self.report["targets"][0] else None
        idx = pd.MultiIndex.from_tuples(index, names=names) if names else pd.Index(index, name="target")
        return pd.DataFrame(rows, index=idx, columns=columns)

    @property
    def h(self) -> pd.DataFrame:
        """The optimal weights: a row per goal (target or ``avg``), a column per domain."""
        return self._frame("h", self._domains)

    @property
    def loss(self) -> pd.Series:
        """The minimised loss of each goal."""
        return pd.Series([t["loss"] for t in self.report["targets"]], index=self.h.index, name="loss")

    @property
    def predicted(self) -> pd.DataFrame:
        """Every fitted target's predicted loss at each optimal mixture."""
        return self._frame("predicted", self._targets)

    @property
    def on_bounds(self) -> pd.Series:
        """The domains on a bound of each optimal mixture."""
        return pd.Series([list(t.get("on_bounds", [])) for t in self.report["targets"]],
                         index=self.h.index, name="on_bounds")

    def __repr__(self) -> str:
        lines = ["<mixlaw.Mixture>"]
        for key, row in self.h.iterrows():
            weights = ", ".join(f"{d}={v:.4f}" for d, v in row.items())
            lines.append(f"  {key}: {weights}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        frame = self.h.copy()
        frame["loss"] = self.loss
        return _html_table("mixlaw optimal mixture", [("", frame)])


# --------------------------------------------------------------------------------------------
# Bootstrap studies.


class Study:
    """A bootstrap study: the full-data estimates, every replicate, and their summary."""

    def __init__(self, study: str, summary: str) -> None:
        self._text = study
        self.study: Dict[str, Any] = json.loads(study)
        self.summary_report: Dict[str, Any] = json.loads(summary)

    @staticmethod
    def _intervals(rows: List[Tuple[Any, Dict[str, Any]]], names: List[str]) -> pd.DataFrame:
        keys = ["estimate", "mean", "se", "lo", "hi"]
        frame = pd.DataFrame([[i[k] for k in keys] for _, i in rows], columns=keys)
        frame.index = pd.MultiIndex.from_tuples([key for key, _ in rows], names=names)
        return frame

    @property
    def params(self) -> pd.DataFrame:
        """Per target and parameter: the full-data estimate, the replicates' mean and standard
        error, and the percentile interval (lo, hi)."""
        rows = [((t["target"], i["name"]), i) for t in self.summary_report["targets"] for i in t["params"]]
        return self._intervals(rows, ["target", "parameter"])

    @property
    def predictions(self) -> pd.DataFrame:
        """Per target and point of ``at``: the predicted loss with its interval."""
        rows = []
        for t in self.summary_report["targets"]:
            for p in t["predictions"]:
                at = p["at"]
                rows.append(((t["target"], at["n"], at["d"], tuple(at.get("h", []))), p))
        return self._intervals(rows, ["target", "n", "d", "h"])

    @property
    def intervals(self) -> pd.DataFrame:
        """With ``intervals=LEVEL``: per target and point of ``at``, the prediction with its
        calibrated interval (``lo``, ``hi``), its distance from the table's runs (decades of N
        and D), whether it lies beyond every backtest, and the bootstrap's interval alone."""
        rows = []
        for i in self.summary_report.get("intervals", []):
            at = i["at"]
            lo, hi = i.get("sampling") or (float("nan"), float("nan"))
            rows.append({"target": i["target"], "n": at["n"], "d": at["d"], "h": tuple(at.get("h", [])),
                         "predicted": i["predicted"], "lo": i["lo"], "hi": i["hi"],
                         "distance": i["distance"], "beyond_backtests": i["beyond_backtests"],
                         "bootstrap_lo": lo, "bootstrap_hi": hi})
        frame = pd.DataFrame(rows)
        return frame.set_index(["target", "n", "d", "h"]) if rows else frame

    @property
    def optimum(self) -> pd.DataFrame:
        """Per target and domain: the optimal weight with its interval."""
        rows = [((t["target"], i["name"]), i) for t in self.summary_report["targets"] for i in t["optimum"]]
        return self._intervals(rows, ["target", "domain"])

    @property
    def replicates(self) -> pd.DataFrame:
        """Every replicate: a row per replicate and target, with its objective, its parameters
        and (mixture laws) its optimal mixture as ``h_<domain>`` columns."""
        rows = []
        for r in self.study["records"]:
            row = {"replicate": r["replicate"], "target": r["target"], "objective": r["objective"]}
            row.update(dict(r["params"]))
            for d, v in (r.get("optimum") or {}).items():
                row[f"h_{d}"] = v
            rows.append(row)
        return pd.DataFrame(rows)

    def plot(
        self,
        kind: str = "histograms",
        target: Optional[str] = None,
        index: Optional[int] = None,
        size: Tuple[int, int] = (720, 480),
    ) -> Figure:
        """A figure of the replicates: ``histograms`` (one per parameter, with the estimate and
        interval) or ``alpha-beta`` (α against β). ``target`` and ``index`` pick one of several."""
        level = self.level

        def draw(fmt: str, w: int, h: int) -> bytes:
            return _call(_native.study_figure, self._text, kind, target, index, level, fmt, w, h)

        return Figure(draw, size)

    @property
    def level(self) -> float:
        """The intervals' confidence level."""
        return self.summary_report["level"]

    def __repr__(self) -> str:
        s = self.summary_report
        return (f"<mixlaw.Study {s['law']} law, {s['replicates']} replicates ({s['resample']} "
                f"resampled), {len(s['targets'])} target(s), {s['level']:.0%} intervals>")

    def _repr_html_(self) -> str:
        frames = [("parameters", self.params)]
        if len(self.predictions):
            frames.append(("predictions", self.predictions))
        if len(self.optimum):
            frames.append(("optimal mixture", self.optimum))
        return _html_table(repr(self)[1:-1], frames)


# --------------------------------------------------------------------------------------------
# Entry points.


def _law(law: Optional[str], formula: Optional[str]) -> Dict[str, Any]:
    return {"formula": formula} if formula is not None else {"law": law}


def fit(
    data: Data,
    law: str = "additive",
    target: Union[None, str, Sequence[str]] = None,
    *,
    formula: Optional[str] = None,
    progress: bool = False,
    **settings: Any,
) -> Fit:
    """Fit a law to every target of a table.

    Args:
        data: a pandas DataFrame, a dict of arrays, or a CSV path.
        law: a built-in law (see :func:`laws`) or a law file (``.toml``).
        target: one target column or several (default: every ``*_loss`` column, or ``loss``).
        formula: a law written inline instead of ``law`` (``bound={"alpha": (0, 2)}`` bounds
            its parameters).
        progress: show a progress bar (tqdm when installed).
        **settings: the flags of ``mixlaw fit``: ``n_col``, ``d_col``, ``flops_col``,
            ``weight_prefix``, ``where``, ``drop_highest``, ``keep_duplicates``, ``group_by``,
            ``starts``, ``seed``, ``hops``, ``init``, ``residual``, ``reduce``, ``loss``,
            ``delta``, ``backend``, ...
    """
    args = _flags(dict(_law(law, formula), target=_list(target), **_bounds(settings)))
    text, notes = _run(_native.fit, progress, "fit", _table(data), args)
    _tell(notes)
    return Fit(text)


def _list(value: Union[None, str, Sequence[str]]) -> Optional[List[str]]:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _bounds(settings: Dict[str, Any]) -> Dict[str, Any]:
    bound = settings.pop("bound", None)
    if isinstance(bound, dict):
        settings["bound"] = [f"{k}={_text(lo)},{_text(hi)}" for k, (lo, hi) in bound.items()]
    elif bound is not None:
        settings["bound"] = bound
    return settings


def eval(
    data: Data,
    law: str = "additive",
    train: Union[str, Sequence[str]] = (),
    test: Union[str, Sequence[str]] = (),
    target: Union[None, str, Sequence[str]] = None,
    *,
    formula: Optional[str] = None,
    progress: bool = False,
    **settings: Any,
) -> pd.DataFrame:
    """Fit on the ``train`` rows and score mean relative error (%) on both splits, per target.

    ``train`` and ``test`` are row filters (``"model_size<=1.3e9"``; a list is ANDed). Returns a
    DataFrame indexed by target with train/test rows, objective, train and test MRE; the fit on
    the train split is in ``.attrs["fit"]``.

    ``intervals=0.9`` gives every test row a prediction interval calibrated on backtests of the
    train rows (``by``: the scale column they roll over, default N; ``replicates``,
    ``replicate_starts``, ``resample``: the bootstrap of the train rows). The frame then gains
    ``coverage``, ``bootstrap_coverage``, ``median_half_width_pct`` and ``beyond_backtests``
    per target, and ``.attrs["intervals"]`` holds a row per test row (``target``, ``row``,
    ``observed``, ``predicted``, ``lo``, ``hi``, ``distance``, ...).
    """
    args = _flags(dict(_law(law, formula), target=_list(target), train=_list(train),
                       test=_list(test), **_bounds(settings)))
    fit_text, report, notes = _run(_native.eval, progress, "eval", _table(data), args)
    _tell(notes)
    rep = json.loads(report)
    frame = pd.DataFrame(rep["targets"])
    index = ["group", "target"] if "group" in frame.columns else "target"
    intervals = rep.get("intervals")
    if intervals is not None:
        cover = pd.DataFrame(intervals["targets"])
        keep = ["coverage", "bootstrap_coverage", "median_half_width_pct", "beyond_backtests"]
        keys = [k for k in ["group", "target"] if k in cover.columns]
        frame = frame.merge(cover[keys + [k for k in keep if k in cover.columns]], on=keys, how="left")
    frame = frame.set_index(index)
    frame.attrs["fit"] = Fit(fit_text)
    frame.attrs["report"] = rep
    if intervals is not None:
        rows = pd.DataFrame(intervals["rows"])
        if "sampling" in rows.columns:
            rows[["bootstrap_lo", "bootstrap_hi"]] = pd.DataFrame(rows.pop("sampling").tolist(), index=rows.index)
        frame.attrs["intervals"] = rows
    return frame


def backtest(
    data: Data,
    law: str = "additive",
    by: Optional[str] = None,
    steps: int = 8,
    target: Union[None, str, Sequence[str]] = None,
    *,
    formula: Optional[str] = None,
    progress: bool = False,
    **settings: Any,
) -> pd.DataFrame:
    """Backtest a law on its own table: fit on the rows up to each value of the scale column
    ``by`` (default N), predict every larger one.

    Returns a DataFrame with a row per target, step and held-out value: ``up_to`` (the step's
    cut), ``train_rows``, ``by`` (the held-out value), ``rows``, ``mre_pct``,
    ``median_distance`` (decades of N and D from the nearest training row) and, for mixture
    laws, ``spearman`` and ``regret`` over the mixtures at each held-out scale.
    ``.attrs["predictions"]`` holds every held-out prediction, ``.attrs["report"]`` the JSON of
    ``mixlaw backtest --json``. Further keywords are the command's flags.
    """
    args = _flags(dict(_law(law, formula), by=by, steps=steps, target=_list(target),
                       **_bounds(settings)))
    report, notes = _run(_native.backtest, progress, "backtest", _table(data), args)
    _tell(notes)
    rep = json.loads(report)
    rows, predictions = [], []
    for t in rep["targets"]:
        key = {"target": t["target"]}
        if "group" in t:
            key = {"group": t["group"], **key}
        for s in t["steps"]:
            for h in s["held_out"]:
                row = dict(key, up_to=s["up_to"], train_rows=s["train_rows"])
                row.update({k: v for k, v in h.items() if k != "scale_points"})
                rows.append(row)
            for p in s["predictions"]:
                predictions.append(dict(key, up_to=s["up_to"], **p))
    frame = pd.DataFrame(rows)
    frame.attrs["predictions"] = pd.DataFrame(predictions)
    frame.attrs["report"] = rep
    return frame


def bootstrap(
    data: Data,
    law: str = "additive",
    replicates: int = 1000,
    starts: Optional[int] = None,
    resample: str = "rows",
    at: Union[None, str, Sequence[Any]] = None,
    seed: int = 0,
    shard: Optional[str] = None,
    out: Union[None, str, "os.PathLike[str]"] = None,
    resume: bool = False,
    *,
    formula: Optional[str] = None,
    progress: bool = False,
    force: bool = False,
    **settings: Any,
) -> Study:
    """Bootstrap uncertainty: refit the law on ``replicates`` resampled tables.

    ``resample`` draws ``"rows"`` or whole ``"runs"``; ``at`` gives points ``"N,D[,h...]"`` (or
    sequences of numbers) at which to report predicted losses; ``shard="i/n"`` runs a share of
    the replicates; ``out`` writes the study file (JSON Lines) as replicates finish, ``resume``
    continues one. ``intervals=0.9`` (with ``at``) also gives each prediction an interval
    calibrated on backtests of the table (``by``: their scale column): ``Study.intervals``.
    Further keywords are ``mixlaw bootstrap``'s flags (``level``, ``optimum_at``, ``target``,
    the column and fit settings).
    """
    args = _flags(dict(_law(law, formula), replicates=replicates, starts=starts, resample=resample,
                       at=_points(at), seed=seed, shard=shard,
                       out=os.fspath(out) if out is not None else None, resume=resume,
                       force=force, **_bounds(settings)))
    study, summary, _backend, notes = _run(_native.bootstrap, progress, "bootstrap", _table(data), args)
    _tell(notes)
    return Study(study, summary)


def _points(at: Union[None, str, Sequence[Any]]) -> Optional[List[str]]:
    """``at`` as ``--at`` flags: a string ``"N,D[,h...]"``, a sequence of numbers, or a list of
    either."""
    if at is None:
        return None
    items = [at] if isinstance(at, str) else list(at)
    if items and not isinstance(items[0], (str, list, tuple, np.ndarray)):
        items = [items]
    return [p if isinstance(p, str) else ",".join(_text(v) for v in p) for p in items]


def merge(
    paths: Sequence[Union[str, "os.PathLike[str]"]],
    out: Union[None, str, "os.PathLike[str]"] = None,
    force: bool = False,
    **settings: Any,
) -> Study:
    """Merge the study files of a sharded bootstrap (every shard once, each complete) into one
    study; with ``out``, write the merged study file (``level``, ``at`` summarise it)."""
    settings["at"] = _points(settings.get("at"))
    study, summary = _call(_native.merge, [os.fspath(p) for p in paths],
                           os.fspath(out) if out is not None else None, force, _flags(settings))
    return Study(study, summary)


def load_fit(path: Union[str, "os.PathLike[str]"]) -> Fit:
    """Read a fit file (written by ``mixlaw fit --out`` or :meth:`Fit.save`)."""
    return Fit(_call(_native.load_fit, os.fspath(path)))


def laws() -> pd.DataFrame:
    """The built-in laws: formula, parameter count and names, and the inputs each reads."""
    return pd.DataFrame(json.loads(_native.laws())).set_index("name")


def devices() -> pd.DataFrame:
    """The GPU adapters the engine can see (``WGPU_BACKEND`` selects backends), and which one
    ``backend="auto"`` would take."""
    return pd.DataFrame(json.loads(_native.devices()))


def simulate(law: str, params: Union[str, Dict[str, float]], **design: Any) -> pd.DataFrame:
    """A table of runs simulated from ``law`` with known ``params`` (fit units), as
    ``mixlaw simulate`` writes it: ``domains``, ``mixtures``, ``sizes``, ``tokens``, ``noise``,
    ``seed``, ``target_name``, ... as keywords."""
    if isinstance(params, dict):
        params = ",".join(f"{k}={_text(v)}" for k, v in params.items())
    for key in ("domains", "sizes", "tokens"):
        if isinstance(design.get(key), (list, tuple, np.ndarray)):
            design[key] = ",".join(_text(v) for v in design[key])
    return _csv(_call(_native.simulate, _flags(dict(law=law, params=params, **design))))
