"""Seed every random number generator in reach and switch frameworks to deterministic kernels.

Example:
    >>> from algo_tracer.seeding import seed_everything
    >>> report = seed_everything(42)
    >>> report.seed, "python.random" in report.seeded
    (42, True)
    >>> report.switches["env.PYTHONHASHSEED"]
    '42'
    >>> str(report.digest())[:7]
    'sha256:'

The returned `SeedReport` is the seed stage of an experiment: it states what was seeded and which
determinism switches were set, and `SeedReport.digest` goes on chain.

Two things a function cannot do, and which the report therefore states instead of hiding:

* Change the hash seed of the running interpreter. ``PYTHONHASHSEED`` is read once at start;
  setting it here only affects child processes (data-loader workers, subprocesses). The report
  gives the value this process started with in `SeedReport.process_hash_seed`.
* Seed generators made before the call, or ``numpy.random.default_rng()`` generators made
  without a seed: pass the seed to them explicitly (``np.random.default_rng(seed)``).
"""

from __future__ import annotations

import importlib
import importlib.util
import operator
import os
import random
import sys
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict

from algo_tracer.errors import InputError
from algo_tracer.hashing import JSON_SCHEME_V1, Digest, hash_json

__all__ = ["CUBLAS_WORKSPACE_CONFIG", "MAX_SEED", "SEED_DOMAIN", "SeedReport", "seed_everything"]

#: Domain tag of `SeedReport.digest` (digest kind ``seed``) under JSON scheme v1; v2's is
#: ``algotrace/v2/seed`` (`hashing.json_tag`).
SEED_DOMAIN = "algotrace/v1/seed"
#: Exclusive upper bound of a seed: numpy's legacy global RNG takes 32-bit seeds.
MAX_SEED = 2**32
#: The cuBLAS workspace setting that makes cuBLAS deterministic (documented by NVIDIA and torch).
CUBLAS_WORKSPACE_CONFIG = ":4096:8"
_CUBLAS_DETERMINISTIC = (":4096:8", ":16:8")
# os.environ is a copy of the environment made at interpreter start; read it when this module is
# first imported, before seed_everything changes it.
_STARTUP_HASH_SEED = os.environ.get("PYTHONHASHSEED")

Switch = bool | int | str


class SeedReport(BaseModel):
    """What `seed_everything` did: the seed stage of an experiment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int
    deterministic: bool
    """Whether deterministic algorithms were requested."""
    strict: bool
    """Whether torch raises (instead of warning) on an operation without a deterministic kernel."""
    seeded: tuple[str, ...]
    """Generators seeded: ``python.random``, ``numpy``, ``torch``, ``tensorflow``."""
    switches: dict[str, Switch]
    """Every switch set, by dotted name: ``env.PYTHONHASHSEED``, ``torch.backends.cudnn...``."""
    versions: dict[str, str] = {}
    """Versions of the seeded libraries (informational; the environment stage pins them)."""
    skipped: dict[str, str] = {}
    """Optional libraries not seeded, and why (``not installed``, ``import failed: ...``)."""
    process_hash_seed: str | None = None
    """``PYTHONHASHSEED`` this interpreter started with; None means str hashing is randomised."""
    notes: tuple[str, ...] = ()
    """Warnings about determinism that the call could not ensure."""

    def digest_material(self) -> dict[str, Any]:
        """What `digest` covers: seed, mode, seeded generators and switches.

        Versions, skip reasons, notes and the process hash seed are informational (they describe
        the host, which the environment stage records).
        """
        return {
            "seed": self.seed,
            "deterministic": self.deterministic,
            "strict": self.strict,
            "seeded": list(self.seeded),
            "switches": dict(self.switches),
        }

    def digest(self, scheme: int = JSON_SCHEME_V1) -> Digest:
        """``hash_json("seed", digest_material(), scheme)`` (v1: ``algotrace/v1/seed`` over
        canonical JSON; v2: ``algotrace/v2/seed`` over RFC 8785)."""
        return hash_json("seed", self.digest_material(), scheme)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool):
        raise InputError(
            f"seed must be an integer, got the bool {seed!r}", fix="pass an int such as 42"
        )
    try:
        value = operator.index(seed)
    except TypeError:
        raise InputError(
            f"seed must be an integer, got {type(seed).__name__} {seed!r:.40}",
            fix="pass an int such as 42 (convert floats or strings with int(...))",
        ) from None
    if not 0 <= value < MAX_SEED:
        raise InputError(
            f"seed {value} is outside 0 .. 2**32 - 1",
            fix="numpy's global RNG takes 32-bit seeds; use e.g. seed % 2**32",
        )
    return value


def _optional_import(name: str, skipped: dict[str, str]) -> ModuleType | None:
    """The module if it is installed and imports; else None with the reason in `skipped`."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    try:
        if importlib.util.find_spec(name) is None:
            skipped[name] = "not installed"
            return None
        return importlib.import_module(name)
    except Exception as exc:  # broken installs raise anything (OSError from CUDA libraries, ...)
        skipped[name] = f"import failed: {type(exc).__name__}: {exc}"[:200]
        return None


