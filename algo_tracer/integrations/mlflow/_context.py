"""Start-of-run snapshots (code, environment) and the tags stamped from them. Internal: no
stability promise; the public names are in `algo_tracer.integrations.mlflow`.

The run-context provider captures the snapshots once per `mlflow.start_run` and keeps them here
for a moment, so that the tracking store can record the very same snapshots as the run's
environment and code stages instead of capturing them a second time (`take`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from algo_tracer.capture import CodeSnapshot, EnvironmentSnapshot, capture_code, capture_environment
from algo_tracer.stages import JSON_SCHEME

#: Prefix of every tag algo-tracer writes on an MLflow run.
TAG_PREFIX = "algotrace."
CODE_DIGEST_TAG = "algotrace.code.digest"
ENVIRONMENT_DIGEST_TAG = "algotrace.environment.digest"
#: Set to 1 to stamp the start-of-run tags on every fluent run, 0 to never stamp them.
CONTEXT_ENV = "ALGO_TRACER_MLFLOW_CONTEXT"

_KEEP = 16
_lock = threading.Lock()
_recent: OrderedDict[tuple[str, str | None], Snapshots] = OrderedDict()
_autotrace_depth = 0


@dataclass(frozen=True)
class Snapshots:
    environment: EnvironmentSnapshot
    code: CodeSnapshot | None
    """None when there is nothing cheap to pin: no script file and no git work tree."""

    def key(self) -> tuple[str, str | None]:
        return (str(self.environment.digest(JSON_SCHEME)),
                str(self.code.digest(JSON_SCHEME)) if self.code is not None else None)


def set_autotrace_active(active: bool) -> None:
    global _autotrace_depth
    with _lock:
        _autotrace_depth += 1 if active else -1


def is_active() -> bool:
    """Whether the provider should stamp tags: an algotrace+ tracking URI or an open autotrace()."""
    forced = os.environ.get(CONTEXT_ENV, "").strip().lower()
    if forced in ("1", "true", "yes"):
        return True
    if forced in ("0", "false", "no"):
        return False
    if _autotrace_depth > 0:
        return True
    import mlflow

    return mlflow.get_tracking_uri().startswith("algotrace+")


def capture() -> Snapshots:
    """Snapshot the code being run and the environment (about 0.3 s; no tree walks outside git).

    The code is the main script (``__main__.__file__``): in a git work tree that pins the
    repository's commit and uncommitted changes, outside git the script file alone. In an
    interactive session outside git nothing is pinned (``code`` is None).
    """
    target = _code_target()
    # Under the JSON scheme of new experiments: the run's experiment is created after this.
    code = capture_code(target, scheme=JSON_SCHEME) if target is not None else None
    if code is not None and code.kind == "git":
        project = Path(code.root)
    elif target is not None and target.is_file():
        project = target.parent
    else:
        project = Path.cwd()
    return Snapshots(capture_environment(project), code)


def remember(snapshots: Snapshots) -> None:
    with _lock:
        _recent[snapshots.key()] = snapshots
        while len(_recent) > _KEEP:
            _recent.popitem(last=False)


def take(tags: Mapping[str, str]) -> Snapshots | None:
    """The snapshots the provider stamped into `tags`, if it did so in this process."""
    environment = tags.get(ENVIRONMENT_DIGEST_TAG)
    if environment is None:
        return None
    with _lock:
        return _recent.pop((environment, tags.get(CODE_DIGEST_TAG)), None)


def tags_for(snapshots: Snapshots) -> dict[str, str]:
    env = snapshots.environment
    tags = {ENVIRONMENT_DIGEST_TAG: str(env.digest(JSON_SCHEME)),
            "algotrace.environment.python": f"{env.python.implementation} {env.python.version}"}
    for name, digest in sorted(env.lock_files.items()):
        tags[f"algotrace.lockfile.{name}"] = digest
    code = snapshots.code
    if code is not None:
        tags[CODE_DIGEST_TAG] = str(code.digest(JSON_SCHEME))
        tags["algotrace.code.kind"] = code.kind
        if code.commit:
            tags["algotrace.code.commit"] = code.commit
        if code.kind == "git":
            tags["algotrace.code.dirty"] = "true" if code.dirty else "false"
    return tags


def start_of_run_tags() -> dict[str, str]:
    snapshots = capture()
    remember(snapshots)
    return tags_for(snapshots)


def _code_target() -> Path | None:
    # __main__.__file__ is absolute (Python >= 3.9), so a later chdir does not lose it.
    main = getattr(sys.modules.get("__main__"), "__file__", None) or (
        sys.argv[0] if sys.argv else "")
    if main and os.path.isfile(main):
        return Path(main)
    cwd = Path.cwd()
    return cwd if _in_git(cwd) else None


def _in_git(path: Path) -> bool:
    return any((p / ".git").exists() for p in (path, *path.parents))
