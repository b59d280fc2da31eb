"""Verification through the result cache: sealed experiments verified once, then served.

    >>> from algo_tracer.verify.cached import CachedVerifier
    >>> from algo_tracer.verify.result_cache import ResultCache
    >>> verifier = CachedVerifier(algorand, ResultCache(directory=Path("cache")))
    >>> outcome = verifier.verify(app_id, "Gma81QVh...", timeout=30)       # doctest: +SKIP
    >>> outcome.report.ok, outcome.source, outcome.checked_round           # doctest: +SKIP

`verify` answers, in order:

1. The network is named by its genesis hash, asked of algod at most every `genesis_ttl` seconds
   (1 s by default; 0 asks on every call). It is part of the key: a reset LocalNet or another
   network never gets another's entry.
2. A cached result of a sealed experiment is returned (`source="cache"`) with the round it
   holds through (`checked_round`). When it was last checked `revalidate_after` seconds ago or
   more (or comes from disk), a re-check starts in the background: only notes with the
   experiment's prefix landing after `checked_round` can change a sealed experiment's report
   (step 5 of docs/verification.md), so one Indexer query over the rounds since decides. None:
   the entry now holds through the current round. Some: the experiment is verified again in
   full and the new report replaces the entry. The Indexer down or behind: the entry stays as
   it is, its `checked_round` saying how far it goes.
4. Otherwise `verify_experiment` runs (`"computed"`), at most once at a time per key: callers
   arriving meanwhile wait for the same run (`"shared"`). Open experiments are verified again in
   full on every call (not incrementally) and never stored.

Every report returned was made by `verify_experiment`; nothing here judges the chain itself.
"""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Literal

from algokit_utils import AlgorandClient

from algo_tracer.documents.manifest import Manifest
from algo_tracer.errors import AlgoTracerError, NetworkError
from algo_tracer.format.claim_notes import claim_note_prefix
from algo_tracer.format.ids import format_id, parse_id
from algo_tracer.format.notes import experiment_note_prefix
from algo_tracer.network.algod import genesis, last_round
from algo_tracer.network.indexer import iter_transactions, wait_for_indexer
from algo_tracer.verify.experiment import verify_experiment
from algo_tracer.verify.report import VerificationReport
from algo_tracer.verify.reproductions import attach_reproductions
from algo_tracer.verify.result_cache import CachedResult, CacheKey, ResultCache
from algo_tracer.verify.single_flight import Busy, SingleFlight

__all__ = ["Busy", "CachedVerifier", "StillRunning", "VerifyOutcome"]

type Source = Literal["computed", "shared", "cache"]


