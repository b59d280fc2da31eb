"""The wrapping tracking store behind ``algotrace+<uri>`` and `autotrace()`. Internal: no
stability promise; the public names are in `algo_tracer.integrations.mlflow`.

`AlgoTraceStore` delegates every call to the MLflow store it wraps, then tells the `Recorder`
what a traced run logged. Delegation is complete by construction: every method and property
that MLflow's `AbstractStore` (with its mixins) defines is forwarded (`_install_forwarders`), a
few are overridden to record, and anything else (a concrete store's own attributes, such as
``SqlAlchemyStore.engine``) is reached through ``__getattr__``.

Async logging is the one exception, on purpose: ``log_*_async`` and the queue controls are
*not* forwarded. They stay `AbstractStore`'s own, whose queue calls ``self.log_batch``, so
values logged with ``synchronous=False`` are recorded like the others. Forwarding them would
let the inner store's queue call the inner ``log_batch`` and skip the record.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from mlflow.entities import RunStatus
from mlflow.store.tracking.abstract_store import AbstractStore

from algo_tracer.errors import ConfigError, shorten
from algo_tracer.integrations.mlflow._recorder import RECORDER

#: URI prefix of the plugin: ``algotrace+sqlite:///mlflow.db`` wraps ``sqlite:///mlflow.db``.
SCHEME_PREFIX = "algotrace+"
#: Kept from `AbstractStore` (not forwarded): they route async logging through our log_batch.
ASYNC_METHODS = frozenset({
    "log_batch_async", "log_metric_async", "log_param_async", "set_tag_async",
    "end_async_logging", "flush_async_logging", "shut_down_async_logging",
})
_OUTCOMES = {RunStatus.FINISHED: "completed", RunStatus.FAILED: "failed",
             RunStatus.KILLED: "killed"}


def inner_uri(store_uri: str) -> str:
    """The wrapped store's URI: ``algotrace+sqlite:///mlflow.db`` -> ``sqlite:///mlflow.db``.

    Raises:
        ConfigError: If `store_uri` does not start with ``algotrace+`` followed by a URI, or
            wraps another ``algotrace+`` URI.
    """
    if not isinstance(store_uri, str) or not store_uri.startswith(SCHEME_PREFIX):
        raise ConfigError(f"{shorten(repr(store_uri))} is not an algo-tracer tracking URI",
                          fix="write 'algotrace+' before an MLflow tracking URI, e.g. "
                          "'algotrace+sqlite:///mlflow.db' or 'algotrace+file:///path/mlruns'")
    inner = store_uri[len(SCHEME_PREFIX):]
    if not inner.strip():
        raise ConfigError(f"{shorten(repr(store_uri))} names no MLflow store after 'algotrace+'",
                          fix="e.g. 'algotrace+sqlite:///mlflow.db'")
    if inner.startswith(SCHEME_PREFIX):
        raise ConfigError(f"{shorten(repr(store_uri))} wraps an algo-tracer URI in another",
                          fix="write 'algotrace+' once")
    return inner


def build_store(store_uri: str, artifact_uri: str | None = None) -> AlgoTraceStore:
    """The ``mlflow.tracking_store`` entry point: wrap the store MLflow builds for the inner URI.

    MLflow's own registry picks the inner store, so any URI MLflow accepts can be wrapped. The
    builder is called directly: `TrackingStoreRegistry.get_store` holds a non-reentrant lock
    while it runs this function, so calling it again from here would deadlock.
    """
    from mlflow.tracking._tracking_service import utils

    inner = inner_uri(store_uri)
    registry: Any = utils._tracking_store_registry
    store = registry.get_store_builder(inner)(store_uri=inner, artifact_uri=artifact_uri)
    _register_model_registry_scheme(store_uri.split(":", 1)[0])
    return AlgoTraceStore(store, tracking_uri=inner)


def _registry_store(store_uri: str, tracking_uri: str | None = None) -> Any:
    """Model-registry builder for ``algotrace+`` URIs: the inner URI's registry store, as is.

    The registry URI defaults to the tracking URI, so without this `mlflow.register_model`
    would fail on an ``algotrace+`` tracking URI. Registry events are not recorded.
    """
    from mlflow.tracking._model_registry.utils import _get_store_registry

    inner = inner_uri(store_uri)
    registry: Any = _get_store_registry
    builder = registry().get_store_builder(inner)
    if "tracking_uri" in inspect.signature(builder).parameters:
        return builder(store_uri=inner, tracking_uri=tracking_uri)
    return builder(store_uri=inner)


def _register_model_registry_scheme(scheme: str) -> None:
    from mlflow.tracking._model_registry.utils import _get_store_registry

    registry: Any = _get_store_registry
    registry = registry()
    if scheme not in registry._registry:
        registry.register(scheme, _registry_store)


class AlgoTraceStore(AbstractStore):
    """A tracking store that forwards everything to `inner` and records traced runs.

    Args:
        inner: The MLflow store holding the data (e.g. a ``SqlAlchemyStore``).
        tracking_uri: URI of `inner`, used to reach non-local artifact stores.
        origin: ``"uri"`` (an ``algotrace+`` URI) or ``"autotrace"``; runs created through an
            `autotrace()` wrapper are sealed when the last `autotrace()` stops.
    """

    def __init__(self, inner: AbstractStore, *, tracking_uri: str | None = None,
                 origin: str = "uri") -> None:
        self._inner: Any = inner
        self._tracking_uri = tracking_uri
        self._origin = origin
        base: Any = super()
        base.__init__()  # AbstractStore's async queue, bound to self.log_batch

    @property
    def inner(self) -> AbstractStore:
        inner: AbstractStore = self._inner
        return inner

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: the inner store's own attributes.
        inner = self.__dict__.get("_inner")
        if inner is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(inner, name)

    def __repr__(self) -> str:
        return f"AlgoTraceStore({self._inner!r})"

    # -- recorded calls: forward first, record what the inner store accepted -------------------

    def create_run(self, *args: Any, **kwargs: Any) -> Any:
        a = _bind("create_run", args, kwargs)
        problem = RECORDER.prepare(self._inner)
        run = self._inner.create_run(*args, **kwargs)
        if problem is None:
            tags = {t.key: t.value for t in a.get("tags") or []}
            RECORDER.start(self._inner, run, tags, tracking_uri=self._tracking_uri,
                           origin=self._origin)
        else:
            from algo_tracer.integrations.mlflow._run_io import set_tags as _set_tags

            _set_tags(self._inner, run.info.run_id, {"algotrace.status": problem})
        return run

    def log_metric(self, *args: Any, **kwargs: Any) -> Any:
        a = _bind("log_metric", args, kwargs)
        result = self._inner.log_metric(*args, **kwargs)
        RECORDER.metrics(a["run_id"], [a["metric"]])
        return result

    def log_batch(self, *args: Any, **kwargs: Any) -> Any:
        a = _bind("log_batch", args, kwargs)
        result = self._inner.log_batch(*args, **kwargs)
        RECORDER.metrics(a["run_id"], a["metrics"] or [])
        return result

    def log_inputs(self, *args: Any, **kwargs: Any) -> Any:
        a = _bind("log_inputs", args, kwargs)
        result = self._inner.log_inputs(*args, **kwargs)
        RECORDER.inputs(a["run_id"], a.get("datasets"))
        return result

    def log_outputs(self, *args: Any, **kwargs: Any) -> Any:
        a = _bind("log_outputs", args, kwargs)
        result = self._inner.log_outputs(*args, **kwargs)
        RECORDER.models(a["run_id"], [m.model_id for m in a["models"] or []])
        return result

    def create_logged_model(self, *args: Any, **kwargs: Any) -> Any:
        model = self._inner.create_logged_model(*args, **kwargs)
        RECORDER.models(getattr(model, "source_run_id", None), [model.model_id])
        return model

    def update_run_info(self, *args: Any, **kwargs: Any) -> Any:
        a = _bind("update_run_info", args, kwargs)
        outcome = _OUTCOMES.get(a["run_status"])
        try:
            if outcome is not None:
                RECORDER.end(a["run_id"], outcome)
        finally:
            result = self._inner.update_run_info(*args, **kwargs)
        if a["run_status"] == RunStatus.RUNNING:  # mlflow.start_run(run_id=...)
            RECORDER.resume(self._inner, a["run_id"], tracking_uri=self._tracking_uri,
                            origin=self._origin)
        return result


_SIGNATURES: dict[str, inspect.Signature] = {}


def _bind(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by `AbstractStore`'s parameter names (callers mix both styles)."""
    sig = _SIGNATURES.get(name)
    if sig is None:
        sig = _SIGNATURES[name] = inspect.signature(getattr(AbstractStore, name))
    bound = sig.bind(None, *args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def abstract_store_members() -> dict[str, Any]:
    """Every method and property `AbstractStore` and its mixins define, by name (MRO order)."""
    members: dict[str, Any] = {}
    for klass in reversed(AbstractStore.__mro__[:-1]):
        for name, value in vars(klass).items():
            if name.startswith("__") and name.endswith("__"):
                continue
            if isinstance(value, staticmethod | classmethod):
                continue
            if callable(value) or isinstance(value, property):
                members[name] = value
    for name in ("__init__",):
        members.pop(name, None)
    return members


def _forwarder(name: str, value: Any) -> Any:
    if isinstance(value, property):
        return property(lambda self: getattr(self._inner, name), doc=value.__doc__)
    if inspect.iscoroutinefunction(value):
        async def forward_async(self: AlgoTraceStore, *args: Any, **kwargs: Any) -> Any:
            return await getattr(self._inner, name)(*args, **kwargs)

        return functools.wraps(value)(forward_async)

    def forward(self: AlgoTraceStore, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._inner, name)(*args, **kwargs)

    return functools.wraps(value)(forward)


def _install_forwarders(cls: type[AlgoTraceStore]) -> frozenset[str]:
    forwarded = set()
    for name, value in abstract_store_members().items():
        if name in cls.__dict__ or name in ASYNC_METHODS:
            continue
        setattr(cls, name, _forwarder(name, value))
        forwarded.add(name)
    return frozenset(forwarded)


#: Names forwarded verbatim (the recorded calls and `ASYNC_METHODS` are the rest).
FORWARDED: frozenset[str] = _install_forwarders(AlgoTraceStore)
RECORDED: frozenset[str] = frozenset(
    name for name in abstract_store_members() if name in AlgoTraceStore.__dict__
    and name not in FORWARDED)


def wrap(store: AbstractStore, *, tracking_uri: str | None, cache: dict[int, AlgoTraceStore],
         origin: str) -> AbstractStore:
    """`store` wrapped once (per `cache`); an `AlgoTraceStore` is returned as it is."""
    if isinstance(store, AlgoTraceStore):
        return store
    wrapper = cache.get(id(store))
    if wrapper is None or wrapper.inner is not store:
        wrapper = cache[id(store)] = AlgoTraceStore(
            store, tracking_uri=tracking_uri, origin=origin)
    return wrapper


__all__ = ["ASYNC_METHODS", "FORWARDED", "RECORDED", "SCHEME_PREFIX", "AlgoTraceStore",
           "abstract_store_members", "build_store", "inner_uri", "wrap"]
