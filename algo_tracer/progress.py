"""Progress of long work (re-hashing big files, Indexer scans, inclusion proofs) on stderr.

Drawn by tqdm (`tqdm.auto`): a bar redrawn in place on a terminal, a widget in a Jupyter
notebook. Work that ends within `delay` seconds shows nothing at all (tqdm's ``delay``):
verifying a small experiment prints no bars. This module adds only what tqdm does not do:

* **Logs stay readable.** In a log (CI, a pipe, a file) tqdm would still redraw with ``\\r``,
  which a log keeps as one ever longer line; here each redraw becomes a line of its own, at
  most one every `interval` seconds, and one at the end.
* **A prefix** (``algo-tracer: ``) on every line, so our lines stand out in a training log.
* **A task that fails says so** (``stopped``) instead of ending like a finished one.
* **Exact counts from several threads** (directory hashing advances from its worker threads;
  tqdm's ``update`` is not atomic).
* **`track`**: a no-op when there is no `Progress`, so library code needs no ``if``.

The library never creates one on its own: callers (the CLI) pass a `Progress` to the functions
that take ``progress=``; `None` means silent. The one exception is `Experiment.finish`, whose
wait for the chain is shown once it lasts 2 s: a training script would otherwise seem to hang
while the node is down.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["Progress", "ProgressTask", "track"]


def _auto_bar() -> type[tqdm[Any]]:
    # Imported when a task starts, not with this module: tqdm.auto picks the notebook widget
    # from what is loaded when it is first imported (ipykernel), and the CLI's --help stays fast.
    # In a notebook without ipywidgets tqdm warns on every first import and draws text bars,
    # which Jupyter shows well; the widget is the `notebook` extra (README), not a warning.
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "IProgress not found", TqdmWarning)
        from tqdm.auto import tqdm as auto_tqdm

    return auto_tqdm


def _in_notebook() -> bool:
    """A Jupyter kernel: tqdm.auto draws a widget (with ipywidgets), else a text bar whose
    carriage-return redraws Jupyter shows in place."""
    if "ipykernel.zmqshell" in sys.modules:  # tqdm.autonotebook's own test
        return True
    return any(cls.__module__ == "tqdm.notebook" for cls in _auto_bar().__mro__)


class Progress:
    """Where progress goes, and how it is drawn."""

    def __init__(self, stream: TextIO | None = None, *, prefix: str = "algo-tracer: ",
                 interactive: bool | None = None, delay: float = 0.5,
                 interval: float = 5.0) -> None:
        """Args:
            stream: Defaults to stderr (stdout stays clean for `--json`).
            prefix: Put before every line.
            interactive: Redraw in place (a terminal) or draw a widget (a notebook); default:
                the stream is a terminal, or stderr/stdout of a Jupyter kernel.
            delay: Seconds a task must run before it is shown.
            interval: Seconds between lines when not interactive.
        """
        self.stream = stream if stream is not None else sys.stderr
        self.prefix = prefix
        isatty = getattr(self.stream, "isatty", None)
        if interactive is None:
            standard = self.stream in (sys.stderr, sys.stdout)
            interactive = bool(isatty and isatty()) or (standard and _in_notebook())
        self.interactive = interactive
        self.delay = delay
        self.interval = interval

    def say(self, line: str) -> None:
        """A one-off line (between, not through, the bars being drawn)."""
        if self.interactive:
            _auto_bar().write(f"{self.prefix}{line}", file=self.stream)
        else:
            self.stream.write(f"{self.prefix}{line}\n")
            self.stream.flush()

    def task(self, label: str, *, total: int | None = None, unit: str = "") -> ProgressTask:
        """A unit of work counted by `ProgressTask.advance`; use it as a context manager.

        Args:
            label: What is being done ("hashing train.parquet").
            total: The count when done, if known (draws a bar and a percentage).
            unit: ``"B"`` formats counts as bytes (KiB, MiB, ...); ``"s"`` counts seconds
                waited (no rate: tqdm's "1.02s/s" says nothing); any other text is appended
                to the count.
        """
        return ProgressTask(self, label, total=total, unit=unit)


class _LogLines:
    """The file a log-mode bar writes to: each ``\\r`` redraw becomes a prefixed line."""

    def __init__(self, stream: TextIO, prefix: str) -> None:
        self.stream, self.prefix = stream, prefix
        self._last = ""

    def write(self, text: str) -> None:
        for part in text.split("\r"):
            line = part.rstrip()  # tqdm pads a redraw with spaces to cover the previous one
            if line and line != self._last:  # tqdm's closing draw repeats the last one
                self.stream.write(f"{self.prefix}{line}\n")
                self._last = line

    def flush(self) -> None:
        self.stream.flush()


class ProgressTask:
    """A tqdm bar drawn for its `Progress`; `advance` may be called from several threads."""

    def __init__(self, owner: Progress, label: str, *, total: int | None, unit: str) -> None:
        self.owner, self.label, self.total, self.unit = owner, label, total, unit
        self.count = 0
        self._lock = threading.Lock()
        in_bytes = unit == "B"
        options: dict[str, Any] = dict(
            total=total, delay=owner.delay, leave=True,
            unit=unit if in_bytes or not unit else f" {unit}",
            unit_scale=in_bytes, unit_divisor=1024 if in_bytes else 1000)
        if unit == "s":
            options["bar_format"] = ("{l_bar}{bar}| {n_fmt}/{total_fmt} s [{elapsed}<{remaining}"
                                     "{postfix}]" if total else "{desc}: {n_fmt} s{postfix}")
        if owner.interactive:
            self._bar = _auto_bar()(desc=f"{owner.prefix}{label}", file=owner.stream,
                                    dynamic_ncols=True, **options)
        else:
            from tqdm.std import tqdm as plain_tqdm  # never a widget: this is a log

            # No width: a log line is never cut to a terminal's (tqdm trims to `ncols`).
            self._bar = plain_tqdm(desc=label, file=_LogLines(owner.stream, owner.prefix),
                                   mininterval=owner.interval, ascii=True, **options)

    def advance(self, n: int = 1) -> None:
        """Count `n` more units done."""
        with self._lock:
            self.count += n
            self._bar.update(n)

    def __enter__(self) -> ProgressTask:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with self._lock:
            if exc_type is not None:  # shown only if the bar was (tqdm's delay)
                self._bar.set_postfix_str("stopped", refresh=False)
            self._bar.close()


def _ignore(_n: int = 1) -> None:
    pass


@contextlib.contextmanager
def track(progress: Progress | None, label: str, *, total: int | None = None,
          unit: str = "") -> Iterator[Callable[[int], None]]:
    """The `advance` of a new task of `progress`, or a no-op when `progress` is None."""
    if progress is None:
        yield _ignore
        return
    with progress.task(label, total=total, unit=unit) as task:
        yield task.advance
