"""What a stage's digest and detail are: the one rulebook for recording and verification.
Internal: no stability promise; docs/hashing.md gives the digests' byte layouts.

Recording (`algo_tracer.record.tracer`) turns a value into ``(digest, detail)`` with the
`describe*` functions: the digest goes on chain, the detail into the manifest. Verification
(`algo_tracer.verify.local_copies`: step 8 and the reproducibility gate) re-hashes a local copy
of a stage with the `rehash_*` functions, which read only what `describe*` put in the detail.
Both sides call this module, so they cannot drift apart:

==========================  ======================  ========================  =================
stage                       digest                  detail                    local copy
==========================  ======================  ========================  =================
data/model/artifact: path   file bytes, or the      path, type, scheme; a     the file or
                            directory tree          file's bytes; a           directory found
                                                    directory's files and     by base name
                                                    file_count                (`local_path`)
data: table, array, ...     `hashing.digest_of`     type, scheme, shape;      the value passed
                                                    columns, column_digests,  in (`data[name]`)
                                                    column_dtypes
model: an object            `hashing.hash_model`    type, scheme              the value passed
params / metrics            `hashing.hash_params`   the mapping (params /     the detail
                            (detail's `scheme`)     metrics) and `scheme`
seed, environment, code     the snapshot's digest   the snapshot's model_dump the detail
custom:outcome              `hash_params` of the    {"outcome": ...}          the detail
                            detail
digest given (trace_digest) as given (32 bytes)     as given                  the value passed,
                                                                              or a detail above
==========================  ======================  ========================  =================

A value passed in for verification (`rehash_value`) is always hashed with `hashing.digest_of`,
which hashes a path as its file or directory, as `describe` does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from algo_tracer import hashing
from algo_tracer.capture import CodeSnapshot, EnvironmentSnapshot
from algo_tracer.diffs import MAX_LINES, mapping_changes, mapping_diff
from algo_tracer.documents.manifest import StageEntry, StageKind
from algo_tracer.documents.plan import plan_commitment
from algo_tracer.documents.study import RESULT_STAGE
from algo_tracer.errors import InputError, describe_validation
from algo_tracer.progress import Progress, track
from algo_tracer.seeding import SeedReport

__all__ = [
    "JSON_SCHEME",
    "MAX_LISTED_FILES",
    "OUTCOME_STAGE",
    "LocalDigest",
    "describe",
    "describe_given",
    "describe_metrics",
    "describe_model",
    "describe_outcome",
    "describe_params",
    "describe_path",
    "describe_snapshot",
    "hash_local_copy",
    "local_path",
    "rehash_detail",
    "rehash_path",
    "rehash_value",
    "stage_name",
]

#: How many file names a directory stage lists in its detail (`file_count` counts them all).
MAX_LISTED_FILES = 1000
#: Name of the custom stage that records a run's outcome when it is not ``completed``.
OUTCOME_STAGE = "outcome"
#: Stage kinds whose detail `path` names a file or directory to look for locally.
_PATH_KINDS = (StageKind.DATA, StageKind.MODEL, StageKind.ARTIFACT)
#: Stage kinds whose digest is `hash_params` of their detail (a study's records, a stored
#: stage's CID: algo_tracer.documents.stored).
_PARAMS_DETAIL_KINDS = (StageKind.STUDY, StageKind.TRIAL_OF, StageKind.TRIAL,
                        StageKind.SELECTION, StageKind.STORED)
_RESULT_LABEL = f"custom:{RESULT_STAGE}"


def stage_name(label: str) -> str:
    """`data:train` -> `train`; `params` -> `params`."""
    return label.partition(":")[2] or label


# -- recording: value -> (digest, detail) ----------------------------------------------------


def hash_local_copy(path: Path, progress: Progress | None = None
                    ) -> hashing.Digest | hashing.DirectoryDigest:
    """A file's digest, or a directory's tree, as tracing records them (`algo-tracer hash` and
    verification step 8), shown as a `progress` task in bytes."""
    tree = path.is_dir()
    with track(progress, f"hashing {path.name}", total=None if tree else path.stat().st_size,
               unit="B") as advance:
        if tree:
            return hashing.hash_directory(path, progress=advance)
        return hashing.hash_file(path, progress=advance)


def describe(data: Any) -> tuple[hashing.Digest, dict[str, Any]]:
    """A data value's stage: a path (`describe_path`), or a table, array or other value."""
    if isinstance(data, (str, os.PathLike)):
        return describe_path(data)
    digest = hashing.digest_of(data)
    detail: dict[str, Any] = {"type": _type_name(data), "scheme": digest.kind}
    shape = getattr(data, "shape", None)
    if shape is not None:
        detail["shape"] = list(shape)
    columns = getattr(data, "columns", None)
    if columns is not None:
        detail["columns"] = [str(c) for c in columns]
        detail["column_digests"] = _column_digests(data)
        detail["column_dtypes"] = {str(c): str(data[c].dtype) for c in columns}
    return digest, detail


