"""Runs `Writer.settle` on a thread, so that a training loop only writes to the journal.

Errors that a retry can cure (the network) are retried with backoff; any other error stops the
thread and is raised to the caller at the next `drain()` or `close()`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from algo_tracer.errors import AlgoTracerError, NetworkError, SealTimeoutError
from algo_tracer.progress import Progress, track
from algo_tracer.record.writer import Writer

__all__ = ["BackgroundWriter"]


class BackgroundWriter:
    """Runs `Writer.settle` on a thread; the training loop only writes to the journal.

    Errors that a retry can cure (network) are retried with backoff; any other error stops the
    thread and is raised to the caller at the next `drain()` or `close()`.
    """

    def __init__(self, writer: Writer, *, flush_interval: float = 5.0,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        self.writer = writer
        self.flush_interval = flush_interval
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._stop = False
        self._draining = False
        self._error: BaseException | None = None
        self._on_error = on_error
        self._ticking = False
        self._thread = threading.Thread(target=self._run, name="algo-tracer-writer", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        self._idle.clear()
        self._wake.set()

    def drain(self, timeout: float | None = None) -> None:
        """Wait until everything journaled so far is on chain (note groups flushed)."""
        self._raise()
        self._draining = True
        self.notify()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._idle.wait(0.05):
            self._raise()
            if not self._thread.is_alive():
                break
            if deadline is not None and time.monotonic() > deadline:
                raise NetworkError(f"the chain did not take the pending writes within {timeout} s",
                                   fix="they stay in the journal: run `algo-tracer resume` later")
        self._raise()

    def seal(self, timeout: float | None = None, *, progress: Progress | None = None) -> None:
        """Batch what is left, seal, and wait until the seal is confirmed. A pass under way
        takes the seal in at once (behind its groups in flight) rather than finishing first.

        Raises:
            SealTimeoutError: not sealed within `timeout` seconds (the writes stay journaled).
        """
        self.writer.request_seal()
        label = "sealing: waiting for the chain to confirm the last writes (Ctrl-C leaves them "
        label += "to `algo-tracer resume`)"
        with track(progress, label, total=round(timeout) if timeout else None, unit="s") as tick:
            self._ticking = progress is not None
            ticker = threading.Thread(target=self._tick, args=(tick, time.monotonic()),
                                      daemon=True)
            ticker.start()
            try:
                self.drain(timeout)
            except NetworkError as exc:
                raise SealTimeoutError(exc.message, fix=exc.fix) from exc
            finally:
                self._ticking = False
                ticker.join()

    def _tick(self, tick: Callable[[int], None], started: float) -> None:
        """One tick a second of the wait in `seal` (its progress shows the time waited)."""
        shown = 0
        while self._ticking:
            elapsed = int(time.monotonic() - started)
            if elapsed > shown:
                tick(elapsed - shown)
                shown = elapsed
            time.sleep(0.2)

    def close(self, *, raising: bool = True) -> None:
        """Stop the thread once its current step ends; raise what stopped it (if `raising`)."""
        self._stop = True
        self._wake.set()
        self._thread.join()
        if raising:
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        backoff = 0.5
        last = time.monotonic()
        while not self._stop:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            final = self._draining
            flush = final or time.monotonic() - last >= self.flush_interval
            try:
                self.writer.settle(flush=flush, final=final)
            except (NetworkError, OSError) as exc:
                if self._on_error:
                    self._on_error(exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                self._wake.set()
                continue
            except (AlgoTracerError, Exception) as exc:
                self._error = exc
                self._idle.set()
                return
            backoff = 0.5
            if flush:
                last = time.monotonic()
            if final:
                if not self.writer.outstanding():
                    self._draining = False
                    self._idle.set()
                else:
                    self._wake.set()  # keep draining until nothing is outstanding
