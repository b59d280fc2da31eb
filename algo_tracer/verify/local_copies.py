"""Re-hashing a stage's local copy for verification step 8 (internal; no stability promise).

A stage can be re-hashed from three places, tried in this order:

* `data[name]`: an object the caller passes (a DataFrame, an array, a path), e.g. the training
  table, which cannot be rebuilt from disk;
* the artifacts directory: the file or directory named by the stage detail's `path`, matched by
  its base name anywhere inside the directory;
* the manifest itself: params, metrics, seed, outcome, environment and code stages keep the
  hashed value in their `detail` (the seed, environment and code ones as the model_dump of their
  SeedReport / EnvironmentSnapshot / CodeSnapshot), so an edited value no longer hashes to the
  recorded digest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from algo_tracer import hashing
from algo_tracer.capture import CodeSnapshot, EnvironmentSnapshot
from algo_tracer.documents.manifest import StageEntry, StageKind
from algo_tracer.errors import AlgoTracerError
from algo_tracer.progress import Progress, track
from algo_tracer.seeding import SeedReport

_MAX_LINES = 8


@dataclass
class LocalDigest:
    digest: str | None = None  # hex
    source: str | None = None
    error: str | None = None  # the local copy exists but cannot be hashed as recorded
    notes: list[str] = field(default_factory=list)


def stage_name(label: str) -> str:
    """`data:train` -> `train`; `params` -> `params`."""
    return label.partition(":")[2] or label


def local_digest(entry: StageEntry, *, artifacts_dir: Path | None,
                 data: Mapping[str, Any] | None,
                 progress: Progress | None = None) -> LocalDigest:
    """The digest of the stage's local copy, or why there is none.

    `progress` shows the re-hashing of files and directories found in `artifacts_dir`.
    """
    name = stage_name(entry.label)
    given = None if data is None else next(
        (data[k] for k in (entry.label, name) if k in data), None)
    try:
        if given is not None:
            return _given(entry, name, given)
        path = entry.detail.get("path")
        if path and entry.kind in (StageKind.DATA, StageKind.MODEL, StageKind.ARTIFACT):
            if artifacts_dir is None:
                return LocalDigest(notes=["no local copy given (--artifacts DIR)"])
            found = find_artifact(artifacts_dir, str(path))
            if found is None:
                return LocalDigest(notes=[f"no {Path(path).name} in {artifacts_dir}"])
            return _path(entry, found, progress)
        return _from_detail(entry)
    except AlgoTracerError as exc:
        return LocalDigest(error=exc.message, source=name)


def find_artifact(root: Path, recorded: str) -> Path | None:
    """The file or directory inside `root` with the recorded path's base name.

    `root/<name>` wins; otherwise the match whose trailing path parts agree most with the
    recorded path (a unique match is taken as it is).
    """
    name = Path(recorded).name
    direct = root / name
    if direct.exists():
        return direct
    matches = sorted(p for p in root.rglob(name) if p.name == name)
    if not matches:
        return None
    tail = Path(recorded).parts

    def agreement(p: Path) -> int:
        parts = p.relative_to(root).parts
        return sum(1 for a, b in zip(reversed(parts), reversed(tail), strict=False) if a == b)

    return max(matches, key=agreement)


def _given(entry: StageEntry, name: str, value: Any) -> LocalDigest:
    digest = hashing.digest_of(value)
    out = LocalDigest(digest=digest.hex, source=f"data[{name!r}]")
    if digest.hex != entry.digest:
        columns = getattr(value, "columns", None)
        recorded = entry.detail.get("column_digests")
        if columns is not None and isinstance(recorded, dict):
            now = {str(k): v.hex for k, v in hashing.dataframe_column_digests(value).items()}
            out.notes += mapping_diff("column", recorded, now)
        shape = getattr(value, "shape", None)
        if shape is not None and entry.detail.get("shape") not in (None, list(shape)):
            out.notes.append(f"shape {entry.detail['shape']} -> {list(shape)}")
    return out


def _path(entry: StageEntry, path: Path, progress: Progress | None) -> LocalDigest:
    hashed = hash_local_copy(path, progress)
    if isinstance(hashed, hashing.DirectoryDigest):
        out = LocalDigest(digest=hashed.digest.hex, source=str(path))
        if hashed.digest.hex != entry.digest:
            recorded = set(entry.detail.get("files") or [])
            now = {e.path for e in hashed.entries}
            out.notes += [f"added: {p}" for p in sorted(now - recorded)][:_MAX_LINES]
            out.notes += [f"removed: {p}" for p in sorted(recorded - now)][:_MAX_LINES]
            if not out.notes:
                out.notes.append("same file names: a file's content changed")
        return out
    out = LocalDigest(digest=hashed.hex, source=str(path))
    size, recorded_size = path.stat().st_size, entry.detail.get("bytes")
    if hashed.hex != entry.digest and recorded_size is not None:
        out.notes.append(f"size {recorded_size} -> {size} bytes" if size != recorded_size
                         else f"same size ({size} bytes), different content")
    return out


def hash_local_copy(path: Path, progress: Progress | None
                    ) -> hashing.Digest | hashing.DirectoryDigest:
    """A file's digest, or a directory's tree, as tracing records them (`algo-tracer hash` and
    verification step 8), shown as a `progress` task in bytes."""
    tree = path.is_dir()
    with track(progress, f"hashing {path.name}", total=None if tree else path.stat().st_size,
               unit="B") as advance:
        if tree:
            return hashing.hash_directory(path, progress=advance)
        return hashing.hash_file(path, progress=advance)


def _from_detail(entry: StageEntry) -> LocalDigest:
    detail = entry.detail
    source = "manifest detail"
    try:
        if entry.kind == StageKind.PARAMS and "params" in detail:
            digest = hashing.hash_params(detail["params"])
        elif entry.kind == StageKind.METRICS and "metrics" in detail:
            digest = hashing.hash_params(detail["metrics"])
        elif entry.kind == StageKind.SEED and detail:
            digest = SeedReport.model_validate(detail).digest()
        elif entry.kind == StageKind.CUSTOM and set(detail) == {"outcome"}:
            digest = hashing.hash_params(detail)
        elif entry.kind == StageKind.ENVIRONMENT and detail:
            digest = EnvironmentSnapshot.model_validate(detail).digest()
        elif entry.kind == StageKind.CODE and detail:
            digest = CodeSnapshot.model_validate(detail).digest()
        elif "columns" in detail:
            name = stage_name(entry.label)
            return LocalDigest(notes=[f"an in-memory table: pass it to re-hash it "
                                      f"(data={{{name!r}: df}})"])
        else:
            return LocalDigest(notes=["no local copy given"])
    except ValidationError as exc:
        return LocalDigest(error=f"the manifest's {entry.label} detail is not a valid snapshot: "
                           f"{exc.errors()[0]['msg']}", source=source)
    return LocalDigest(digest=digest.hex, source=source)


def mapping_diff(what: str, old: Mapping[str, Any], new: Mapping[str, Any], *,
                 show: Callable[[Any], str] = lambda digest: digest[:12],
                 verb: str = "changed ", limit: int | None = _MAX_LINES) -> list[str]:
    """Sorted lines naming each key added, removed or changed between two mappings."""
    lines = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if a is None or b is None:
            lines.append(f"{what} {key!r} {'added' if a is None else 'removed'}")
        else:
            lines.append(f"{what} {key!r} {verb}{show(a)} -> {show(b)}")
    return lines[:limit]
