"""Type stubs of mixlaw's compiled engine (python/src/lib.rs). Use the `mixlaw` package's
functions; these are its internals. `args` are the command line's flags; tables are CSV paths or
`(name, [(column, float64 bytes | list[str])])`; results are the CLI's JSON and CSV texts."""

from typing import Callable, List, Optional, Tuple, Union

__version__: str
# Why rayon's pool has fewer threads than RAYON_NUM_THREADS asks for, if it has.
thread_note: Optional[str]

class InputError(ValueError):
    """Bad input: a table's cell, a keyword's value, a fit or study file. The message names the
    file (or table), the row and the column."""

class GpuError(RuntimeError):
    """The GPU backend cannot run: no adapter, no device, a shader that does not compile, or a
    problem beyond the device's limits."""

Table = Union[str, Tuple[str, List[Tuple[str, Union[bytes, List[str]]]]]]
Progress = Optional[Callable[[str, int, int], None]]

def fit(data: Table, args: List[str], progress: Progress = None) -> Tuple[str, List[str]]: ...
def eval(data: Table, args: List[str], progress: Progress = None) -> Tuple[str, str, List[str]]: ...
def backtest(data: Table, args: List[str], progress: Progress = None) -> Tuple[str, List[str]]: ...
def predict(fit: str, data: Table, args: List[str]) -> Tuple[str, List[str]]: ...
def optimize(fit: str, args: List[str]) -> Tuple[str, List[str]]: ...
def sweep(fit: str, args: List[str]) -> Tuple[str, List[str]]: ...
def bootstrap(
    data: Table, args: List[str], progress: Progress = None
) -> Tuple[str, str, str, List[str]]: ...
def merge(paths: List[str], out: Optional[str], force: bool, args: List[str]) -> Tuple[str, str]: ...
def simulate(args: List[str]) -> str: ...
def laws() -> str: ...
def devices() -> str: ...
def load_fit(path: str) -> str: ...
def write(path: str, text: str, force: bool) -> None: ...
def write_bytes(path: str, data: bytes, force: bool) -> None: ...
def figure(
    fit: str,
    kind_name: str,
    data: Optional[Table],
    study_text: Optional[str],
    args: List[str],
    format_name: str,
    width: int,
    height: int,
) -> Tuple[bytes, List[str]]: ...
def report(
    fit: str, data: Optional[Table], study_text: Optional[str], args: List[str]
) -> Tuple[str, List[str]]: ...
def study_figure(
    study_text: str,
    kind_name: str,
    target: Optional[str],
    index: Optional[int],
    level: float,
    format_name: str,
    width: int,
    height: int,
) -> bytes: ...
