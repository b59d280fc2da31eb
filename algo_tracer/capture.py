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
fields are kept for the reader. `algo_tracer.drift` reports changes in both kinds of field.

* `EnvironmentSnapshot.digest`: Python implementation and version, OS family (``system``),
  machine architecture, every installed distribution (normalised name -> version) and the
  SHA-256 of each lock file. Informational only: kernel release, libc, CPU model and count,
  memory, GPUs, CUDA/cuDNN versions, the allow-listed determinism variables and the capture time.
  The host name is never captured.
* `CodeSnapshot.digest`: for git, the HEAD commit plus `diff_digest` (contents of everything
  that differs from HEAD, untracked files included). For other directories, their tree digest and
  the ignore patterns. The root path, branch and remote URL are informational.

Only environment variables named in `ENV_ALLOWLIST` are read: any other variable could hold
a secret.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from algo_tracer.errors import ConfigError, InputError
from algo_tracer.hashing import Digest, canonical_json, hash_bytes, hash_file, hash_path

__all__ = [
    "CODE_CHANGES_DOMAIN",
    "CODE_DOMAIN",
    "DEFAULT_CODE_IGNORE",
    "ENVIRONMENT_DOMAIN",
    "ENV_ALLOWLIST",
    "LOCK_FILE_PATTERNS",
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

#: Domain tag of `EnvironmentSnapshot.digest` (digest kind ``environment``).
ENVIRONMENT_DOMAIN = "algotrace/v1/environment"
#: Domain tag of `CodeSnapshot.digest` (digest kind ``code``).
CODE_DOMAIN = "algotrace/v1/code"
#: Domain tag of `CodeSnapshot.diff_digest` (digest kind ``code-changes``).
CODE_CHANGES_DOMAIN = "algotrace/v1/code-changes"
#: Files in the project directory whose SHA-256 is recorded (glob patterns, case-sensitive).
LOCK_FILE_PATTERNS: tuple[str, ...] = (
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "Pipfile.lock",
    "pylock.toml",
    "pylock.*.toml",
    "requirements*.txt",
    "environment.yml",
    "environment.yaml",
    "conda-lock.yml",
    "conda-lock.yaml",
    "pyproject.toml",
)
#: The only environment variables ever read: they change numerical results or their determinism.
ENV_ALLOWLIST: tuple[str, ...] = (
    "PYTHONHASHSEED",
    "CUBLAS_WORKSPACE_CONFIG",
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "TF_DETERMINISTIC_OPS",
    "TF_CUDNN_DETERMINISTIC",
)
#: Extra ignore patterns for tree digests of code outside git (virtualenvs, caches, build output).
DEFAULT_CODE_IGNORE: tuple[str, ...] = (
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
    "*.egg-info",
)

_FROZEN = ConfigDict(frozen=True, extra="forbid")
Sha256Text = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
_GIT_TIMEOUT = 120
# Variables that would point git at another repository or index than the one at `path`
# (a pre-commit hook sets several of them).
_GIT_LOCAL_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CONFIG_PARAMETERS",
)


class _Snapshot(BaseModel):
    model_config = _FROZEN

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Parse `model_dump_json` output, raising InputError (not a pydantic error)."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise InputError(
                f"not a valid {cls.__name__}: {exc.errors()[0]['msg']} "
                f"at {'.'.join(map(str, exc.errors()[0]['loc'])) or '$'}",
                fix=f"pass the JSON exactly as written by {cls.__name__}.model_dump_json()",
            ) from exc


class PythonInfo(BaseModel):
    """The running interpreter."""

    model_config = _FROZEN
    implementation: str
    """``CPython``, ``PyPy``, ... (in the digest)."""
    version: str
    """``3.12.3`` (in the digest)."""
    executable: str
    """Base name of ``sys.executable`` only, never the path (it can hold a user name)."""


