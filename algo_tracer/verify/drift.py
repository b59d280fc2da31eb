"""What changed since a recorded run: the diff engine behind the reproducibility gate.

Example:
    >>> from algo_tracer.capture import capture_environment
    >>> from algo_tracer.verify.drift import diff_environments, format_drift
    >>> recorded = capture_environment()
    >>> old = recorded.model_copy(update={"packages": {**recorded.packages, "numpy": "1.0.0"}})
    >>> [d.message for d in diff_environments(old, recorded)][0].startswith("numpy 1.0.0 -> ")
    True
    >>> format_drift([])
    'no drift'

Every difference is a `Drift`. Its `Drift.severity` is ``"error"`` when the field is part of
the stage's digest, so the rerun's digest cannot match the recorded one, and ``"warning"`` when
the field is informational (hardware, kernel, determinism variables, branch). The verifier
raises `ReproducibilityError` on errors and prints the warnings. Within one component, drifts
come out sorted by severity and then by item.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from algo_tracer.capture import CodeSnapshot, EnvironmentSnapshot, capture_code, capture_environment
from algo_tracer.diffs import mapping_changes
from algo_tracer.errors import InputError, describe_validation
from algo_tracer.hashing import JSON_SCHEME_V1, Digest

__all__ = [
    "COMPONENT_ORDER",
    "Drift",
    "diff_code",
    "diff_digests",
    "diff_environments",
    "format_drift",
]

#: Order of components in reports: the stage kinds of docs/design.md.
COMPONENT_ORDER = (
    "environment",
    "code",
    "data",
    "params",
    "seed",
    "model",
    "metrics",
    "artifact",
    "manifest",
    "custom",
)
_SHORT = 12  # hex characters of a digest shown in messages; `recorded`/`current` keep all 64


class Drift(BaseModel):
    """One difference between a recorded run and now."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    component: str = Field(min_length=1)
    """The stage kind: ``environment``, ``code``, ``data``, ``params``, ... ."""
    item: str
    """What differs, e.g. ``packages/numpy``, ``lock_files/uv.lock``, ``commit``, a data name."""
    recorded: str | None = None
    """The recorded value; None when the item did not exist then."""
    current: str | None = None
    """The current value; None when the item does not exist now."""
    message: str
    """One readable line (continuation lines for details), e.g. ``numpy 2.1.0 -> 2.2.1``."""
    severity: Literal["error", "warning"] = "error"
    """``error``: the stage digest differs because of it. ``warning``: informational field."""


def _coerce[M: BaseModel](model: type[M], value: Any, what: str) -> M:
    """Accept a snapshot, its JSON text or its parsed dict (as read from a manifest)."""
    if isinstance(value, model):
        return value
    try:
        if isinstance(value, str | bytes):
            return model.model_validate_json(value)
        return model.model_validate(value)
    except ValidationError as exc:
        raise InputError(
            f"{what} is not a valid {model.__name__}: "
            f"{describe_validation(exc.errors(), limit=1)}",
            fix=f"pass a {model.__name__} or its model_dump_json() output",
        ) from exc


def _short(digest: str | None) -> str:
    if digest is None:
        return "none"
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:_SHORT]}" if len(hexpart) > _SHORT else digest


def _diff_mapping(
    component: str,
    group: str,
    old: Mapping[str, str],
    new: Mapping[str, str],
    *,
    label: str = "",
    show: Callable[[str], str] = str,
) -> list[Drift]:
    out = []
    for key, a, b in mapping_changes(old, new):
        name = f"{label}{key}"
        if a is None and b is not None:
            message = f"{name} added ({show(b)})"
        elif b is None and a is not None:
            message = f"{name} removed (was {show(a)})"
        elif a is not None and b is not None:
            message = f"{name} {show(a)} -> {show(b)}"
        out.append(
            Drift(
                component=component, item=f"{group}/{key}", recorded=a, current=b, message=message
            )
        )
    return out


def _field(
    component: str,
    item: str,
    old: Any,
    new: Any,
    message: str,
    severity: Literal["error", "warning"] = "error",
) -> list[Drift]:
    if old == new:
        return []
    return [
        Drift(
            component=component,
            item=item,
            recorded=None if old is None else str(old),
            current=None if new is None else str(new),
            message=message,
            severity=severity,
        )
    ]


def _safety_net(component: str, recorded: Any, current: Any, drifts: list[Drift]) -> list[Drift]:
    """Never report "no drift" while the digests differ (e.g. a schema version change)."""
    a, b = recorded.digest(), current.digest()
    if a != b and not any(d.severity == "error" for d in drifts):
        drifts.append(
            Drift(
                component=component,
                item="digest",
                recorded=str(a),
                current=str(b),
                message=f"{component} digest {_short(str(a))} -> {_short(str(b))}",
            )
        )
    return drifts


