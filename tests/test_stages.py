"""The stage rulebook: what recording writes, verification re-hashes to the same digest.

Every kind of value the tracer accepts is described with `algo_tracer.stages` (as `Experiment`
does), written into a manifest stage and read back, then verified through
`algo_tracer.verify.local_copies.local_digest` (as step 8 and the reproducibility gate do): the
recorded copy must give the recorded digest, and a changed copy a different one. The details'
exact shapes are pinned too: they are written into manifests.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from algo_tracer import hashing, stages
from algo_tracer.capture import capture_code, capture_environment
from algo_tracer.diffs import mapping_changes, mapping_diff
from algo_tracer.documents.manifest import StageEntry, StageKind, stage_label
from algo_tracer.errors import InputError
from algo_tracer.seeding import SeedReport
from algo_tracer.verify.local_copies import local_digest


@dataclass
class Case:
    """A stage as recorded, how to verify the recorded copy, and how to verify a changed one."""

    kind: StageKind
    name: str | None
    recorded: tuple[hashing.Digest | bytes, dict[str, Any]]
    copy: dict[str, Any] = field(default_factory=dict)  # local_digest's artifacts_dir / data
    changed: dict[str, Any] = field(default_factory=dict)
    edit: Callable[[dict[str, Any]], None] | None = None  # edits the detail instead
    note: str | None = None  # a note the changed copy must give


def written(kind: StageKind, name: str | None, digest: hashing.Digest | bytes,
            detail: dict[str, Any]) -> StageEntry:
    """The stage as a manifest holds it: written to JSON and read back."""
    value = digest.value if isinstance(digest, hashing.Digest) else digest
    entry = StageEntry(index=0, kind=kind, label=stage_label(kind, name), digest=value.hex(),
                       detail=detail)
    return StageEntry.model_validate_json(entry.model_dump_json())


# -- one case per kind of value the tracer accepts -------------------------------------------


def _file(tmp: Path, describe: Callable[[Any], Any], kind: StageKind) -> Case:
    src, copy, changed = tmp / "run", tmp / "copy", tmp / "changed"
    for d in (src, copy, changed):
        d.mkdir()
    (src / "weights.bin").write_bytes(b"weights v1")
    shutil.copy(src / "weights.bin", copy / "weights.bin")
    (changed / "weights.bin").write_bytes(b"weights v2")
    return Case(kind, "w", describe(str(src / "weights.bin")), copy={"artifacts_dir": copy},
                changed={"artifacts_dir": changed}, note="same size (10 bytes), different content")


def data_file(tmp: Path) -> Case:
    return _file(tmp, stages.describe, StageKind.DATA)


def model_file(tmp: Path) -> Case:
    return _file(tmp, lambda p: stages.describe_model(Path(p)), StageKind.MODEL)


def artifact_file(tmp: Path) -> Case:
    return _file(tmp, stages.describe_path, StageKind.ARTIFACT)


def data_file_passed_in(tmp: Path) -> Case:
    (tmp / "train.csv").write_text("x,y\n1,2\n")
    (tmp / "resaved.csv").write_text("x,y\n1,2\n")
    (tmp / "edited.csv").write_text("x,y\n1,3\n")
    return Case(StageKind.DATA, "train", stages.describe(tmp / "train.csv"),
                copy={"data": {"train": tmp / "resaved.csv"}},
                changed={"data": {"train": str(tmp / "edited.csv")}})


def data_directory(tmp: Path) -> Case:
    src = tmp / "images"
    (src / "a").mkdir(parents=True)
    (src / "a" / "1.png").write_bytes(b"one")
    (src / "2.png").write_bytes(b"two")
    shutil.copytree(src, tmp / "copy" / "images")
    shutil.copytree(src, tmp / "changed" / "images")
    (tmp / "changed" / "images" / "3.png").write_bytes(b"three")
    return Case(StageKind.DATA, "images", stages.describe(src),
                copy={"artifacts_dir": tmp / "copy"}, changed={"artifacts_dir": tmp / "changed"},
                note="added: 3.png")


def directory_passed_in(tmp: Path) -> Case:
    src = tmp / "model"
    src.mkdir()
    (src / "config.json").write_text("{}")
    shutil.copytree(src, tmp / "copy")
    shutil.copytree(src, tmp / "changed")
    (tmp / "changed" / "config.json").write_text('{"a": 1}')
    return Case(StageKind.MODEL, "m", stages.describe_model(src),
                copy={"data": {"m": tmp / "copy"}}, changed={"data": {"m": tmp / "changed"}})


def table(tmp: Path) -> Case:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "c"]})
    return Case(StageKind.DATA, "train", stages.describe(df),
                copy={"data": {"train": df.copy()}},
                changed={"data": {"data:train": df.assign(y=["a", "b", "C"])}},
                note="column 'y' changed: values changed (dtype ")


def series(tmp: Path) -> Case:
    pd = pytest.importorskip("pandas")
    s = pd.Series([0, 1, 1], name="label")
    return Case(StageKind.DATA, "labels", stages.describe(s),
                copy={"data": {"labels": s.copy()}},
                changed={"data": {"labels": pd.Series([0, 1, 1, 0], name="label")}},
                note="shape [3] -> [4]")


def array(tmp: Path) -> Case:
    np = pytest.importorskip("numpy")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    return Case(StageKind.DATA, "features", stages.describe(a),
                copy={"data": {"features": a.copy()}},
                changed={"data": {"features": a.reshape(3, 2)}}, note="shape [2, 3] -> [3, 2]")


def model_object(tmp: Path) -> Case:
    linear = pytest.importorskip("sklearn.linear_model")
    np = pytest.importorskip("numpy")
    x, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    model = linear.LogisticRegression(C=1.0).fit(x, y)
    return Case(StageKind.MODEL, "clf", stages.describe_model(model),
                copy={"data": {"clf": model}},
                changed={"data": {"clf": linear.LogisticRegression(C=2.0).fit(x, y)}})


PARAMS = {"lr": 1e-3, "layers": (64, 32), "name": "réseau", "optimizer": {"beta": 0.9,
          "eps": 1e-8}, "shuffle": True, "dropout": None, "steps": 2**40}


def params(tmp: Path) -> Case:
    def edit(detail: dict[str, Any]) -> None:
        detail["params"]["lr"] = 1e-2

    return Case(StageKind.PARAMS, None, stages.describe_params(PARAMS), edit=edit)


def params_with_numpy_values(tmp: Path) -> Case:
    np = pytest.importorskip("numpy")

    def edit(detail: dict[str, Any]) -> None:
        detail["params"]["epochs"] = 11

    return Case(StageKind.PARAMS, "grid", stages.describe_params(
        {"epochs": np.int64(10), "alpha": np.float64(0.5)}), edit=edit)


def metrics(tmp: Path) -> Case:
    def edit(detail: dict[str, Any]) -> None:
        detail["metrics"]["accuracy"] = 0.99

    return Case(StageKind.METRICS, None, stages.describe_metrics({"accuracy": 0.93, "f1": 0.9}),
                edit=edit)


def seed(tmp: Path) -> Case:
    report = SeedReport(seed=42, deterministic=True, strict=False,
                        seeded=("python.random", "numpy"),
                        switches={"env.PYTHONHASHSEED": "42", "torch.deterministic": True},
                        versions={"numpy": "2.0.0"}, notes=("a note",))

    def edit(detail: dict[str, Any]) -> None:
        detail["seed"] = 43

    return Case(StageKind.SEED, None, stages.describe_snapshot(report), edit=edit)


def environment(tmp: Path) -> Case:
    def edit(detail: dict[str, Any]) -> None:
        detail["packages"]["pydantic"] = "0.0.1"

    return Case(StageKind.ENVIRONMENT, None, stages.describe_snapshot(capture_environment()),
                edit=edit)


def code(tmp: Path) -> Case:
    (tmp / "train.py").write_text("print('hi')\n")

    def edit(detail: dict[str, Any]) -> None:
        if detail["kind"] == "tree":
            detail["tree_digest"] = "sha256:" + "0" * 64
        else:  # tmp_path inside a git work tree: the commit is hashed
            detail["commit"] = "0" * 40

    return Case(StageKind.CODE, None, stages.describe_snapshot(capture_code(tmp)), edit=edit)


def outcome(tmp: Path) -> Case:
    def edit(detail: dict[str, Any]) -> None:
        detail["outcome"] = "completed"

    return Case(StageKind.CUSTOM, stages.OUTCOME_STAGE,
                stages.describe_outcome("failed: ValueError"), edit=edit)


def given_digest_with_a_rule(tmp: Path) -> Case:
    # An integration records its own digest; a detail that follows a rule verifies from there.
    final = {"loss": 0.25, "acc": 0.5}

    def edit(detail: dict[str, Any]) -> None:
        detail["metrics"]["acc"] = 0.75

    return Case(StageKind.METRICS, "mlflow",
                stages.describe_given(hashing.hash_params(final), {"metrics": final}), edit=edit)


def given_digest_of_a_value(tmp: Path) -> Case:
    blob = b"exported weights"
    return Case(StageKind.ARTIFACT, "export",
                stages.describe_given(hashlib.sha256(blob).digest(), {"uri": "s3://b/k"}),
                copy={"data": {"export": blob}}, changed={"data": {"export": blob + b"!"}})


CASES = [data_file, model_file, artifact_file, data_file_passed_in, data_directory,
         directory_passed_in, table, series, array, model_object, params,
         params_with_numpy_values, metrics, seed, environment, code, outcome,
         given_digest_with_a_rule, given_digest_of_a_value]


@pytest.mark.parametrize("make", CASES, ids=[c.__name__ for c in CASES])
def test_a_recorded_stage_verifies_from_its_copy_and_a_changed_copy_does_not(
        make: Callable[[Path], Case], tmp_path: Path) -> None:
    case = make(tmp_path)
    digest, detail = case.recorded
    entry = written(case.kind, case.name, digest, detail)
    none: dict[str, Any] = {"artifacts_dir": None, "data": None}

    same = local_digest(entry, **{**none, **case.copy})
    assert (same.error, same.digest, same.notes) == (None, entry.digest, [])

    if case.edit is not None:
        edited = entry.model_copy(deep=True)
        case.edit(edited.detail)
        other = local_digest(written(case.kind, case.name, digest, edited.detail), **none)
    else:
        other = local_digest(entry, **{**none, **case.changed})
    assert other.error is None
    assert other.digest is not None and other.digest != entry.digest
    if case.note is not None:
        assert any(case.note in n for n in other.notes), other.notes


# -- what verification says when there is nothing to re-hash ---------------------------------


def test_an_in_memory_table_asks_to_be_passed_in() -> None:
    pd = pytest.importorskip("pandas")
    entry = written(StageKind.DATA, "train", *stages.describe(pd.DataFrame({"x": [1]})))

    local = local_digest(entry, artifacts_dir=None, data=None)

    assert local.digest is None
    assert local.notes == ["an in-memory table: pass it to re-hash it (data={'train': df})"]


def test_a_path_stage_needs_the_artifacts_directory(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    entry = written(StageKind.ARTIFACT, "f", *stages.describe_path(tmp_path / "f.txt"))

    assert local_digest(entry, artifacts_dir=None, data=None).notes == [
        "no local copy given (--artifacts DIR)"]
    (tmp_path / "empty").mkdir()
    assert local_digest(entry, artifacts_dir=tmp_path / "empty", data=None).notes == [
        f"no f.txt in {tmp_path / 'empty'}"]


def test_only_data_model_and_artifact_details_name_a_local_path(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    digest, detail = stages.describe_path(tmp_path / "f.txt")
    for kind in StageKind:
        found = stages.local_path(written(kind, "f", digest, detail))
        expected = str(tmp_path / "f.txt") if kind in (
            StageKind.DATA, StageKind.MODEL, StageKind.ARTIFACT) else None
        assert found == expected, kind


def test_an_opaque_given_digest_has_no_local_copy() -> None:
    entry = written(StageKind.CUSTOM, "x", *stages.describe_given(b"\x01" * 32, {"uri": "u"}))

    local = local_digest(entry, artifacts_dir=None, data=None)

    assert (local.digest, local.notes) == (None, ["no local copy given"])


def test_a_corrupt_snapshot_detail_is_an_error_not_a_digest() -> None:
    entry = written(StageKind.SEED, None, b"\x02" * 32, {"seed": "not a number"})

    local = local_digest(entry, artifacts_dir=None, data=None)

    assert local.digest is None
    assert local.error is not None and "seed detail is not a valid snapshot" in local.error


def test_a_changed_file_of_another_size_says_so(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "copy").mkdir()
    (tmp_path / "run" / "m.bin").write_bytes(b"123456")
    (tmp_path / "copy" / "m.bin").write_bytes(b"1234567")
    entry = written(StageKind.MODEL, None, *stages.describe_model(tmp_path / "run" / "m.bin"))

    local = local_digest(entry, artifacts_dir=tmp_path / "copy", data=None)

    assert local.notes == ["size 6 -> 7 bytes"]


def test_a_directory_with_a_changed_file_but_the_same_names(tmp_path: Path) -> None:
    (tmp_path / "run" / "d").mkdir(parents=True)
    (tmp_path / "run" / "d" / "a").write_text("1")
    shutil.copytree(tmp_path / "run" / "d", tmp_path / "copy" / "d")
    (tmp_path / "copy" / "d" / "a").write_text("2")
    entry = written(StageKind.DATA, "d", *stages.describe(tmp_path / "run" / "d"))

    local = local_digest(entry, artifacts_dir=tmp_path / "copy", data=None)

    assert local.notes == ["same file names: a file's content changed"]


def test_a_directory_past_the_listing_limit_still_verifies(tmp_path: Path) -> None:
    src = tmp_path / "many"
    src.mkdir()
    for i in range(stages.MAX_LISTED_FILES + 1):
        (src / f"{i:05}.txt").write_text(str(i))
    digest, detail = stages.describe(src)
    shutil.copytree(src, tmp_path / "copy" / "many")

    assert len(detail["files"]) == stages.MAX_LISTED_FILES
    assert detail["file_count"] == stages.MAX_LISTED_FILES + 1
    local = local_digest(written(StageKind.DATA, "many", digest, detail),
                         artifacts_dir=tmp_path / "copy", data=None)
    assert (local.digest, local.notes) == (digest.hex, [])


# -- the details written into manifests (byte-identical to what earlier versions wrote) -------


def test_a_file_detail(tmp_path: Path) -> None:
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello\n")

    digest, detail = stages.describe(str(path))

    assert digest == hashing.Digest("file", bytes.fromhex(
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"))
    assert json.dumps(detail) == json.dumps(
        {"path": str(path), "type": "file", "bytes": 6, "scheme": "file"})


def test_a_directory_detail(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "b.txt").write_text("b")
    (tmp_path / "d" / "a.txt").write_text("a")

    digest, detail = stages.describe(tmp_path / "d")

    assert digest == hashing.hash_directory(tmp_path / "d").digest
    assert json.dumps(detail) == json.dumps(
        {"path": str(tmp_path / "d"), "type": "directory", "scheme": "directory",
         "files": ["a.txt", "sub/b.txt"], "file_count": 2})


def test_a_table_detail() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1.0, 2.0], 3: ["a", "b"]})

    digest, detail = stages.describe(df)

    columns = hashing.dataframe_column_digests(df)
    assert digest == hashing.hash_dataframe(df)
    assert json.dumps(detail) == json.dumps(
        {"type": f"{type(df).__module__}.DataFrame", "scheme": "dataframe", "shape": [2, 2],
         "columns": ["x", "3"], "column_digests": {str(k): v.hex for k, v in columns.items()},
         "column_dtypes": {"x": "float64", "3": str(df[3].dtype)}})


def test_a_model_object_detail() -> None:
    linear = pytest.importorskip("sklearn.linear_model")

    digest, detail = stages.describe_model(linear.LogisticRegression())

    assert json.dumps(detail) == json.dumps(
        {"type": "sklearn.linear_model._logistic.LogisticRegression", "scheme": digest.kind})


def test_params_metrics_outcome_and_snapshot_details() -> None:
    v2 = hashing.PARAMS_SCHEME_V2
    digest, detail = stages.describe_params(PARAMS)
    assert digest == hashing.hash_params(PARAMS, v2)
    assert detail == {"params": json.loads(hashing.canonical_json(PARAMS)), "scheme": v2}
    assert detail["params"]["layers"] == [64, 32]

    assert stages.describe_metrics({"b": 1, "a": 2.5}) == (
        hashing.hash_params({"b": 1, "a": 2.5}, v2), {"metrics": {"a": 2.5, "b": 1},
                                                      "scheme": v2})
    assert stages.describe_outcome("interrupted") == (
        hashing.hash_params({"outcome": "interrupted"}, v2),
        {"outcome": "interrupted", "scheme": v2})

    report = SeedReport(seed=1, deterministic=False, strict=False, seeded=(), switches={})
    assert stages.describe_snapshot(report) == (report.digest(), report.model_dump(mode="json"))


def test_a_given_digest_is_32_bytes() -> None:
    d = hashing.hash_params({"a": 1})
    assert stages.describe_given(d, None) == (d.value, {})
    assert stages.describe_given(d.value, {"k": "v"}) == (d.value, {"k": "v"})
    with pytest.raises(InputError, match="32 bytes of SHA-256"):
        stages.describe_given(b"short", None)


def test_a_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        stages.describe(tmp_path / "missing.csv")


def test_stage_name() -> None:
    assert stages.stage_name("data:train") == "train"
    assert stages.stage_name("params") == "params"
    assert stages.stage_name(stage_label(StageKind.CUSTOM, stages.OUTCOME_STAGE)) == "outcome"


# -- the one mapping diff ------------------------------------------------------------------------


def test_mapping_changes_are_sorted_with_none_for_a_missing_side() -> None:
    assert mapping_changes({"b": "1", "a": "x", "same": "s"}, {"a": "y", "c": "2", "same": "s"}
                           ) == [("a", "x", "y"), ("b", "1", None), ("c", None, "2")]
    assert mapping_changes({}, {}) == []


def test_mapping_diff_lines() -> None:
    old = {"x": "a" * 64, "gone": "b" * 64}
    new = {"x": "c" * 64, "new": "d" * 64}
    assert mapping_diff("column", old, new) == [
        "column 'gone' removed", "column 'new' added",
        f"column 'x' changed {'a' * 12} -> {'c' * 12}"]
    assert mapping_diff("param", {"lr": "0.1"}, {"lr": "0.2"}, show=repr, verb="",
                        limit=None) == ["param 'lr' '0.1' -> '0.2'"]
    many = {str(i): "e" * 64 for i in range(20)}
    assert len(mapping_diff("column", {}, many)) == 8
    assert len(mapping_diff("column", {}, many, limit=None)) == 20
