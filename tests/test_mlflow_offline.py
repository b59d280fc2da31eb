"""MLflow integration without a network: URIs, delegation to real MLflow stores, autotrace's
patch, the context provider and the hashing rules. Recording onto the chain is tested in
tests/localnet/test_mlflow.py.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LoggedModelOutput,
    Metric,
    Param,
    RunStatus,
    RunTag,
)
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.store.tracking.file_store import FileStore
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.tracking import MlflowClient
from mlflow.tracking._tracking_service import utils as tracking_utils

from algo_tracer.documents.manifest import Manifest
from algo_tracer.errors import ConfigError
from algo_tracer.format.ids import format_id
from algo_tracer.integrations.mlflow import (
    AlgoTracerMlflowWarning,
    AlgoTracerRunContextProvider,
    AlgoTraceStore,
    _content,
    _context,
    _recorder,
    _store,
    autotrace,
    tracking_store,
)
from algo_tracer.integrations.mlflow._verify import _earlier_segments
from algo_tracer.verify.report import CheckRow, VerificationReport

ROOT = Path(__file__).resolve().parents[1]
_MEMBERS = frozenset(_store.abstract_store_members())


class SpyStore(SqlAlchemyStore):
    """A real SQLite-backed store that notes which of its attributes are looked up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "looked_up", [])
        super().__init__(*args, **kwargs)

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") or name in _MEMBERS:
            object.__getattribute__(self, "looked_up").append(name)
        return object.__getattribute__(self, name)