class PlatformInfo(BaseModel):
    """Operating system and architecture."""

    model_config = _FROZEN
    system: str
    """``Linux``, ``Darwin``, ``Windows`` (in the digest)."""
    machine: str
    """``x86_64``, ``arm64``, ... (in the digest)."""
    release: str
    """Kernel release (informational)."""
    version: str
    """Kernel build string (informational)."""
    platform: str
    """`platform.platform()`, e.g. ``Linux-6.1.0-x86_64-with-glibc2.36`` (informational)."""
    libc: str | None = None
    """C library and version, e.g. ``glibc 2.36`` (informational)."""


class GpuInfo(BaseModel):
    """One GPU as reported by nvidia-smi or torch."""

    model_config = _FROZEN
    name: str
    memory_mib: int | None = None
    driver_version: str | None = None
    source: Literal["nvidia-smi", "torch"]


class HardwareInfo(BaseModel):
    """Compute resources. Informational: results should not depend on the host."""

    model_config = _FROZEN
    cpu_model: str | None = None
    cpu_count: int | None = None
    """Logical CPUs (`os.cpu_count`)."""
    memory_bytes: int | None = None
    """Total physical memory of the host (not a container limit)."""
    gpus: tuple[GpuInfo, ...] = ()
    cuda_version: str | None = None
    """CUDA runtime torch was built with (``torch.version.cuda``), when torch is installed."""
    cudnn_version: str | None = None


class EnvironmentSnapshot(_Snapshot):
    """The software environment of a run. JSON with `model_dump_json`, back with `from_json`."""

    schema_version: Literal[1] = 1
    captured_at: datetime
    """When the snapshot was taken, UTC (informational)."""
    python: PythonInfo
    platform: PlatformInfo
    hardware: HardwareInfo
    packages: dict[str, str]
    """Installed distributions: normalised name (`normalize_name`) -> version, sorted by name."""
    lock_files: dict[str, Sha256Text]
    """Lock file name (relative to the project directory) -> ``sha256:<hex>`` of its bytes."""
    env_vars: dict[str, str] = Field(default_factory=dict)
    """The variables of `ENV_ALLOWLIST` that are set (informational; never any other variable)."""

    def digest_material(self) -> dict[str, Any]:
        """The exact value whose canonical JSON `digest` hashes."""
        return {
            "schema": self.schema_version,
            "python": {
                "implementation": self.python.implementation,
                "version": self.python.version,
            },
            "platform": {"system": self.platform.system, "machine": self.platform.machine},
            "packages": dict(self.packages),
            "lock_files": dict(self.lock_files),
        }

    def digest(self) -> Digest:
        """``SHA-256("algotrace/v1/environment" || 0x00 || canonical_json(digest_material()))``."""
        return hash_bytes(
            ENVIRONMENT_DOMAIN, canonical_json(self.digest_material()), kind="environment"
        )


class CodeSnapshot(_Snapshot):
    """The code of a run: a git commit plus uncommitted changes, or a directory tree digest."""

    schema_version: Literal[1] = 1
    captured_at: datetime
    kind: Literal["git", "tree"]
    root: str
    """Absolute path of the work tree or directory (informational)."""
    commit: str | None = None
    """HEAD commit id; None outside git or before the first commit."""
    branch: str | None = None
    """Current branch; None when HEAD is detached (informational)."""
    remote_url: str | None = None
    """URL of ``origin`` (or the first remote) with credentials stripped (informational)."""
    dirty: bool = False
    """True when any tracked file differs from HEAD or an untracked, non-ignored file exists."""
    changed_paths: tuple[str, ...] = ()
    """Paths (relative to `root`) that differ from HEAD, untracked ones included, sorted."""
    diff_digest: Sha256Text | None = None
    """Digest over the current contents of `changed_paths`; None when clean."""
    tree_digest: Sha256Text | None = None
    """``directory`` (or ``file``) digest of the tree, for ``kind == "tree"``."""
    ignore: tuple[str, ...] = ()
    """Extra ignore patterns applied to the tree digest, for ``kind == "tree"``."""

    def digest_material(self) -> dict[str, Any]:
        """The exact value whose canonical JSON `digest` hashes."""
        if self.kind == "git":
            return {
                "schema": self.schema_version,
                "kind": "git",
                "commit": self.commit,
                "diff": self.diff_digest,
            }
        return {
            "schema": self.schema_version,
            "kind": "tree",
            "tree": self.tree_digest,
            "ignore": list(self.ignore),
        }

    def digest(self) -> Digest:
        """``SHA-256("algotrace/v1/code" || 0x00 || canonical_json(digest_material()))``."""
        return hash_bytes(CODE_DOMAIN, canonical_json(self.digest_material()), kind="code")


