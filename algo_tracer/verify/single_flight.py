"""Single-flight computations on a bounded pool: identical concurrent requests share one run.

    >>> flights = SingleFlight(max_running=4)
    >>> future, started = flights.submit(key, compute)   # the same future for the same key
    >>> future.result(timeout=30)                                           # doctest: +SKIP

Used by `algo_tracer.verify.cached` so that a crowd asking for the same experiment causes one
verification, and at most `max_running` verifications run at once: past that, `Busy` is raised
at once (the web server answers HTTP 503 with Retry-After) instead of piling work up. A
computation runs in the pool, not in the caller's thread, so a caller that stops waiting (a
request time limit) leaves it to finish for the next caller.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor

from algo_tracer.errors import AlgoTracerError

__all__ = ["Busy", "SingleFlight"]


class Busy(AlgoTracerError):
    """Every verification slot is taken; retry after `retry_after` seconds."""

    def __init__(self, running: int, retry_after: int) -> None:
        super().__init__(f"the server is already running {running} verifications, its limit",
                         fix=f"retry in {retry_after} s")
        self.retry_after = retry_after


class SingleFlight[T]:
    """Runs at most one computation per key at a time, and at most `max_running` in all."""

    def __init__(self, max_running: int, *, retry_after: int = 5) -> None:
        if max_running < 1:
            raise ValueError("max_running must be at least 1")
        self.max_running = max_running
        self.retry_after = retry_after
        self.started = 0  # computations started so far (tests and benchmarks read it)
        self._pool = ThreadPoolExecutor(max_workers=max_running,
                                        thread_name_prefix="algo-tracer-verify")
        self._running: dict[Hashable, Future[T]] = {}
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def submit(self, key: Hashable, compute: Callable[[], T]) -> tuple[Future[T], bool]:
        """The future of `key`'s computation, and whether this call started it.

        Raises:
            Busy: no computation runs for `key` and `max_running` others do.
        """
        with self._lock:
            running = self._running.get(key)
            if running is not None:
                return running, False
            if len(self._running) >= self.max_running:
                raise Busy(len(self._running), self.retry_after)
            future = self._pool.submit(compute)
            self._running[key] = future
            self.started += 1
        future.add_done_callback(lambda _f: self._forget(key, future))
        return future, True

    def _forget(self, key: Hashable, future: Future[T]) -> None:
        with self._lock:
            if self._running.get(key) is future:
                del self._running[key]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