def describe_path(path: str | os.PathLike[str]) -> tuple[hashing.Digest, dict[str, Any]]:
    """A file's or directory's stage (data, model or artifact): its `path` is what verification
    looks for in the artifacts directory."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", fix="check the path (relative to "
                         f"{Path.cwd()})")
    hashed = hash_local_copy(path)
    if isinstance(hashed, hashing.DirectoryDigest):
        return hashed.digest, {"path": str(path), "type": "directory",
                               "scheme": hashed.digest.kind,
                               "files": [e.path for e in hashed.entries][:MAX_LISTED_FILES],
                               "file_count": len(hashed.entries)}
    return hashed, {"path": str(path), "type": "file", "bytes": path.stat().st_size,
                    "scheme": hashed.kind}


def describe_model(model: Any) -> tuple[hashing.Digest, dict[str, Any]]:
    """A model stage: a file or directory path, or a scikit-learn estimator / torch state."""
    if isinstance(model, (str, os.PathLike)):
        return describe_path(model)
    digest = hashing.hash_model(model)
    return digest, {"type": _type_name(model), "scheme": digest.kind}


#: The JSON scheme of new experiments (docs/hashing.md §13): RFC 8785 for every JSON value they
#: hash. Older experiments keep theirs (the journal's `json_scheme`, the manifest's format).
JSON_SCHEME = hashing.JSON_SCHEME_V2
#: The params scheme of new records (docs/hashing.md §4): RFC 8785, named in the detail.
PARAMS_SCHEME = hashing.params_scheme(JSON_SCHEME)


def describe_params(params: Mapping[str, Any]) -> tuple[hashing.Digest, dict[str, Any]]:
    """A params stage: the detail keeps the mapping and names its scheme, so verification
    re-hashes it from there."""
    return (hashing.hash_params(params, PARAMS_SCHEME),
            {"params": _jsonable(params), "scheme": PARAMS_SCHEME})


def describe_metrics(metrics: Mapping[str, Any]) -> tuple[hashing.Digest, dict[str, Any]]:
    """A final-metrics stage: the detail keeps the mapping, as for params."""
    return (hashing.hash_params(metrics, PARAMS_SCHEME),
            {"metrics": _jsonable(metrics), "scheme": PARAMS_SCHEME})


def describe_snapshot(snapshot: SeedReport | EnvironmentSnapshot | CodeSnapshot,
                      scheme: int = hashing.JSON_SCHEME_V1
                      ) -> tuple[hashing.Digest, dict[str, Any]]:
    """A seed, environment or code stage under the experiment's JSON scheme: the detail is the
    snapshot itself."""
    return snapshot.digest(scheme), snapshot.model_dump(mode="json")


def describe_outcome(outcome: str) -> tuple[hashing.Digest, dict[str, Any]]:
    """The `custom:outcome` stage of a run that did not complete."""
    return (hashing.hash_params({"outcome": outcome}, PARAMS_SCHEME),
            {"outcome": outcome, "scheme": PARAMS_SCHEME})


def describe_given(digest: bytes | hashing.Digest, detail: Mapping[str, Any] | None
                   ) -> tuple[bytes, dict[str, Any]]:
    """A digest computed elsewhere (e.g. by an integration): its 32 bytes, and the detail."""
    value = digest.value if isinstance(digest, hashing.Digest) else digest
    if not isinstance(value, bytes) or len(value) != 32:
        raise InputError(f"a stage digest must be 32 bytes of SHA-256, got {value!r:.40}",
                         fix="pass hashing.Digest or the 32-byte digest value")
    return value, dict(detail or {})


def _type_name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _column_digests(table: Any) -> dict[str, str]:
    return {str(k): v.hex for k, v in hashing.dataframe_column_digests(table).items()}


#: Tried, when a manifest predates `column_dtypes`, to tell a cast from a change of values.
_COMMON_DTYPES = ("int64", "float64", "bool", "object", "int32", "float32")


def _column_changes(table: Any, recorded: dict[str, str],
                    dtypes: dict[str, str] | None) -> list[str]:
    """`mapping_diff` of the column digests, each changed column with why: a dtype cast with the
    same values, a dtype cast and other values, or other values under the same dtype."""
    now = _column_digests(table)
    lines = []
    # mapping_diff words added/removed columns; its lines follow mapping_changes one to one.
    for line, (key, old, new) in zip(mapping_diff("column", recorded, now, limit=None),
                                     mapping_changes(recorded, now), strict=True):
        if old is not None and new is not None:
            line = f"column {key!r} changed: {_why(table, key, old, (dtypes or {}).get(key))}"
        lines.append(line)
    return lines[:MAX_LINES]


def _why(table: Any, column: str, recorded: str, dtype: str | None) -> str:
    """Why one column's digest differs from `recorded` (its digest when it had `dtype`)."""
    label = next(c for c in table.columns if str(c) == column)
    now = str(table[label].dtype)
    for was in [dtype] if dtype is not None else [d for d in _COMMON_DTYPES if d != now]:
        if was == now:
            return f"values changed (dtype {now} as recorded)"
        try:  # cast back: equal digests mean equal values under the recorded dtype
            cast = table[[label]].astype({label: was})
            same = _column_digests(cast)[column] == recorded
        except (TypeError, ValueError, OverflowError, InputError):
            same = False
        if same:
            return f"dtype {was} -> {now}, with equal values"
        if dtype is not None:
            return f"dtype {was} -> {now}, and values changed"
    return f"values changed (dtype now {now}; the manifest does not record the old dtype)"