class StillRunning(AlgoTracerError):
    """The verification did not finish within the caller's time limit; it goes on, and its
    result is cached for the next call (sealed experiments)."""

    def __init__(self, seconds: float, retry_after: int) -> None:
        super().__init__(f"the verification did not finish within {seconds:g} s; it goes on "
                         "in the background", fix=f"retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class VerifyOutcome:
    report: VerificationReport
    source: Source  # computed now, shared with a concurrent call, or from the cache
    key: CacheKey
    checked_round: int  # the chain is checked through this round (report.data_round or later)
    checked_at: float  # time.time() of that check


@dataclass
class _Fresh:
    entry: CachedResult
    checked_at: float  # monotonic


class CachedVerifier:
    """`verify_experiment` behind a `ResultCache`, single-flight, with bounded concurrency."""

    def __init__(self, algorand: AlgorandClient, cache: ResultCache | None = None, *,
                 indexer_timeout: float = 20.0, max_running: int = 4,
                 revalidate_after: float = 30.0, genesis_ttl: float = 1.0,
                 retry_after: int = 5) -> None:
        self.algorand = algorand
        self.cache = cache if cache is not None else ResultCache()
        self.indexer_timeout = indexer_timeout
        self.revalidate_after = revalidate_after
        self.genesis_ttl = genesis_ttl
        self.retry_after = retry_after
        self.flights: SingleFlight[VerifyOutcome] = SingleFlight(max_running,
                                                                 retry_after=retry_after)
        self._genesis: tuple[str, float] | None = None  # (hash, monotonic time read)
        self._fresh: dict[CacheKey, _Fresh] = {}  # when each entry was last checked
        self._lock = threading.Lock()
        self._genesis_lock = threading.Lock()

    def genesis_hash(self) -> str:
        now = time.monotonic()
        with self._lock:
            known = self._genesis
        if known is not None and now - known[1] < self.genesis_ttl:
            return known[0]
        with self._genesis_lock:  # one caller asks algod; the others wait for its answer
            with self._lock:
                known = self._genesis
            if known is not None and known[1] >= now:
                return known[0]  # asked meanwhile, after this call began
            value = genesis(self.algorand)[1]
            with self._lock:
                self._genesis = (value, time.monotonic())
            return value

    def peek(self, app_id: int, experiment_id: bytes) -> VerifyOutcome | None:
        """`verify`'s answer when it needs no I/O at all (a known network and an entry in
        memory), else None: the fast path of a server under a crowd. A re-check due is
        started in the background, as by `verify`."""
        with self._lock:
            known = self._genesis
        age = time.monotonic() - known[1] if known is not None else None
        if known is None or age is None or age >= self.genesis_ttl:
            return None
        if age >= 0.5 * self.genesis_ttl:
            self._refresh_genesis_soon()  # so that a crowd never waits for algod
        key = CacheKey.of(known[0], app_id, format_id(experiment_id))
        entry = self.cache.get(key, memory_only=True)
        if entry is None:
            return None
        self._recheck_if_due(key, experiment_id, entry, None)
        return self._outcome(key, entry, "cache")

    def _refresh_genesis_soon(self) -> None:
        if not self._genesis_lock.acquire(blocking=False):
            return  # a refresh is under way

        def refresh() -> None:
            asked = time.monotonic()  # the answer is at least this fresh
            try:
                value = genesis(self.algorand)[1]
            except NetworkError:
                return  # the next lookup past the TTL asks again, and answers network_down
            finally:
                self._genesis_lock.release()
            with self._lock:
                self._genesis = (value, asked)

        threading.Thread(target=refresh, name="algo-tracer-genesis", daemon=True).start()

    def verify(self, app_id: int, experiment_id: bytes | str, *, timeout: float | None = None,
               manifest: Manifest | None = None, recheck_first: bool = False) -> VerifyOutcome:
        """The report of one experiment, from the cache when it may be used (module doc).

        `manifest` is verified with (and its digest is part of the key); `recheck_first` waits
        for the re-check of an entry due for one instead of answering with it at once (the
        command line: one answer, the freshest).

        Raises:
            InputError: a malformed experiment id.
            Busy: `max_running` verifications already run (retry after `retry_after` s).
            StillRunning: not finished within `timeout` seconds (it goes on in the background).
            NetworkError, ConfigError: as `verify_experiment`.
        """
        eid = experiment_id if isinstance(experiment_id, bytes) else parse_id(experiment_id)
        inputs = "" if manifest is None else "manifest=sha256:" + hashlib.sha256(
            manifest.model_dump_json().encode()).hexdigest()
        key = CacheKey.of(self.genesis_hash(), app_id, format_id(eid), inputs)
        entry = self.cache.get(key)
        if entry is not None:
            recheck = self._recheck_if_due(key, eid, entry, manifest)
            if recheck is not None and recheck_first:
                return recheck.result(timeout=timeout)
            return self._outcome(key, entry, "cache")
        future, started = self.flights.submit(key, lambda: self._compute(key, eid, None,
                                                                          manifest))
        try:
            outcome = future.result(timeout=timeout)
        except FutureTimeout as exc:
            raise StillRunning(timeout or 0, self.retry_after) from exc
        if started or outcome.source == "cache":
            return outcome
        return VerifyOutcome(outcome.report, "shared", key, outcome.checked_round,
                             outcome.checked_at)

    def _recheck_if_due(self, key: CacheKey, eid: bytes, entry: CachedResult,
                        manifest: Manifest | None) -> Future[VerifyOutcome] | None:
        with self._lock:
            fresh = self._fresh.get(key)
        if (fresh is not None and fresh.entry is entry
                and time.monotonic() - fresh.checked_at < self.revalidate_after):
            return None
        # Due (or read from disk): re-check in the background; callers get the entry as far
        # as it goes meanwhile.
        try:
            return self.flights.submit(key, lambda: self._compute(key, eid, entry, manifest))[0]
        except Busy:
            return None

    def _compute(self, key: CacheKey, eid: bytes, entry: CachedResult | None,
                 manifest: Manifest | None) -> VerifyOutcome:
        if entry is not None:
            try:
                current = self._recheck(eid, entry)
            except NetworkError:
                # The rounds after checked_round cannot be read now: the entry stands as far as
                # it goes (its checked_round says so) until they can.
                return self._outcome(key, entry, "cache")
            if current is not None:
                return self._outcome(key, current, "cache")
        report = verify_experiment(self.algorand, key.app_id, eid, manifest=manifest,
                                   indexer_timeout=self.indexer_timeout)
        # Step 15, as `algo-tracer verify` does: the reproductions found from it alone.
        attach_reproductions(self.algorand, report, indexer_timeout=self.indexer_timeout)
        checked = report.data_round or 0
        if report.sealed and report.owner is not None and report.genesis_hash == key.genesis_hash:
            # The report names the network it read: stored under that network's key only.
            stored = CachedResult.of(key, report, checked)
            self.cache.put(key, stored)
            self._checked(key, stored)
        return VerifyOutcome(report, "computed", key, checked, time.time())

    def _recheck(self, eid: bytes, entry: CachedResult) -> CachedResult | None:
        """The entry extended to the current round, or None when notes landed since."""
        now = last_round(self.algorand)
        if now > entry.checked_round:
            indexer = wait_for_indexer(self.algorand, now, timeout=self.indexer_timeout)
            # Notes under its prefix (step 5), or a reproduction's claim under its id (step 15).
            for prefix in (experiment_note_prefix(eid), claim_note_prefix(eid)):
                later = iter_transactions(indexer, note_prefix=prefix,
                                          min_round=entry.checked_round + 1, max_round=now)
                if next(later, None) is not None:
                    return None
        current = entry.model_copy(update={"checked_round": max(now, entry.checked_round)})
        self.cache.put(entry.key, current)
        self._checked(entry.key, current)
        return current

    def _checked(self, key: CacheKey, entry: CachedResult) -> None:
        with self._lock:
            self._fresh[key] = _Fresh(entry, time.monotonic())
            if len(self._fresh) > 4 * self.cache.max_entries:  # bounded with the cache
                for stale in list(self._fresh)[: len(self._fresh) // 2]:
                    del self._fresh[stale]

    def _outcome(self, key: CacheKey, entry: CachedResult, source: Source) -> VerifyOutcome:
        with self._lock:
            fresh = self._fresh.get(key)
        at = time.time() - (time.monotonic() - fresh.checked_at) if fresh else time.time()
        return VerifyOutcome(entry.report, source, key, entry.checked_round, at)

    def close(self) -> None:
        self.flights.close()