# --------------------------------------------------------------------------- environment


def normalize_name(name: str) -> str:
    """PEP 503 normalised distribution name: ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def capture_environment(project_dir: str | os.PathLike[str] | None = None) -> EnvironmentSnapshot:
    """Snapshot the running interpreter, OS, hardware, installed packages and lock files.

    Args:
        project_dir: Directory searched (not recursively) for `LOCK_FILE_PATTERNS`. Default: the
            current working directory. Pass the project root when running from elsewhere.

    Returns:
        The snapshot. GPU details come from ``nvidia-smi`` when it is on PATH, and from torch
        only when torch has already initialised CUDA (this function never initialises CUDA:
        that would break fork-based data loaders later).

    Raises:
        InputError: If `project_dir` is not a directory or a lock file cannot be read.
    """
    root = Path.cwd() if project_dir is None else Path(project_dir)
    if not root.is_dir():
        raise InputError(
            f"project directory {str(root)!r} is not a directory",
            fix="pass the directory that holds pyproject.toml / the lock file",
        )
    return EnvironmentSnapshot(
        captured_at=datetime.now(UTC),
        python=PythonInfo(
            implementation=platform.python_implementation(),
            version=platform.python_version(),
            executable=os.path.basename(sys.executable or "") or "unknown",
        ),
        platform=_platform_info(),
        hardware=_hardware_info(),
        packages=_installed_packages(),
        lock_files=_lock_file_digests(root),
        env_vars={k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ},
    )


def _platform_info() -> PlatformInfo:
    lib, ver = platform.libc_ver()
    return PlatformInfo(
        system=platform.system(),
        machine=platform.machine(),
        release=platform.release(),
        version=platform.version(),
        platform=platform.platform(),
        libc=f"{lib} {ver}" if lib else None,
    )


def _installed_packages() -> dict[str, str]:
    packages: dict[str, str] = {}
    # distributions() walks sys.path in order; the first copy of a name is the one imported.
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if not name or dist.version is None:
            continue  # broken metadata (half-removed install): nothing to pin
        packages.setdefault(normalize_name(name), str(dist.version))
    return dict(sorted(packages.items()))


def _lock_file_digests(root: Path) -> dict[str, str]:
    found = {}
    for entry in sorted(os.listdir(root)):
        path = root / entry
        if any(fnmatch.fnmatchcase(entry, p) for p in LOCK_FILE_PATTERNS) and path.is_file():
            found[entry] = str(hash_file(path))
    return found


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    return value.strip() or None
    except OSError:
        pass
    if sys.platform == "darwin":
        out = _run_quiet(["sysctl", "-n", "machdep.cpu.brand_string"])
        if out:
            return out.strip()
    return platform.processor() or None


def _memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _hardware_info() -> HardwareInfo:
    gpus = _parse_nvidia_smi(_run_quiet(_NVIDIA_SMI_QUERY) or "")
    cuda, cudnn, torch_gpus = _torch_accelerators()
    return HardwareInfo(
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count(),
        memory_bytes=_memory_bytes(),
        gpus=tuple(gpus or torch_gpus),
        cuda_version=cuda,
        cudnn_version=cudnn,
    )


_NVIDIA_SMI_QUERY = [
    "nvidia-smi",
    "--query-gpu=name,memory.total,driver_version",
    "--format=csv,noheader,nounits",
]


def _run_quiet(cmd: list[str]) -> str | None:
    """Stdout of a short informational command, or None if it is missing or fails."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _parse_nvidia_smi(text: str) -> list[GpuInfo]:
    gpus = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, _, rest = line.strip().rpartition(",")  # the driver version
        name, _, memory = name.rpartition(",")  # names may contain commas, numbers do not
        if not name.strip():
            continue
        memory = memory.strip()
        gpus.append(
            GpuInfo(
                name=name.strip(),
                memory_mib=int(memory) if memory.isdigit() else None,
                driver_version=rest.strip() or None,
                source="nvidia-smi",
            )
        )
    return gpus


