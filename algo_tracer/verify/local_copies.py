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

Where to look is decided here; what the detail means and how each copy is hashed is
`algo_tracer.stages`, the rules recording used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from algo_tracer import stages
from algo_tracer.documents.manifest import StageEntry
from algo_tracer.errors import AlgoTracerError
from algo_tracer.hashing import JSON_SCHEME_V1
from algo_tracer.progress import Progress
from algo_tracer.stages import LocalDigest, stage_name


def local_digest(entry: StageEntry, *, artifacts_dir: Path | None,
                 data: Mapping[str, Any] | None,
                 progress: Progress | None = None,
                 json_scheme: int = JSON_SCHEME_V1) -> LocalDigest:
    """The digest of the stage's local copy, or why there is none.

    `progress` shows the re-hashing of files and directories found in `artifacts_dir`;
    `json_scheme` is the manifest's (`Manifest.json_scheme`), for details re-hashed as JSON.
    """
    name = stage_name(entry.label)
    given = None if data is None else next(
        (data[k] for k in (entry.label, name) if k in data), None)
    try:
        if given is not None:
            return stages.rehash_value(entry, given)
        path = stages.local_path(entry)
        if path is not None:
            if artifacts_dir is None:
                return LocalDigest(notes=["no local copy given (--artifacts DIR)"])
            found = find_artifact(artifacts_dir, path)
            if found is None:
                return LocalDigest(notes=[f"no {Path(path).name} in {artifacts_dir}"])
            return stages.rehash_path(entry, found, progress)
        return stages.rehash_detail(entry, json_scheme)
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
