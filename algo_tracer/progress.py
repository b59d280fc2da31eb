"""Progress of long work (re-hashing big files, Indexer scans, inclusion proofs) on stderr.

On a terminal a task is one line redrawn in place, with a bar when its total is known; in a
log (CI, a pipe, a file) it is a plain line at most every `interval` seconds and one at the end,
so logs stay readable. Work that ends within `delay` seconds shows nothing at all, like
tqdm's ``delay``: verifying a small experiment prints no bars.

The library never creates one on its own: callers (the CLI) pass a `Progress` to the functions
that take ``progress=``; `None` means silent. The one exception is `Experiment.finish`, whose
wait for the chain is shown on stderr once it lasts 2 s: a training script would otherwise
seem to hang while the node is down.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "ProgressTask", "track"]

_BAR_WIDTH = 24


class Progress:
    """Where progress goes, and how it is drawn."""

    def __init__(self, stream: TextIO | None = None, *, prefix: str = "algo-tracer: ",
                 interactive: bool | None = None, delay: float = 0.5,
                 interval: float = 5.0) -> None:
        """Args:
            stream: Defaults to stderr (stdout stays clean for `--json`).
            prefix: Put before every line.
            interactive: Redraw in place; default: the stream is a terminal.
            delay: Seconds a task must run before it is shown.
            interval: Seconds between lines when not interactive.
        """
        self.stream = stream if stream is not None else sys.stderr
        self.prefix = prefix
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty()) if interactive is None else interactive
        self.delay = delay
        self.interval = interval

    def say(self, line: str) -> None:
        """A one-off line."""
        self._write(f"{self.prefix}{line}\n")

    def task(self, label: str, *, total: int | None = None, unit: str = "") -> ProgressTask:
        """A unit of work counted by `ProgressTask.advance`; use it as a context manager.

        Args:
            label: What is being done ("hashing train.parquet").
            total: The count when done, if known (draws a bar and a percentage).
            unit: ``"B"`` formats counts as bytes; any other text is appended to the count.
        """
        return ProgressTask(self, label, total=total, unit=unit)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class ProgressTask:
    """A counter drawn by its `Progress`; `advance` may be called from several threads."""

    def __init__(self, owner: Progress, label: str, *, total: int | None, unit: str) -> None:
        self.owner, self.label, self.total, self.unit = owner, label, total, unit
        self.count = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._shown = False

    def advance(self, n: int = 1) -> None:
        """Count `n` more units done."""
        with self._lock:
            self.count += n
            now = time.monotonic()
            if now - self._started < self.owner.delay:
                return
            step = 0.1 if self.owner.interactive else self.owner.interval
            if now - self._last_draw >= step:
                self._last_draw = now
                self._draw(now, final=False)

    def __enter__(self) -> ProgressTask:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with self._lock:
            if self._shown:  # only tasks that were shown get a closing line
                self._draw(time.monotonic(), final=True, failed=exc_type is not None)

    def render(self, now: float | None = None) -> str:
        """The task's line as it would be drawn now (without prefix)."""
        elapsed = max((now if now is not None else time.monotonic()) - self._started, 1e-9)
        done = self._amount(self.count)
        if self.total:
            share = min(self.count / self.total, 1.0)
            filled = round(share * _BAR_WIDTH)
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            text = f"{self.label} [{bar}] {share:4.0%} {done}/{self._amount(self.total)}"
        else:
            text = f"{self.label}: {done}"
        return f"{text} ({self._amount(self.count / elapsed)}/s, {elapsed:.0f}s)"

    def _draw(self, now: float, *, final: bool, failed: bool = False) -> None:
        line = self.render(now) + (" - stopped" if failed else "")
        if self.owner.interactive:
            # \r + erase-to-end redraws the line; the final draw ends it with a newline.
            self.owner._write(f"\r\x1b[K{self.owner.prefix}{line}" + ("\n" if final else ""))
        else:
            self.owner._write(f"{self.owner.prefix}{line}\n")
        self._shown = True

    def _amount(self, value: float) -> str:
        if self.unit != "B":
            return f"{value:,.0f}{' ' + self.unit if self.unit else ''}"
        for suffix in ("B", "KiB", "MiB", "GiB"):
            if value < 1024:
                return f"{value:.0f} {suffix}" if suffix == "B" else f"{value:.1f} {suffix}"
            value /= 1024
        return f"{value:.1f} TiB"


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
