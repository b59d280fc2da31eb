"""`autotrace()`: record MLflow runs without changing the tracking URI. Internal: no stability
promise; the public names are in `algo_tracer.integrations.mlflow`.

How: MLflow resolves its tracking store on every call (``TrackingServiceClient.store`` asks
``mlflow.tracking._tracking_service.utils._tracking_store_registry.get_store``). While an
`AutoTrace` is open, that one registry object gets an instance attribute ``get_store`` that
wraps whatever store MLflow built in an `AlgoTraceStore`; closing the last open `AutoTrace`
deletes the attribute again. Nothing else is patched: no class, no module function, no
environment variable, and `mlflow.get_tracking_uri()` is unchanged. Clients built before
`autotrace()` are covered too, because they look the store up on each call.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from algo_tracer.integrations.mlflow import _context
from algo_tracer.integrations.mlflow._recorder import RECORDER
from algo_tracer.integrations.mlflow._store import AlgoTraceStore, wrap

if TYPE_CHECKING:
    from algo_tracer.record.tracer import Tracer

_lock = threading.Lock()
_open = 0
_previous: Any = None
_wrappers: dict[int, AlgoTraceStore] = {}


class AutoTrace:
    """An open `autotrace()`: records every MLflow run created until `stop()` (or the end of
    the ``with`` block). Runs still open at that point are sealed with what they logged so far.
    """

    def __init__(self) -> None:
        self._stopped = False
        _install()

    @property
    def active(self) -> bool:
        return not self._stopped

    def stop(self) -> None:
        """Stop recording; idempotent. The last open `AutoTrace` restores MLflow's registry."""
        if self._stopped:
            return
        self._stopped = True
        _uninstall()

    def __enter__(self) -> AutoTrace:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def autotrace(*, tracer: Tracer | None = None, strict: bool | None = None) -> AutoTrace:
    """Record every MLflow run created from now on, whatever the tracking URI.

    Use it as a function (recording lasts until ``.stop()`` or the end of the process) or as a
    context manager::

        with autotrace():
            mlflow.sklearn.autolog()
            model.fit(X, y)        # the autologged run is recorded and sealed

    Args:
        tracer: The `Tracer` to record with; default `Tracer.from_environment()`, created when
            the first run starts. Also used by ``algotrace+`` URIs afterwards.
        strict: Raise recording errors instead of warning (default: ``ALGO_TRACER_MLFLOW_STRICT``).

    Returns:
        The open `AutoTrace`.
    """
    RECORDER.configure(tracer=tracer, strict=strict)
    return AutoTrace()


def _install() -> None:
    global _open, _previous
    from mlflow.tracking._tracking_service import utils

    with _lock:
        _open += 1
        if _open > 1:
            return
        registry: Any = utils._tracking_store_registry
        _previous = registry.__dict__.get("get_store")  # someone else's wrapper: keep it inside
        original = _previous or type(registry).get_store.__get__(registry)

        def get_store(store_uri: str | None = None, artifact_uri: str | None = None) -> Any:
            store = original(store_uri, artifact_uri)
            resolve: Any = utils._resolve_tracking_uri
            return wrap(store, tracking_uri=resolve(store_uri), cache=_wrappers,
                        origin="autotrace")

        registry.get_store = get_store
        _context.set_autotrace_active(True)


def _uninstall() -> None:
    global _open
    from mlflow.tracking._tracking_service import utils

    with _lock:
        _open -= 1
        if _open > 0:
            return
        registry: Any = utils._tracking_store_registry
        if _previous is not None:
            registry.get_store = _previous
        else:
            registry.__dict__.pop("get_store", None)
        _context.set_autotrace_active(False)
        wrappers = list(_wrappers.values())
        _wrappers.clear()
    for wrapper in wrappers:
        flush: Any = wrapper.flush_async_logging
        flush()
    RECORDER.end_all("autotrace() stops", origin="autotrace")


__all__ = ["AutoTrace", "autotrace"]
