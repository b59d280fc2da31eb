"""A cache of verification results of sealed experiments: bounded in memory, optionally on disk.

    >>> from algo_tracer.verify.result_cache import CacheKey, ResultCache
    >>> cache = ResultCache(max_entries=256, directory=Path("~/.cache/algo-tracer/results"))
    >>> key = CacheKey.of(genesis_hash, app_id, experiment_id)              # doctest: +SKIP
    >>> cache.get(key)                          # a CachedResult, or None    # doctest: +SKIP

What the cache may assume (docs/web.md section 7): a sealed experiment's stages, batches and seal
cannot change, so its report changes only through notes carrying the experiment's prefix that
land after the round it was checked at (step 5 of docs/verification.md). Each entry therefore
records `checked_round`, the round through which the chain was checked, and
`algo_tracer.verify.cached` re-checks the rounds after it before trusting an entry past its
freshness window. Only results of sealed experiments are stored: an open experiment can still
grow. The key holds everything else the result depends on (network, app, experiment, the
verifier's version and inputs), and an entry read from disk is used only if its own copy of the
key equals the one asked for, so a file of another network is never served.

Pure: no network access; `cached` does the asking.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from algo_tracer.errors import ConfigError
from algo_tracer.verify.report import VerificationReport

__all__ = ["CACHE_FORMAT", "CacheKey", "CachedResult", "ResultCache", "default_cache_dir"]

CACHE_FORMAT = "algo-tracer-result-cache/v1"
# A report made by another verifier version may check differently: it is not reused. (The
# installed distribution's version: importing the root package would pull in the write path.)
VERIFIER = f"algo-tracer {importlib.metadata.version('algo-tracer')}, algo-tracer-report/v1"


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/algo-tracer/results`, else `~/.cache/algo-tracer/results`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "algo-tracer" / "results"


@dataclass(frozen=True)
class CacheKey:
    """What a verification result depends on, besides the chain itself."""

    genesis_hash: str  # the network: a reset LocalNet or another network never shares entries
    app_id: int
    experiment_id: str  # base58
    inputs: str = ""  # e.g. "manifest=sha256:<hex>" when verified with a manifest
    verifier: str = VERIFIER

    @classmethod
    def of(cls, genesis_hash: str, app_id: int, experiment_id: str, inputs: str = "") -> CacheKey:
        if not genesis_hash:
            raise ValueError("a cache key needs the network's genesis hash")
        return cls(genesis_hash, app_id, experiment_id, inputs)

    def file_name(self) -> str:
        text = json.dumps([self.genesis_hash, self.app_id, self.experiment_id, self.inputs,
                           self.verifier])
        return hashlib.sha256(text.encode()).hexdigest() + ".json"


class CachedResult(BaseModel):
    """One cached result, as stored on disk (the key travels with it)."""

    format: Literal["algo-tracer-result-cache/v1"] = "algo-tracer-result-cache/v1"
    genesis_hash: str
    app_id: int
    experiment_id: str
    inputs: str
    verifier: str
    checked_round: int  # nothing up to this round changes the report
    report: VerificationReport

    @property
    def key(self) -> CacheKey:
        return CacheKey(self.genesis_hash, self.app_id, self.experiment_id, self.inputs,
                        self.verifier)

    @classmethod
    def of(cls, key: CacheKey, report: VerificationReport, checked_round: int) -> CachedResult:
        return cls(genesis_hash=key.genesis_hash, app_id=key.app_id,
                   experiment_id=key.experiment_id, inputs=key.inputs, verifier=key.verifier,
                   checked_round=checked_round, report=report)


class ResultCache:
    """Results of sealed experiments by `CacheKey`: an LRU of `max_entries` in memory, and one
    JSON file per entry under `directory` when given (so a restart does not recompute).

    Thread-safe. A disk file that does not parse, or whose key differs from the one asked for,
    is ignored (and replaced on the next store).
    """

    def __init__(self, max_entries: int = 256, directory: Path | None = None) -> None:
        if max_entries < 1:
            raise ConfigError(f"the result cache needs room for at least 1 entry, not "
                              f"{max_entries}", fix="give a positive number of entries")
        self.max_entries = max_entries
        self.directory = directory.expanduser() if directory is not None else None
        if self.directory is not None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"cannot create the result cache directory {self.directory}: "
                                  f"{exc.strerror}", fix="give a writable directory") from exc
        self._memory: OrderedDict[CacheKey, CachedResult] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._memory)

    def get(self, key: CacheKey, *, memory_only: bool = False) -> CachedResult | None:
        """The entry of `key`, from memory, else from disk (unless `memory_only`)."""
        with self._lock:
            entry = self._memory.get(key)
            if entry is not None:
                self._memory.move_to_end(key)
                return entry
        if memory_only:
            return None
        entry = self._read(key)
        if entry is not None:
            self._remember(key, entry)
        return entry

    def put(self, key: CacheKey, entry: CachedResult) -> None:
        if entry.key != key:
            raise ValueError("a cache entry is stored under its own key only")
        if not entry.report.sealed or entry.report.owner is None:
            raise ValueError("only results of sealed experiments are cached")
        self._remember(key, entry)
        if self.directory is not None:
            path = self.directory / key.file_name()
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                tmp.write_text(entry.model_dump_json())
                tmp.replace(path)  # atomic: a reader sees the old file or the new one
            except OSError:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                # A full or read-only disk costs a recomputation after a restart, nothing more.

    def _remember(self, key: CacheKey, entry: CachedResult) -> None:
        with self._lock:
            self._memory[key] = entry
            self._memory.move_to_end(key)
            while len(self._memory) > self.max_entries:
                self._memory.popitem(last=False)

    def _read(self, key: CacheKey) -> CachedResult | None:
        if self.directory is None:
            return None
        try:
            entry = CachedResult.model_validate_json(
                (self.directory / key.file_name()).read_bytes())
        except (OSError, ValidationError, ValueError):
            return None
        # The file name is a digest of the key; the stored key must still equal it.
        if entry.key != key or not entry.report.sealed or entry.report.owner is None:
            return None
        return entry