def _jsonable(obj: Mapping[str, Any]) -> Any:
    return json.loads(hashing.canonical_json(dict(obj)))


# -- verification: detail -> the digest of a local copy --------------------------------------


@dataclass
class LocalDigest:
    digest: str | None = None  # hex
    source: str | None = None
    error: str | None = None  # the local copy exists but cannot be hashed as recorded
    notes: list[str] = field(default_factory=list)


def local_path(entry: StageEntry) -> str | None:
    """The recorded path of a file or directory stage (`describe_path`), else None."""
    path = entry.detail.get("path")
    return str(path) if path and entry.kind in _PATH_KINDS else None


def rehash_value(entry: StageEntry, value: Any) -> LocalDigest:
    """The digest of a value passed in for the stage, with notes on what differs (columns,
    shape) when it is not the recorded one."""
    digest = hashing.digest_of(value)
    out = LocalDigest(digest=digest.hex, source=f"data[{stage_name(entry.label)!r}]")
    if digest.hex != entry.digest:
        columns = getattr(value, "columns", None)
        recorded = entry.detail.get("column_digests")
        if columns is not None and isinstance(recorded, dict):
            out.notes += _column_changes(value, recorded, entry.detail.get("column_dtypes"))
        shape = getattr(value, "shape", None)
        if shape is not None and entry.detail.get("shape") not in (None, list(shape)):
            out.notes.append(f"shape {entry.detail['shape']} -> {list(shape)}")
    return out