def seed_everything(seed: int, *, deterministic: bool = True, strict: bool = False) -> SeedReport:
    """Seed `random`, numpy, torch and TensorFlow, and ask for deterministic kernels.

    Steps, each recorded in the report:

    1. ``os.environ["PYTHONHASHSEED"] = str(seed)``: for child processes only (see module doc).
    2. With `deterministic`, ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` unless already ``:4096:8`` or
       ``:16:8``. It must be set before CUDA starts; a note says so if torch already started it.
    3. ``random.seed(seed)``.
    4. numpy, if installed: ``numpy.random.seed(seed)`` (the legacy global generator).
    5. torch, if installed: ``torch.manual_seed`` (CPU and every device) and
       ``torch.cuda.manual_seed_all``. With `deterministic`, also
       ``torch.use_deterministic_algorithms(True, warn_only=not strict)``,
       ``cudnn.deterministic = True`` and ``cudnn.benchmark = False``. By default
       (``strict=False``) an operation with no deterministic kernel warns instead of stopping
       training, and the report records ``warn_only=True``. Pass ``strict=True`` to turn those
       warnings into errors, so that a run that completes was deterministic.
    6. TensorFlow, if installed: ``tf.random.set_seed``. With `deterministic`, also
       ``tf.config.experimental.enable_op_determinism()`` (or ``TF_DETERMINISTIC_OPS=1`` on
       TensorFlow versions before 2.8).

    Installed optional libraries are imported so that they are seeded even if the training code
    imports them later. The import is skipped, with a reason, when it fails. JAX has no global
    generator: pass ``jax.random.key(seed)`` yourself.

    Args:
        seed: An int in ``0 .. 2**32 - 1`` (numpy integers are accepted; bool is not).
        deterministic: Also set the determinism switches (steps 2, 5 and 6). With False, the
            call only seeds and leaves the switches as they are.
        strict: torch raises on operations without a deterministic kernel (needs `deterministic`).

    Returns:
        The `SeedReport` to record as the seed stage.

    Raises:
        InputError: For a seed that is not an int in range, or ``strict`` without
            ``deterministic``.
    """
    seed = _check_seed(seed)
    if strict and not deterministic:
        raise InputError(
            "strict=True only applies to deterministic mode",
            fix="pass deterministic=True, or drop strict=True",
        )
    seeded: list[str] = []
    switches: dict[str, Switch] = {}
    versions: dict[str, str] = {}
    skipped: dict[str, str] = {}
    notes: list[str] = []

    # (1) + (2): environment first, so that libraries imported below already see it.
    os.environ["PYTHONHASHSEED"] = str(seed)
    switches["env.PYTHONHASHSEED"] = str(seed)
    if str(seed) != _STARTUP_HASH_SEED:
        started = "unset" if _STARTUP_HASH_SEED is None else f"= {_STARTUP_HASH_SEED}"
        notes.append(
            f"this process started with PYTHONHASHSEED {started}, so str/bytes hashing (set "
            f"iteration order) here does not follow the seed; launch with "
            f"PYTHONHASHSEED={seed} to make it so"
        )
    if deterministic:
        if os.environ.get("CUBLAS_WORKSPACE_CONFIG") not in _CUBLAS_DETERMINISTIC:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE_CONFIG
        switches["env.CUBLAS_WORKSPACE_CONFIG"] = os.environ["CUBLAS_WORKSPACE_CONFIG"]

    # (3)
    random.seed(seed)
    seeded.append("python.random")

    # (4)
    np = _optional_import("numpy", skipped)
    if np is not None:
        np.random.seed(seed)
        seeded.append("numpy")
        versions["numpy"] = str(getattr(np, "__version__", "unknown"))

    # (5)
    torch = _optional_import("torch", skipped)
    if torch is not None:
        _seed_torch(torch, seed, deterministic, strict, switches, notes)
        seeded.append("torch")
        versions["torch"] = str(getattr(torch, "__version__", "unknown"))

    # (6)
    tf = _optional_import("tensorflow", skipped)
    if tf is not None:
        tf.random.set_seed(seed)
        seeded.append("tensorflow")
        versions["tensorflow"] = str(getattr(tf, "__version__", "unknown"))
        if deterministic:
            enable = getattr(tf.config.experimental, "enable_op_determinism", None)
            if enable is not None:
                enable()
                switches["tensorflow.config.experimental.enable_op_determinism"] = True
            else:
                os.environ["TF_DETERMINISTIC_OPS"] = "1"
                switches["env.TF_DETERMINISTIC_OPS"] = "1"

    return SeedReport(
        seed=seed,
        deterministic=deterministic,
        strict=strict,
        seeded=tuple(seeded),
        switches=switches,
        versions=versions,
        skipped=skipped,
        process_hash_seed=_STARTUP_HASH_SEED,
        notes=tuple(notes),
    )


def _seed_torch(
    torch: Any,
    seed: int,
    deterministic: bool,
    strict: bool,
    switches: dict[str, Switch],
    notes: list[str],
) -> None:
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)  # queued until CUDA starts; harmless without a GPU
    if not deterministic:
        return
    torch.use_deterministic_algorithms(True, warn_only=not strict)
    switches["torch.use_deterministic_algorithms"] = True
    switches["torch.use_deterministic_algorithms.warn_only"] = not strict
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    switches["torch.backends.cudnn.deterministic"] = True
    switches["torch.backends.cudnn.benchmark"] = False
    is_initialized = getattr(torch.cuda, "is_initialized", None)
    if is_initialized is not None and is_initialized():
        notes.append(
            "CUDA was already initialised, so CUBLAS_WORKSPACE_CONFIG may not apply to this "
            "process; call seed_everything before any CUDA work"
        )