@pytest.fixture
def no_tracer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Recording cannot start (as when no network is reachable): runs go on untraced."""

    def unavailable() -> Any:
        raise ConfigError("no network in offline tests", fix="none")

    monkeypatch.setattr(_recorder.RECORDER, "options", _recorder.Options(
        tracer_factory=unavailable, strict=False))
    monkeypatch.setattr(_recorder.RECORDER, "_tracer", None)
    yield


@pytest.fixture
def allow_file_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow 3.17 refuses file: stores unless this is set; the plugin behaves the same way."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One database for the module: creating MLflow's schema takes seconds."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


# -- URIs and entry points -------------------------------------------------------------------


@pytest.mark.parametrize(("uri", "inner"), [
    ("algotrace+sqlite:///mlflow.db", "sqlite:///mlflow.db"),
    ("algotrace+sqlite:////abs/mlflow.db", "sqlite:////abs/mlflow.db"),
    ("algotrace+file:///tmp/mlruns", "file:///tmp/mlruns"),
    ("algotrace+file:./mlruns", "file:./mlruns"),
    ("algotrace+postgresql://u:p@host/db", "postgresql://u:p@host/db"),
])
def test_inner_uri_strips_the_prefix(uri: str, inner: str) -> None:
    assert _store.inner_uri(uri) == inner


@pytest.mark.parametrize(("uri", "message"), [
    ("sqlite:///mlflow.db", "is not an algo-tracer tracking URI"),
    ("algotrace+", "names no MLflow store"),
    ("algotrace+  ", "names no MLflow store"),
    ("algotrace+algotrace+sqlite:///x.db", "wraps an algo-tracer URI in another"),
])
def test_inner_uri_rejects_malformed_uris(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _store.inner_uri(uri)


def test_entry_points_are_registered_with_mlflow() -> None:
    registry = tracking_utils._tracking_store_registry._registry
    assert registry["algotrace+sqlite"] is tracking_store
    assert registry["algotrace+file"] is tracking_store
    from mlflow.tracking.context.registry import _run_context_provider_registry

    assert any(isinstance(p, AlgoTracerRunContextProvider) for p in _run_context_provider_registry)


def test_importing_the_integration_first_does_not_break_mlflow_entry_points() -> None:
    # MLflow imports this package while it is itself being imported (entry points); a module
    # level `import mlflow` here would make that registration fail with a warning.
    code = (
        "import sys, warnings\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    import algo_tracer.mlflow\n"
        "    assert 'mlflow' not in sys.modules, 'imported mlflow eagerly'\n"
        "    import mlflow\n"
        "    from mlflow.tracking._tracking_service.utils import _tracking_store_registry as r\n"
        "bad = [str(w.message) for w in caught if 'algotrace' in str(w.message)]\n"
        "assert not bad, bad\n"
        "assert 'algotrace+sqlite' in r._registry and 'algotrace+file' in r._registry\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_plugin_uri_builds_the_inner_store_mlflow_would(tmp_path: Path,
                                                        allow_file_store: None) -> None:
    sql = tracking_utils._get_store(f"algotrace+sqlite:///{tmp_path / 'a.db'}")
    files = tracking_utils._get_store(f"algotrace+file://{tmp_path / 'mlruns'}")

    assert isinstance(sql, AlgoTraceStore) and type(sql.inner) is SqlAlchemyStore
    assert isinstance(files, AlgoTraceStore) and type(files.inner) is FileStore
    assert str(sql.inner.engine.url) == f"sqlite:///{tmp_path / 'a.db'}"
    assert sql.engine is sql.inner.engine  # concrete-store attributes through __getattr__


def test_file_store_needs_mlflow_s_opt_in_as_without_the_plugin(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(mlflow.exceptions.MlflowException, match="MLFLOW_ALLOW_FILE_STORE"):
        tracking_store(f"algotrace+file://{tmp_path / 'mlruns'}")


def test_model_registry_works_on_a_plugin_uri(tmp_path: Path, no_tracer: None) -> None:
    client = MlflowClient(tracking_uri=f"algotrace+sqlite:///{tmp_path / 'r.db'}")
    client.create_registered_model("iris")
    assert [m.name for m in client.search_registered_models()] == ["iris"]


# -- delegation ------------------------------------------------------------------------------


def test_every_abstract_store_member_is_forwarded_recorded_or_kept_for_async() -> None:
    members = set(_store.abstract_store_members())
    abstract = {n for n, v in members_of_abstract_store() if getattr(v, "__isabstractmethod__",
                                                                       False)}

    assert abstract <= members
    assert members == _store.FORWARDED | _store.RECORDED | _store.ASYNC_METHODS
    assert not _store.FORWARDED & _store.RECORDED
    recorded = {"create_run", "log_metric", "log_batch", "log_inputs", "log_outputs",
                "create_logged_model", "update_run_info"}
    assert recorded == _store.RECORDED
    for name in members - _store.ASYNC_METHODS:
        assert name in vars(AlgoTraceStore), f"{name} falls through to AbstractStore"


def members_of_abstract_store() -> list[tuple[str, Any]]:
    return [(n, v) for k in AbstractStore.__mro__[:-1] for n, v in vars(k).items()]


def test_each_forwarded_member_reaches_the_inner_store(sqlite_uri: str, tmp_path: Path) -> None:
    inner = SpyStore(sqlite_uri, str(tmp_path / "artifacts"))
    wrapper = AlgoTraceStore(inner)
    missed = []
    for name in sorted(_store.FORWARDED):
        inner.looked_up.clear()
        member = inspect.getattr_static(AbstractStore, name)
        try:
            if isinstance(member, property):
                getattr(wrapper, name)
            elif inspect.iscoroutinefunction(member):
                asyncio.run(getattr(wrapper, name)())
            else:
                getattr(wrapper, name)()
        except Exception:  # no arguments given: the inner method refuses them, after lookup
            pass
        if not inner.looked_up or inner.looked_up[0] != name:
            missed.append(name)
    assert not missed, f"not forwarded to the inner store: {missed}"


def test_recorded_calls_reach_the_inner_store(sqlite_uri: str, no_tracer: None) -> None:
    with pytest.warns(AlgoTracerMlflowWarning, match="cannot create the algo-tracer Tracer"):
        store = tracking_store("algotrace+" + sqlite_uri)
        exp_id = store.create_experiment("e", None, [])
        run = store.create_run(exp_id, "me", 1, [RunTag("t", "1")], "r")
    run_id = run.info.run_id
    store.log_metric(run_id, Metric("m", 1.5, 2, 3))
    store.log_batch(run_id, metrics=[Metric("n", 2.0, 2, 0)], params=[Param("p", "v")],
                    tags=[RunTag("u", "2")])
    dataset = Dataset("train", "abcd1234", "local", '{"uri": "x"}')
    store.log_inputs(run_id, datasets=[DatasetInput(dataset, [InputTag("mlflow.data.context",
                                                                        "train")])])
    model = store.create_logged_model(exp_id, name="model", source_run_id=run_id)
    store.log_outputs(run_id, [LoggedModelOutput(model.model_id, 0)])
    store.update_run_info(run_id, RunStatus.FINISHED, 5, None)

    got = store.inner.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.metrics == {"m": 1.5, "n": 2.0}
    assert got.data.params == {"p": "v"}
    assert got.data.tags["algotrace.status"].startswith("untraced: no network")
    assert [d.dataset.name for d in got.inputs.dataset_inputs] == ["train"]
    assert [o.model_id for o in got.outputs.model_outputs] == [model.model_id]


def test_async_logging_goes_through_the_wrapper(sqlite_uri: str, no_tracer: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.warns(AlgoTracerMlflowWarning):
        store = tracking_store("algotrace+" + sqlite_uri)
        run = store.create_run("0", "me", 1, [], "r")
    seen: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(_recorder.RECORDER, "metrics",
                        lambda run_id, metrics: seen.append((run_id, [m.key for m in metrics])))
    run_id = run.info.run_id

    store.log_metric_async(run_id, Metric("a", 1.0, 1, 0)).wait()
    store.log_batch_async(run_id, [Metric("b", 2.0, 1, 0)], [], []).wait()
    store.log_param_async(run_id, Param("p", "1")).wait()
    store.flush_async_logging()

    assert (run_id, ["a"]) in seen and (run_id, ["b"]) in seen
    assert store.inner.get_run(run_id).data.metrics == {"a": 1.0, "b": 2.0}
    assert store.inner._async_logging_queue.is_idle()  # the inner queue was never used


def test_strict_mode_refuses_to_create_an_untraced_run(sqlite_uri: str, no_tracer: None) -> None:
    _recorder.RECORDER.options.strict = True
    store = tracking_store("algotrace+" + sqlite_uri)
    experiment_id = store.inner.create_experiment("strict", None, [])

    with pytest.raises(ConfigError, match="no network in offline tests"):
        store.create_run(experiment_id, "me", 1, [], "r")
    assert store.inner.search_runs([experiment_id], "", 1) == []


def test_fluent_api_on_a_plugin_uri_without_network(tmp_path: Path, no_tracer: None,
                                                    allow_file_store: None) -> None:
    mlflow.set_tracking_uri(f"algotrace+file://{tmp_path / 'mlruns'}")
    try:
        with pytest.warns(AlgoTracerMlflowWarning), mlflow.start_run() as run:
            mlflow.log_param("lr", 0.1)
            mlflow.log_metric("loss", 0.5, step=1)
        got = mlflow.get_run(run.info.run_id)
    finally:
        mlflow.set_tracking_uri(None)
    assert got.info.status == "FINISHED"
    assert got.data.params == {"lr": "0.1"} and got.data.metrics == {"loss": 0.5}


# -- autotrace's patch -----------------------------------------------------------------------


def test_autotrace_wraps_the_registry_only_while_open(sqlite_uri: str) -> None:
    registry = tracking_utils._tracking_store_registry
    plain = tracking_utils._get_store(sqlite_uri)
    assert "get_store" not in vars(registry)

    with autotrace() as outer:
        wrapped = tracking_utils._get_store(sqlite_uri)
        with autotrace():
            assert tracking_utils._get_store(sqlite_uri) is wrapped
        assert "get_store" in vars(registry) and outer.active
        assert isinstance(wrapped, AlgoTraceStore) and wrapped.inner is plain
        assert mlflow.get_tracking_uri() != "algotrace+" + sqlite_uri
        assert _context.is_active()

    assert "get_store" not in vars(registry) and not outer.active
    assert tracking_utils._get_store(sqlite_uri) is plain
    outer.stop()  # idempotent


def test_autotrace_keeps_an_existing_registry_patch(sqlite_uri: str) -> None:
    registry = tracking_utils._tracking_store_registry
    calls = []

    def theirs(store_uri: str | None = None, artifact_uri: str | None = None) -> Any:
        calls.append(store_uri)
        return type(registry).get_store(registry, store_uri, artifact_uri)

    registry.get_store = theirs
    try:
        with autotrace():
            assert isinstance(tracking_utils._get_store(sqlite_uri), AlgoTraceStore)
        assert calls == [sqlite_uri]
        assert vars(registry)["get_store"] is theirs
    finally:
        del registry.get_store


def test_plugin_stores_are_not_wrapped_twice(tmp_path: Path) -> None:
    uri = f"algotrace+sqlite:///{tmp_path / 'x.db'}"
    with autotrace():
        store = tracking_utils._get_store(uri)
    assert isinstance(store, AlgoTraceStore) and not isinstance(store.inner, AlgoTraceStore)


# -- run-context provider --------------------------------------------------------------------


def test_context_provider_is_active_only_for_algotrace(monkeypatch: pytest.MonkeyPatch,
                                                       sqlite_uri: str) -> None:
    provider = AlgoTracerRunContextProvider()
    monkeypatch.delenv(_context.CONTEXT_ENV, raising=False)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", sqlite_uri)
    assert not provider.in_context()
    monkeypatch.setattr(tracking_utils, "_tracking_uri", "algotrace+" + sqlite_uri)
    assert provider.in_context()
    monkeypatch.setenv(_context.CONTEXT_ENV, "0")
    assert not provider.in_context()
    monkeypatch.setattr(tracking_utils, "_tracking_uri", sqlite_uri)
    monkeypatch.setenv(_context.CONTEXT_ENV, "1")
    assert provider.in_context()


def test_context_tags_pin_code_and_environment_and_hand_the_snapshots_over(
        monkeypatch: pytest.MonkeyPatch) -> None:
    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__file__", __file__, raising=False)  # a script in this git tree
    tags = AlgoTracerRunContextProvider().tags()

    assert tags[_context.ENVIRONMENT_DIGEST_TAG].startswith("sha256:")
    assert tags["algotrace.lockfile.uv.lock"].startswith("sha256:")  # pytest runs in the repo
    assert tags["algotrace.code.kind"] == "git" and len(tags["algotrace.code.commit"]) == 40
    snapshots = _context.take(tags)
    assert snapshots is not None and snapshots.code is not None
    # The tags show the digests the run's (new, JSON scheme 2) experiment records on chain.
    assert str(snapshots.code.digest(2)) == tags[_context.CODE_DIGEST_TAG]
    assert str(snapshots.environment.digest(2)) == tags[_context.ENVIRONMENT_DIGEST_TAG]
    assert _context.take(tags) is None  # handed over once


def test_code_outside_git_is_the_script_file_alone(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__file__", str(script), raising=False)
    monkeypatch.chdir(tmp_path)

    snapshots = _context.capture()

    assert snapshots.code is not None and snapshots.code.kind == "tree"
    assert Path(snapshots.code.root) == script.resolve()
    monkeypatch.delattr(main, "__file__")  # interactive, outside git: nothing cheap to pin
    monkeypatch.setattr(sys, "argv", [""])
    assert _context.capture().code is None


# -- what is hashed --------------------------------------------------------------------------


def test_final_metrics_leave_out_system_metrics_and_spell_non_finite_values() -> None:
    got = _content.final_metrics({"acc": 0.9, "loss": math.nan, "up": math.inf,
                                  "down": -math.inf, "system/cpu_utilization_percentage": 3.0})
    assert got == {"acc": 0.9, "loss": "nan", "up": "inf", "down": "-inf"}


def test_run_tags_leave_out_algotrace_tags() -> None:
    assert _content.run_tags({"a": "1", "algotrace.status": "sealed"}) == {"a": "1"}


def test_long_metric_keys_are_shortened_distinctly_and_stably() -> None:
    a, b = "x" * 300, "x" * 299 + "y"
    assert _content.metric_name("loss") == "loss"
    assert len(_content.metric_name(a).encode()) <= 255
    assert _content.metric_name(a) != _content.metric_name(b)
    assert _content.metric_name(a) == _content.metric_name(a)
    assert len(_content.metric_name("é" * 200).encode()) <= 255


def test_artifact_digest_leaves_out_the_manifest_folder_only(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    (root / "plots").mkdir(parents=True)
    (root / "plots" / "roc.png").write_bytes(b"png")
    (root / ".DS_Store").write_bytes(b"kept: no default ignores")
    before = _content.hash_artifacts(root.as_uri(), exclude_manifest=True)
    (root / "algotrace").mkdir()
    (root / "algotrace" / "manifest.json").write_text("{}")
    (root / "plots" / "algotrace").write_text("a file of that name deeper down counts")

    after = _content.hash_artifacts(root.as_uri(), exclude_manifest=True)

    assert [e.path for e in before.entries] == [".DS_Store", "plots/roc.png"]
    assert [e.path for e in after.entries] == [".DS_Store", "plots/algotrace", "plots/roc.png"]
    detail = _content.directory_detail(before, root.as_uri())
    (root / "plots" / "roc.png").write_bytes(b"changed")
    (root / ".DS_Store").unlink()
    now = _content.hash_artifacts(root.as_uri(), exclude_manifest=True)
    old_png, new_png = before.entries[1].digest, now.entries[1].digest
    assert old_png is not None and new_png is not None  # hashed files always carry a digest
    assert _content.directory_diff(detail, now) == [
        "removed: .DS_Store", "added: plots/algotrace",
        f"changed: plots/roc.png: expected sha256:{old_png.hex}, got sha256:{new_png.hex}"]


def test_missing_artifact_directory_hashes_as_empty(tmp_path: Path) -> None:
    missing = _content.hash_artifacts((tmp_path / "none").as_uri())
    empty = tmp_path / "empty"
    empty.mkdir()
    assert missing.digest == _content.hash_artifacts(empty.as_uri()).digest
    assert missing.entries == ()


def test_dataset_descriptor_covers_what_mlflow_stores() -> None:
    ds = Dataset("iris", "0badc0de", "code", '{"tags": {}}', schema='{"s": 1}', profile='{"n": 3}')
    got = _content.dataset_descriptor(DatasetInput(ds, [InputTag("mlflow.data.context", "train")]))
    assert got == {"name": "iris", "digest": "0badc0de", "source_type": "code",
                   "source": '{"tags": {}}', "schema": '{"s": 1}', "profile": '{"n": 3}',
                   "tags": {"mlflow.data.context": "train"}}


def test_integration_module_names_the_extra_when_mlflow_is_missing() -> None:
    code = (
        "import sys\n"
        "sys.modules['mlflow'] = None  # as if not installed\n"
        "from algo_tracer.errors import ConfigError\n"
        "import algo_tracer.mlflow as m\n"
        "try:\n"
        "    m.autotrace\n"
        "except ConfigError as e:\n"
        "    assert \"algo-tracer[mlflow]\" in str(e), e\n"
        "else:\n"
        "    raise SystemExit('no ConfigError')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]


def test_no_warning_leaks_from_an_untraced_plain_store(sqlite_uri: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", AlgoTracerMlflowWarning)
        store = tracking_utils._get_store(sqlite_uri)
        run = store.create_run("0", "me", 1, [], "plain")
        store.update_run_info(run.info.run_id, RunStatus.FINISHED, 2, None)
    assert "algotrace.status" not in store.get_run(run.info.run_id).data.tags


def test_cli_verify_needs_an_experiment_or_an_mlflow_run(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    from algo_tracer.cli import main

    assert main(["verify"]) == 2
    assert "which experiment? no experiment id and no --manifest, --bundle B or --mlflow-run" \
        in capsys.readouterr().err
    assert main(["verify", "--mlflow-run", "abc", "SomeExperimentId"]) == 2
    assert "--mlflow-run takes the experiment from the run's tags" in capsys.readouterr().err


def test_resuming_a_run_without_network_goes_on_untraced(tmp_path: Path,
                                                         no_tracer: None) -> None:
    mlflow.set_tracking_uri(f"algotrace+sqlite:///{tmp_path / 'resume.db'}")
    try:
        with warnings.catch_warnings(record=True), mlflow.start_run() as run:
            mlflow.log_metric("loss", 1.0)
        with warnings.catch_warnings(record=True) as caught, \
                mlflow.start_run(run_id=run.info.run_id):
            mlflow.log_metric("loss", 0.5, step=1)
    finally:
        mlflow.set_tracking_uri(None)

    got = MlflowClient(f"sqlite:///{tmp_path / 'resume.db'}").get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.data.metrics == {"loss": 0.5}
    assert any("cannot create the algo-tracer Tracer" in str(w.message) for w in caught)


def _segment(ok: bool, sealed: bool) -> VerificationReport:
    report = VerificationReport(experiment_id="x", app_id=1, source="network", sealed=sealed)
    report.checks.append(CheckRow(step=3, name="replay", status="pass" if ok else "fail",
                                  detail="head differs"))
    return report.finalize()


@pytest.mark.parametrize(("continues", "segments", "expected"), [
    ("B", {"A": (True, True), "B": (True, True)}, None),
    ("A", {"A": (True, True), "B": (True, True)}, "this segment's record continues A, the "
     "run's tags say B"),
    ("B", {"A": (False, True), "B": (True, True)}, "segment A: step 3 replay: head differs"),
    ("B", {"A": (True, True), "B": (True, False)}, "segment B is not sealed"),
])
def test_earlier_segments_of_a_resumed_run_must_verify_be_sealed_and_be_named(
        continues: str, segments: dict[str, tuple[bool, bool]], expected: str | None) -> None:
    manifest = Manifest(experiment_id=format_id(b"\1" * 32), name="resumed", owner="O",
                        app_id=1, genesis_id="g", genesis_hash="h", metadata_digest="00" * 32,
                        metadata={"mlflow": {"run_id": "r", "continues": continues}})

    row = _earlier_segments(["A", "B"], manifest, lambda eid: _segment(*segments[eid]))

    assert row.name == "mlflow earlier segments"
    if expected is None:
        assert row.status == "pass" and "2 earlier segment(s)" in row.detail
    else:
        assert row.status == "fail" and expected in row.detail


@pytest.mark.parametrize(("uri", "kept"), [
    ("algotrace+postgresql://mlflow:s3cret@db.example:5432/mlflow",
     "algotrace+postgresql://mlflow@db.example:5432/mlflow"),
    ("https://token123@mlflow.example/", "https://mlflow.example/"),
    ("https://mlflow.example/?access_token=abc", "https://mlflow.example/"),
    ("algotrace+sqlite:///mlflow.db", "algotrace+sqlite:///mlflow.db"),
])
def test_the_run_metadata_never_carries_tracking_uri_credentials(uri: str, kept: str) -> None:
    run = mlflow.entities.Run(
        mlflow.entities.RunInfo(run_id="r1", experiment_id="0", user_id="u", status="RUNNING",
                                start_time=0, end_time=None, lifecycle_stage="active",
                                run_name="run"), None)

    meta = _recorder.run_metadata(run, "exp", uri, previous=["A"])

    assert meta["tracking_uri"] == kept
    assert not any(s in json.dumps(meta) for s in ("s3cret", "token123", "access_token"))
    assert meta["run_id"] == "r1" and meta["continues"] == "A"
