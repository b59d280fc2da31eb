"""What of an MLflow run is hashed, and how: shared by recording and verification. Internal: no
stability promise; docs/mlflow.md describes the stages these functions produce.

Recording and verification must compute the same digests from the same run, so every rule
lives here once: which metrics and tags count, how a non-finite metric is written, what of a
dataset input is hashed, and how an artifact directory is hashed.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from algo_tracer.format.records import MAX_NAME_BYTES
from algo_tracer.hashing import DirectoryDigest, hash_directory

#: Run artifact folder that holds the copy of the manifest; left out of the artifact digest.
MANIFEST_ARTIFACT_DIR = "algotrace"
MANIFEST_ARTIFACT = f"{MANIFEST_ARTIFACT_DIR}/manifest.json"
#: Metric keys left out of the final-metrics stage: MLflow's system-metrics monitor keeps
#: logging them after the run has ended (they still go to the note stream while the run is open).
SYSTEM_METRICS_PREFIX = "system/"
#: Stage names (labels are ``<kind>:<name>``) of what the plugin records at the end of a run.
METRICS_STAGE = "mlflow"
TAGS_STAGE = "mlflow-tags"
ARTIFACTS_STAGE = "mlflow-run"
#: How many per-file digests a directory stage lists in the manifest.
MAX_LISTED_FILES = 1000


def final_metrics(metrics: Mapping[str, float]) -> dict[str, float | str]:
    """The latest metric values as hashed: no system metrics, NaN/inf as 'nan'/'inf'/'-inf'."""
    out: dict[str, float | str] = {}
    for key, value in metrics.items():
        if key.startswith(SYSTEM_METRICS_PREFIX):
            continue
        value = float(value)
        out[key] = value if math.isfinite(value) else repr(value)
    return out


def run_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The run's tags as hashed: everything except algo-tracer's own ``algotrace.*`` tags."""
    return {k: v for k, v in tags.items() if not k.startswith("algotrace.")}


def metric_name(key: str) -> str:
    """The note-record name of an MLflow metric key (keys over 255 UTF-8 bytes are shortened).

    A long key keeps its first bytes and gets ``~`` plus 16 hex digits of its SHA-256, so two
    long keys stay distinct and the mapping is the same on every machine.
    """
    raw = key.encode("utf-8")
    if len(raw) <= MAX_NAME_BYTES:
        return key
    suffix = "~" + hashlib.sha256(raw).hexdigest()[:16]
    head = raw[: MAX_NAME_BYTES - len(suffix)].decode("utf-8", "ignore")
    return head + suffix


def dataset_descriptor(dataset_input: Any) -> dict[str, Any]:
    """What MLflow knows of a dataset input (`mlflow.entities.DatasetInput`), as hashed.

    MLflow sees descriptors, not data: its own ``digest`` is a short change-tracking fingerprint
    (see docs/mlflow.md); trace the data itself with `Experiment.trace_data` for a full digest.
    """
    ds = dataset_input.dataset
    return {"name": ds.name, "digest": ds.digest, "source_type": ds.source_type,
            "source": ds.source, "schema": ds.schema, "profile": ds.profile,
            "tags": {t.key: t.value for t in dataset_input.tags or []}}


@contextmanager
def local_artifacts(artifact_uri: str, tracking_uri: str | None = None) -> Iterator[str | None]:
    """A local directory holding the artifacts at `artifact_uri` (None when there are none).

    Local artifact stores are read in place; any other store is downloaded to a temporary
    directory first, through MLflow's own artifact repository for the URI.
    """
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

    repo: Any = get_artifact_repository(artifact_uri, tracking_uri=tracking_uri)
    if isinstance(repo, LocalArtifactRepository):
        yield repo.artifact_dir if os.path.isdir(repo.artifact_dir) else None
        return
    with tempfile.TemporaryDirectory(prefix="algotrace-artifacts-") as tmp:
        if not repo.list_artifacts():
            yield None
            return
        yield repo.download_artifacts("", dst_path=tmp)


def hash_artifacts(artifact_uri: str, tracking_uri: str | None = None, *,
                   exclude_manifest: bool = False) -> DirectoryDigest:
    """Directory digest of everything stored at `artifact_uri` (an empty listing if nothing).

    Every file counts (no default ignore patterns); with `exclude_manifest` the top-level
    ``algotrace/`` folder, where the manifest copy goes after the seal, is left out.
    """
    ignore = (MANIFEST_ARTIFACT_DIR + "/",) if exclude_manifest else ()
    with local_artifacts(artifact_uri, tracking_uri) as path:
        if path is not None:
            return hash_directory(path, ignore=ignore, default_ignore=False)
    with tempfile.TemporaryDirectory(prefix="algotrace-empty-") as empty:
        return hash_directory(empty, default_ignore=False)


def directory_detail(tree: DirectoryDigest, uri: str) -> dict[str, Any]:
    files = {e.path: (e.digest.hex if e.digest is not None else f"symlink:{e.target}")
             for e in tree.entries[:MAX_LISTED_FILES]}
    return {"uri": uri, "type": "directory", "scheme": tree.digest.kind,
            "file_count": len(tree.entries), "files": files,
            "bytes": sum(e.size for e in tree.entries)}


def directory_diff(expected: Mapping[str, Any], actual: DirectoryDigest) -> list[str]:
    """Sorted differences between a stage's listed files and a fresh hash of the directory."""
    listed = expected.get("files")
    if not isinstance(listed, Mapping):
        return []
    now = {e.path: (e.digest.hex if e.digest is not None else f"symlink:{e.target}")
           for e in actual.entries}
    lines = []
    complete = expected.get("file_count") == len(listed)
    for path in sorted(set(listed) | (set(now) if complete else set())):
        if path not in now:
            lines.append(f"removed: {path}")
        elif path not in listed:
            lines.append(f"added: {path}")
        elif listed[path] != now[path]:
            lines.append(f"changed: {path}: expected sha256:{listed[path]}, got "
                         f"sha256:{now[path]}")
    return lines
