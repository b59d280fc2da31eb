"""Gate a rerun on drift: compare data, code and environment with a recorded run's manifest.

    >>> from algo_tracer.verify import check_reproducible
    >>> check_reproducible("manifest.json", data={"train": df}, code=".",
    ...                    environment=True)                                  # doctest: +SKIP

`check_reproducible` runs *before* retraining and raises `ReproducibilityError` with a readable
diff (algo_tracer.verify.drift) when something drifted. It reads the manifest and the local
files, packages and git state only: it never touches the chain.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from algo_tracer.capture import CodeSnapshot, EnvironmentSnapshot
from algo_tracer.documents.manifest import Manifest, StageEntry, StageKind
from algo_tracer.errors import InputError, ReproducibilityError
from algo_tracer.verify.drift import Drift, diff_code, diff_digests, diff_environments, format_drift
from algo_tracer.verify.local_copies import local_digest

__all__ = ["check_reproducible"]


def check_reproducible(
    manifest: Manifest | str | os.PathLike[str],
    *,
    data: Mapping[str, Any] | None = None,
    code: str | os.PathLike[str] | None = None,
    environment: bool | str | os.PathLike[str] | None = None,
) -> list[Drift]:
    """Raise `ReproducibilityError` before retraining if data, code or environment drifted.

    Args:
        manifest: The recorded run's manifest (or its path).
        data: Name -> DataFrame / array / path, compared with the manifest's `data:<name>`
            stages. Column order and re-saving an identical file do not count as drift.
        code: A path inside the code to compare with the code stage (git commit + changes).
        environment: True (current directory) or a project directory: packages, Python and
            lock files compared with the environment stage.

    Returns:
        The warnings (informational drift such as another CPU), when nothing fatal drifted.

    Raises:
        ReproducibilityError: listing what changed (which file, column, package and version).
        InputError: a stage asked for is not in the manifest.
    """
    m = manifest if isinstance(manifest, Manifest) else Manifest.read(Path(manifest))
    drifts: list[Drift] = []
    for name, value in (data or {}).items():
        entry = next((s for s in m.stages if s.label in (f"data:{name}", name)), None)
        if entry is None:
            known = ", ".join(s.label for s in m.stages if s.kind == StageKind.DATA) or "none"
            drifts.append(Drift(component="data", item=name, message=f"{name}: not in the "
                                f"recorded run (its data stages: {known})"))
            continue
        local = local_digest(entry, artifacts_dir=None, data={name: value},
                             json_scheme=m.json_scheme)
        if local.error or local.digest is None:
            drifts.append(Drift(component="data", item=name, recorded=f"sha256:{entry.digest}",
                                message=f"{name}: {local.error or 'cannot be hashed'}"))
            continue
        drifts += diff_digests("data", name, f"sha256:{entry.digest}", f"sha256:{local.digest}",
                               detail=local.notes)
    if code is not None:
        entry = _single(m, StageKind.CODE)
        recorded = CodeSnapshot.model_validate(entry.detail)
        drifts += _detail_digest(entry, recorded.digest(m.json_scheme).hex)
        drifts += diff_code(recorded, path=code, scheme=m.json_scheme)
    if environment:
        entry = _single(m, StageKind.ENVIRONMENT)
        recorded_env = EnvironmentSnapshot.model_validate(entry.detail)
        drifts += _detail_digest(entry, recorded_env.digest(m.json_scheme).hex)
        project = None if environment is True else environment
        drifts += diff_environments(recorded_env, project_dir=project)
    if any(d.severity == "error" for d in drifts):
        raise ReproducibilityError(
            f"this run would not reproduce experiment {m.experiment_id} ({m.name}):\n"
            + format_drift(drifts),
            fix="restore the recorded data, code and packages (or trace a new experiment)")
    return drifts


def _single(m: Manifest, kind: StageKind) -> StageEntry:
    entry = next((s for s in m.stages if s.kind == kind), None)
    if entry is None:
        raise InputError(f"the manifest of {m.experiment_id} has no {kind.name.lower()} stage",
                         fix=f"trace it with exp.trace_{kind.name.lower()}() in the run")
    return entry


def _detail_digest(entry: StageEntry, computed: str) -> list[Drift]:
    if computed == entry.digest:
        return []
    return [Drift(component=entry.kind.name.lower(), item="manifest", recorded=entry.digest,
                  current=computed, message=f"the manifest's {entry.label} snapshot does not "
                  "hash to its recorded digest (the manifest was edited)")]
