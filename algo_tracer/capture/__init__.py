"""Snapshots of the software environment and of the code of a run (the environment and code stages).

Example:
    >>> from algo_tracer.capture import capture_code, capture_environment
    >>> env = capture_environment()
    >>> "pydantic" in env.packages
    True
    >>> str(env.digest())[:7]
    'sha256:'
    >>> capture_code(".").kind in ("git", "tree")
    True

Pineau et al.'s reproducibility checklist asks for the computing infrastructure, the software
versions and dependencies, and the exact code. A snapshot records all of that; its `digest` goes
on chain. A digest covers only what decides whether a rerun can reproduce a result. The other
fields are kept for the reader. `algo_tracer.verify.drift` reports changes in both kinds of field.

* `EnvironmentSnapshot.digest`: Python implementation and version, OS family (``system``),
  machine architecture, every installed distribution (normalised name -> version) and the
  SHA-256 of each lock file. Informational only: kernel release, libc, CPU model and count,
  memory, GPUs, CUDA/cuDNN versions, the allow-listed determinism variables and the capture time.
  The host name is never captured.
* `CodeSnapshot.digest`: for git, the HEAD commit plus `diff_digest` (contents of everything
  that differs from HEAD, untracked files included, except algo-tracer's own `OWN_DIRS`). For
  other directories, their tree digest and the ignore patterns. The root path, branch and
  remote URL are informational.

Only environment variables named in `ENV_ALLOWLIST` are read: any other variable could hold
a secret.
"""

from __future__ import annotations

from algo_tracer.capture._code import (
    DEFAULT_CODE_IGNORE,
    OWN_DIRS,
    capture_code,
    strip_url_credentials,
)
from algo_tracer.capture._environment import (
    ENV_ALLOWLIST,
    LOCK_FILE_PATTERNS,
    capture_environment,
    normalize_name,
)
from algo_tracer.capture._snapshots import (
    CODE_CHANGES_DOMAIN,
    CODE_DOMAIN,
    ENVIRONMENT_DOMAIN,
    CodeSnapshot,
    EnvironmentSnapshot,
    GpuInfo,
    HardwareInfo,
    PlatformInfo,
    PythonInfo,
)

__all__ = [
    "CODE_CHANGES_DOMAIN",
    "CODE_DOMAIN",
    "DEFAULT_CODE_IGNORE",
    "ENVIRONMENT_DOMAIN",
    "ENV_ALLOWLIST",
    "LOCK_FILE_PATTERNS",
    "OWN_DIRS",
    "CodeSnapshot",
    "EnvironmentSnapshot",
    "GpuInfo",
    "HardwareInfo",
    "PlatformInfo",
    "PythonInfo",
    "capture_code",
    "capture_environment",
    "normalize_name",
    "strip_url_credentials",
]
