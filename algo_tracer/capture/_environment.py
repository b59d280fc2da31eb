"""`capture_environment` (private: import from `algo_tracer.capture`)."""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from algo_tracer.capture._snapshots import (
    EnvironmentSnapshot,
    GpuInfo,
    HardwareInfo,
    PlatformInfo,
    PythonInfo,
)
from algo_tracer.errors import InputError
from algo_tracer.hashing import hash_file

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