def diff_environments(
    recorded: EnvironmentSnapshot | Mapping[str, Any] | str,
    current: EnvironmentSnapshot | Mapping[str, Any] | str | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
) -> list[Drift]:
    """Differences between a recorded environment and the current one.

    Errors: Python implementation/version, OS family or architecture, each added, removed or
    changed package (``numpy 2.1.0 -> 2.2.1``, ``scikit-learn removed (was 1.5.2)``), each lock
    file by name. Warnings: kernel, libc, CPU, memory, GPUs, CUDA/cuDNN, determinism variables.

    Args:
        recorded: The recorded snapshot (or its JSON text / parsed dict).
        current: The snapshot to compare with; default: `capture_environment(project_dir)`.
        project_dir: Where to look for lock files when capturing `current`.

    Returns:
        The drifts, empty when nothing differs.

    Raises:
        InputError: If `recorded` or `current` is not a valid snapshot.
    """
    old = _coerce(EnvironmentSnapshot, recorded, "the recorded environment")
    new = (
        capture_environment(project_dir)
        if current is None
        else _coerce(EnvironmentSnapshot, current, "the current environment")
    )
    c = "environment"
    py_a = f"{old.python.implementation} {old.python.version}"
    py_b = f"{new.python.implementation} {new.python.version}"
    os_a = f"{old.platform.system} {old.platform.machine}"
    os_b = f"{new.platform.system} {new.platform.machine}"
    hw_a, hw_b = old.hardware, new.hardware
    gpus_a = ", ".join(g.name for g in hw_a.gpus) or "none"
    gpus_b = ", ".join(g.name for g in hw_b.gpus) or "none"
    drifts = [
        *_field(c, "python", py_a, py_b, f"python {py_a} -> {py_b}"),
        *_field(c, "platform", os_a, os_b, f"platform {os_a} -> {os_b}"),
        *_diff_mapping(c, "packages", old.packages, new.packages),
        *_diff_mapping(
            c, "lock_files", old.lock_files, new.lock_files, label="lock file ", show=_short
        ),
    ]
    warnings = [
        ("platform.release", old.platform.release, new.platform.release, "kernel"),
        ("platform.libc", old.platform.libc, new.platform.libc, "libc"),
        ("hardware.cpu_model", hw_a.cpu_model, hw_b.cpu_model, "CPU"),
        ("hardware.cpu_count", hw_a.cpu_count, hw_b.cpu_count, "CPU count"),
        ("hardware.memory_bytes", _gib(hw_a.memory_bytes), _gib(hw_b.memory_bytes), "memory"),
        ("hardware.gpus", gpus_a, gpus_b, "GPUs"),
        ("hardware.cuda_version", hw_a.cuda_version, hw_b.cuda_version, "CUDA"),
        ("hardware.cudnn_version", hw_a.cudnn_version, hw_b.cudnn_version, "cuDNN"),
    ]
    for item, a, b, label in warnings:
        drifts += _field(c, item, a, b, f"{label} {a or 'unknown'} -> {b or 'unknown'}", "warning")
    for var in sorted(old.env_vars.keys() | new.env_vars.keys()):
        a, b = old.env_vars.get(var), new.env_vars.get(var)
        message = f"{var} {a if a is not None else 'unset'} -> {b if b is not None else 'unset'}"
        drifts += _field(c, f"env_vars/{var}", a, b, message, "warning")
    return _safety_net(c, old, new, drifts)


def _gib(n: int | None) -> str | None:
    return None if n is None else f"{n / (1 << 30):.1f} GiB"


def diff_code(
    recorded: CodeSnapshot | Mapping[str, Any] | str,
    current: CodeSnapshot | Mapping[str, Any] | str | None = None,
    *,
    path: str | os.PathLike[str] = ".",
    scheme: int = JSON_SCHEME_V1,
) -> list[Drift]:
    """Differences between recorded code and the current code.

    Errors: git vs. plain tree, a different commit, clean vs. dirty, different uncommitted
    changes (naming the paths that changed state), a different tree digest. Warnings: branch
    and remote URL.

    Args:
        recorded: The recorded snapshot (or its JSON text / parsed dict).
        current: The snapshot to compare with; default: `capture_code(path)`, with the
            recorded ignore patterns for a tree.
        path: What to capture when `current` is not given.
        scheme: The recorded experiment's JSON scheme (`Manifest.json_scheme`): the current
            uncommitted changes are hashed by it, as the recorded ones were.

    Raises:
        InputError: If `recorded` or `current` is not a valid snapshot.
    """
    old = _coerce(CodeSnapshot, recorded, "the recorded code")
    if current is None:  # a tree is re-hashed with the patterns it was recorded with
        new = (capture_code(path, ignore=old.ignore, scheme=scheme) if old.kind == "tree"
               else capture_code(path, scheme=scheme))
    else:
        new = _coerce(CodeSnapshot, current, "current code")
    c = "code"
    if old.kind != new.kind:
        drifts = _field(
            c, "kind", old.kind, new.kind, f"code was a {old.kind} snapshot, now a {new.kind}"
        )
        return _safety_net(c, old, new, drifts)
    if old.kind == "tree":
        drifts = _field(
            c,
            "tree_digest",
            old.tree_digest,
            new.tree_digest,
            f"code tree {_short(old.tree_digest)} -> {_short(new.tree_digest)}",
        )
        drifts += _field(
            c,
            "ignore",
            ",".join(old.ignore),
            ",".join(new.ignore),
            f"ignore patterns {list(old.ignore)} -> {list(new.ignore)}",
        )
        return _safety_net(c, old, new, drifts)
    drifts = _field(
        c,
        "commit",
        old.commit,
        new.commit,
        f"commit {_commit(old.commit)} -> {_commit(new.commit)}",
    )
    if old.dirty != new.dirty:
        if new.dirty:
            message = f"working tree was clean, now has uncommitted changes: {_paths(new)}"
        else:
            message = f"working tree had uncommitted changes ({_paths(old)}), now clean"
        drifts += _field(c, "dirty", old.dirty, new.dirty, message)
    elif old.diff_digest != new.diff_digest:
        changed = sorted(set(old.changed_paths) ^ set(new.changed_paths))
        where = f" (paths changed state: {', '.join(changed)})" if changed else ""
        drifts += _field(
            c,
            "diff_digest",
            old.diff_digest,
            new.diff_digest,
            f"uncommitted changes differ: {_short(old.diff_digest)} -> "
            f"{_short(new.diff_digest)}{where}",
        )
    drifts += _field(
        c,
        "branch",
        old.branch,
        new.branch,
        f"branch {old.branch or '(detached)'} -> {new.branch or '(detached)'}",
        "warning",
    )
    drifts += _field(
        c,
        "remote_url",
        old.remote_url,
        new.remote_url,
        f"remote {old.remote_url or 'none'} -> {new.remote_url or 'none'}",
        "warning",
    )
    return _safety_net(c, old, new, drifts)


