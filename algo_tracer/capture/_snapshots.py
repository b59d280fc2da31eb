"""The snapshot models and their digests (private: import from `algo_tracer.capture`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from algo_tracer.errors import InputError, describe_validation
from algo_tracer.hashing import JSON_SCHEME_V1, Digest, hash_json

#: Domain tags of the snapshot digests under JSON scheme v1; scheme v2's are ``algotrace/v2/...``
#: (`hashing.json_tag`, docs/hashing.md §13).
#: Domain tag of `EnvironmentSnapshot.digest` (digest kind ``environment``).
ENVIRONMENT_DOMAIN = "algotrace/v1/environment"
#: Domain tag of `CodeSnapshot.digest` (digest kind ``code``).
CODE_DOMAIN = "algotrace/v1/code"
#: Domain tag of `CodeSnapshot.diff_digest` (digest kind ``code-changes``).
CODE_CHANGES_DOMAIN = "algotrace/v1/code-changes"

_FROZEN = ConfigDict(frozen=True, extra="forbid")
Sha256Text = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]


class _Snapshot(BaseModel):
    model_config = _FROZEN

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Parse `model_dump_json` output, raising InputError (not a pydantic error)."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise InputError(
                f"not a valid {cls.__name__}: {describe_validation(exc.errors(), limit=1)}",
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

    def digest(self, scheme: int = JSON_SCHEME_V1) -> Digest:
        """``hash_json("environment", digest_material(), scheme)``: under v1
        ``SHA-256("algotrace/v1/environment" || 0x00 || canonical_json(digest_material()))``, under
        v2 the RFC 8785 text under ``algotrace/v2/environment`` (docs/hashing.md §12-13)."""
        return hash_json("environment", self.digest_material(), scheme)


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

    def digest(self, scheme: int = JSON_SCHEME_V1) -> Digest:
        """``hash_json("code", digest_material(), scheme)`` (v1: ``algotrace/v1/code`` over
        canonical JSON; v2: ``algotrace/v2/code`` over RFC 8785)."""
        return hash_json("code", self.digest_material(), scheme)