def _torch_accelerators() -> tuple[str | None, str | None, list[GpuInfo]]:
    torch = sys.modules.get("torch")
    try:
        if torch is None and importlib.util.find_spec("torch") is not None:
            torch = importlib.import_module("torch")
    except Exception:  # a broken torch install must not stop the capture
        return None, None, []
    if torch is None:
        return None, None, []
    cuda = cudnn = None
    gpus = []
    try:
        cuda = getattr(torch.version, "cuda", None)
        version = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        cudnn = str(version) if version else None
        if torch.cuda.is_initialized():  # never initialise CUDA ourselves
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                memory = int(props.total_memory) // (1 << 20)
                gpus.append(GpuInfo(name=str(props.name), memory_mib=memory, source="torch"))
    except Exception:
        pass
    return (str(cuda) if cuda else None), cudnn, gpus


# --------------------------------------------------------------------------- code


def strip_url_credentials(url: str) -> str:
    """Remove credentials from a remote URL.

    ``https://user:token@host/x`` -> ``https://host/x``. For http(s) and ftp(s) the whole user
    part goes (a bare user there is usually a token), and so do query and fragment. For other
    schemes with ``://`` (ssh) only a password is removed. scp-like ``git@host:x`` and local
    paths have no credential syntax and are returned unchanged.
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable remote URL>"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if parts.scheme.lower() in ("http", "https", "ftp", "ftps"):
        return urlunsplit((parts.scheme, hostport, parts.path, "", ""))
    if not at:
        return url
    user = userinfo.partition(":")[0]
    netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def capture_code(
    path: str | os.PathLike[str] = ".", *, ignore: Sequence[str] = DEFAULT_CODE_IGNORE
) -> CodeSnapshot:
    """Snapshot the code at `path`: its git state, or a tree digest outside git.

    In a git work tree the whole repository is pinned, even when `path` is a subdirectory:
    HEAD commit, branch, remote, and, when the tree is dirty, `CodeSnapshot.diff_digest`. That
    digest is over the *contents* of every path that differs from HEAD (tracked changes, staged
    or not, deletions, and untracked files that are not ignored). Each path contributes its mode,
    its SHA-256 or symlink target, or "deleted". A patch text (``git diff --binary``) is not
    used: its bytes depend on user config (diff.algorithm, prefixes, colour, textconv), so the
    same tree could give different digests on two machines. HEAD plus these contents pins the tree
    exactly. Nested repositories and submodules are pinned by their HEAD commit.

    Outside git (or without a git executable) the tree is hashed with
    `algo_tracer.hashing.hash_path`, skipping `ignore` in addition to the hashing defaults.

    Args:
        path: A directory or file inside the code to pin.
        ignore: Extra glob patterns for the tree digest (not used for git, which uses .gitignore).

    Raises:
        InputError: If `path` does not exist or a file cannot be read.
        ConfigError: If git refuses the repository (e.g. "dubious ownership") or fails.
    """
    target = Path(path)
    if not target.exists():
        raise InputError(f"no such file or directory: {str(target)!r}", fix="check the path")
    start = target if target.is_dir() else target.parent
    root = _git_toplevel(start)
    if root is None:
        patterns = tuple(ignore if not isinstance(ignore, str) else [ignore])
        return CodeSnapshot(
            captured_at=datetime.now(UTC),
            kind="tree",
            root=str(target.resolve()),
            tree_digest=str(hash_path(target, ignore=patterns)),
            ignore=patterns,
        )
    head = _git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], root, check=False)
    commit = head.stdout.decode().strip() if head.returncode == 0 else None
    branch = _git(["symbolic-ref", "--short", "-q", "HEAD"], root, check=False)
    paths = _changed_paths(root, has_head=commit is not None)
    entries = [_describe_path(root, p) for p in paths]
    diff = (
        str(hash_bytes(CODE_CHANGES_DOMAIN, canonical_json(entries), kind="code-changes"))
        if entries
        else None
    )
    return CodeSnapshot(
        captured_at=datetime.now(UTC),
        kind="git",
        root=str(root),
        commit=commit,
        branch=(branch.stdout.decode().strip() or None) if branch.returncode == 0 else None,
        remote_url=_remote_url(root),
        dirty=bool(entries),
        changed_paths=tuple(e[0] for e in entries),
        diff_digest=diff,
    )


def _git(args: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCAL_ENV}
    # No index.lock taken (safe next to a running git), no prompts, untranslated messages.
    env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, timeout=_GIT_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(
            f"git {args[0]} in {cwd} did not finish in {_GIT_TIMEOUT} s",
            fix="check the repository (huge untracked directories? add them to .gitignore)",
        ) from exc
    if check and done.returncode != 0:
        raise ConfigError(
            f"git {' '.join(args)} failed in {cwd}: {done.stderr.decode(errors='replace').strip()}",
            fix="run the same git command by hand to see what is wrong with the repository",
        )
    return done


def _git_toplevel(start: Path) -> Path | None:
    try:
        done = _git(["rev-parse", "--show-toplevel"], start, check=False)
    except FileNotFoundError:
        return None  # no git executable: the tree digest still pins the code
    if done.returncode == 0:
        return Path(os.fsdecode(done.stdout.rstrip(b"\n")))
    err = done.stderr.decode(errors="replace").strip()
    if "dubious ownership" in err:
        raise ConfigError(
            f"git refuses the repository at {start}: it is owned by another user",
            fix="run as the owner, or trust it: git config --global --add safe.directory <repo>",
        )
    if "not a git repository" in err:
        return None
    raise ConfigError(
        f"git cannot read the repository at {start}: {err}",
        fix="run `git status` there to see what is wrong",
    )


def _split_z(data: bytes) -> list[bytes]:
    return [p for p in data.split(b"\0") if p]


def _changed_paths(root: Path, *, has_head: bool) -> list[bytes]:
    untracked = _git(["ls-files", "-z", "--others", "--exclude-standard"], root).stdout
    if has_head:
        # HEAD against the work tree: staged and unstaged changes alike, renames as delete+add.
        tracked = _git(
            ["diff", "HEAD", "--name-only", "-z", "--no-renames", "--ignore-submodules=none"], root
        ).stdout
    else:  # no commit yet: everything in the index is new
        tracked = _git(["ls-files", "-z", "--cached"], root).stdout
    return sorted(set(_split_z(tracked)) | set(_split_z(untracked)))


def _describe_path(root: Path, raw: bytes) -> list[str]:
    """``[path, state, value]`` of one changed path, as it is on disk now."""
    text = raw.decode("utf-8", "backslashreplace").rstrip("/")
    full = root / os.fsdecode(raw.rstrip(b"/"))
    try:
        st = full.lstat()
    except FileNotFoundError:
        return [text, "deleted", ""]
    except OSError as exc:
        raise InputError(f"cannot read {full}: {exc.strerror}", fix="fix its permissions") from exc
    if stat.S_ISLNK(st.st_mode):
        return [text, "symlink", os.fsencode(os.readlink(full)).decode("utf-8", "backslashreplace")]
    if stat.S_ISDIR(st.st_mode):  # submodule or nested repository
        sub = _git(["rev-parse", "--verify", "-q", "HEAD"], full, check=False)
        if sub.returncode == 0:
            return [text, "repo", sub.stdout.decode().strip()]
        return [text, "directory", str(hash_path(full))]
    mode = "100755" if st.st_mode & stat.S_IXUSR else "100644"
    return [text, mode, hash_file(full).hex]


def _remote_url(root: Path) -> str | None:
    names = _git(["remote"], root, check=False).stdout.decode(errors="replace").split()
    if not names:
        return None
    name = "origin" if "origin" in names else sorted(names)[0]
    done = _git(["remote", "get-url", name], root, check=False)
    url = done.stdout.decode(errors="replace").strip()
    return strip_url_credentials(url) if done.returncode == 0 and url else None