def _commit(commit: str | None) -> str:
    return commit[:_SHORT] if commit else "(no commit)"


def _paths(snapshot: CodeSnapshot, limit: int = 10) -> str:
    paths = list(snapshot.changed_paths)
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(paths[:limit]) + more


def _digest_text(value: Digest | str | None, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, Digest):
        return str(value)
    if isinstance(value, str):
        return str(Digest.parse(value))  # validates and lower-cases
    raise InputError(
        f"{what} must be a Digest or 'sha256:<hex>' text, got {type(value).__name__}",
        fix="pass the digest as recorded (str(digest)) or a hashing.Digest",
    )


def diff_digests(
    kind: str,
    name: str,
    recorded_digest: Digest | str | None,
    current_digest: Digest | str | None,
    detail: str | Sequence[str] | None = None,
) -> list[Drift]:
    """A drift when two digests of the same thing (a data set, a params dict, a model) differ.

    Args:
        kind: The component, usually a stage kind (``data``, ``params``, ``model``).
        name: Which one, e.g. ``train.csv``.
        recorded_digest: The recorded digest (`Digest` or ``sha256:<hex>``); None if not recorded.
        current_digest: The current digest; None if the thing is missing now.
        detail: Extra explanation, e.g. `DirectoryDigest.diff` lines or changed column names.
            Each line becomes an indented continuation line of the message.

    Returns:
        ``[]`` when the digests are equal, else one `Drift`.

    Raises:
        InputError: If a digest is neither a `Digest` nor valid ``sha256:<hex>`` text.
    """
    if not isinstance(kind, str) or not kind:
        raise InputError(f"kind must be a non-empty str, got {kind!r}", fix='e.g. kind="data"')
    a = _digest_text(recorded_digest, "recorded_digest")
    b = _digest_text(current_digest, "current_digest")
    if a == b:
        return []
    if a is None:
        message = f"{name}: not in the recorded run (now {_short(b)})"
    elif b is None:
        message = f"{name}: missing now (recorded {_short(a)})"
    else:
        message = f"{name}: {_short(a)} -> {_short(b)}"
    lines = [detail] if isinstance(detail, str) else list(detail or [])
    message += "".join(f"\n{line}" for line in lines if line)
    return [Drift(component=kind, item=str(name), recorded=a, current=b, message=message)]


def _sort_key(d: Drift) -> tuple[int, str, int, str, str]:
    rank = COMPONENT_ORDER.index(d.component) if d.component in COMPONENT_ORDER else 99
    return (rank, d.component, d.severity != "error", d.item, d.message)


def format_drift(drifts: Sequence[Drift]) -> str:
    """A readable report: a summary line, then drifts grouped by component, errors first.

    Example output::

        2 errors, 1 warning
        environment:
          error    numpy 2.1.0 -> 2.2.1
          error    scikit-learn removed (was 1.5.2)
          warning  OMP_NUM_THREADS unset -> 4

    Returns ``"no drift"`` for an empty list.
    """
    if not drifts:
        return "no drift"
    errors = sum(d.severity == "error" for d in drifts)
    warnings = len(drifts) - errors
    lines = [f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"]
    component = None
    for d in sorted(drifts, key=_sort_key):
        if d.component != component:
            component = d.component
            lines.append(f"{component}:")
        first, *rest = d.message.splitlines() or [""]
        lines.append(f"  {d.severity:<8} {first}")
        lines += [f"{'':11}{line}" for line in rest]
    return "\n".join(lines)