def rehash_path(entry: StageEntry, path: Path, progress: Progress | None = None) -> LocalDigest:
    """The digest of a local file or directory for the stage, with notes on what differs (files
    added or removed, size) when it is not the recorded one."""
    hashed = hash_local_copy(path, progress)
    if isinstance(hashed, hashing.DirectoryDigest):
        out = LocalDigest(digest=hashed.digest.hex, source=str(path))
        if hashed.digest.hex != entry.digest:
            recorded = set(entry.detail.get("files") or [])
            now = {e.path for e in hashed.entries}
            out.notes += [f"added: {p}" for p in sorted(now - recorded)][:MAX_LINES]
            out.notes += [f"removed: {p}" for p in sorted(recorded - now)][:MAX_LINES]
            if not out.notes:
                out.notes.append("same file names: a file's content changed")
        return out
    out = LocalDigest(digest=hashed.hex, source=str(path))
    size, recorded_size = path.stat().st_size, entry.detail.get("bytes")
    if hashed.hex != entry.digest and recorded_size is not None:
        out.notes.append(f"size {recorded_size} -> {size} bytes" if size != recorded_size
                         else f"same size ({size} bytes), different content")
    return out


def rehash_detail(entry: StageEntry, json_scheme: int = hashing.JSON_SCHEME_V1) -> LocalDigest:
    """The digest of the value the stage's detail holds (params, metrics, seed, outcome,
    environment, code, a study's records, a public plan), or a note saying what to pass instead.

    `json_scheme` is the experiment's (`Manifest.json_scheme`): it hashes every detail that does
    not name its own params scheme. A params, metrics or outcome detail's ``scheme`` wins, so
    their digests read the same in every manifest format.
    """
    detail = entry.detail
    source = "manifest detail"
    # Records made before scheme v2 have no `scheme` in their detail: v1, verifiable forever.
    scheme = detail.get("scheme", hashing.PARAMS_SCHEME_V1)
    try:
        if entry.kind == StageKind.PARAMS and "params" in detail:
            digest = hashing.hash_params(detail["params"], scheme)
        elif entry.kind == StageKind.METRICS and "metrics" in detail:
            digest = hashing.hash_params(detail["metrics"], scheme)
        elif entry.kind == StageKind.SEED and detail:
            digest = SeedReport.model_validate(detail).digest(json_scheme)
        elif entry.kind == StageKind.CUSTOM and set(detail) - {"scheme"} == {"outcome"}:
            digest = hashing.hash_params({"outcome": detail["outcome"]}, scheme)
        elif entry.kind in _PARAMS_DETAIL_KINDS or entry.label == _RESULT_LABEL:
            # a study's records (documents.study)
            digest = hashing.hash_params(detail, hashing.params_scheme(json_scheme))
        elif entry.kind == StageKind.PLAN and "plan" in detail and "salt" in detail:
            digest = hashing.Digest("plan", plan_commitment(
                detail["plan"], bytes.fromhex(detail["salt"]), json_scheme))
        elif entry.kind == StageKind.PLAN:
            return LocalDigest(notes=["a private plan: its commitment opens with the revealed "
                                      "plan (`algo-tracer reveal`, or --plan-reveal FILE)"])
        elif entry.kind == StageKind.ENVIRONMENT and detail:
            digest = EnvironmentSnapshot.model_validate(detail).digest(json_scheme)
        elif entry.kind == StageKind.CODE and detail:
            digest = CodeSnapshot.model_validate(detail).digest(json_scheme)
        elif "columns" in detail:
            name = stage_name(entry.label)
            return LocalDigest(notes=[f"an in-memory table: pass it to re-hash it "
                                      f"(data={{{name!r}: df}})"])
        else:
            return LocalDigest(notes=["no local copy given"])
    except InputError as exc:  # an unknown scheme, or a value the scheme cannot encode
        return LocalDigest(error=f"the manifest's {entry.label} detail cannot be re-hashed: "
                           f"{exc.message}", source=source)
    except ValidationError as exc:
        return LocalDigest(error=f"the manifest's {entry.label} detail is not a valid snapshot: "
                           f"{describe_validation(exc.errors(), limit=1)}", source=source)
    return LocalDigest(digest=digest.hex, source=source)
