"""The result cache and the cached verifier, offline: keys, bounds, disk, single-flight, limits.

`verify_experiment` and the Indexer look-ups are replaced by fakes of our own functions (the
chain is tests/localnet/test_web_cache.py's business); algod is a stand-in answering
`/versions` with a genesis hash the test switches, as a reset LocalNet would.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from algo_tracer.errors import ConfigError
from algo_tracer.format.ids import format_id
from algo_tracer.verify import cached
from algo_tracer.verify.cached import Busy, CachedVerifier, StillRunning
from algo_tracer.verify.report import VerificationReport
from algo_tracer.verify.result_cache import CachedResult, CacheKey, ResultCache

EID = bytes(range(32))
OTHER_EID = bytes(range(1, 33))


def report(genesis_hash: str, *, sealed: bool = True, app_id: int = 7, eid: bytes = EID,
           records: int = 0, data_round: int = 100) -> VerificationReport:
    r = VerificationReport(experiment_id=format_id(eid), app_id=app_id, genesis_id="net",
                           genesis_hash=genesis_hash, source="network", owner="OWNER",
                           sealed=sealed, data_round=data_round)
    r.counts.note_records = records
    return r.finalize()


class FakeChain:
    """algod's genesis (switchable) and a counting stand-in for `verify_experiment`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, delay: float = 0.0,
                 sealed: bool = True) -> None:
        self.genesis_hash, self.delay, self.sealed = "genesis-A", delay, sealed
        self.calls: list[tuple[str, int, bytes]] = []
        self.records = 0
        self.last_round = 100
        self.notes_after: list[int] = []  # rounds of notes with the experiment's prefix
        self.algorand: Any = SimpleNamespace(client=SimpleNamespace(algod=SimpleNamespace(
            versions=lambda: {"genesis_id": "net", "genesis_hash_b64": self.genesis_hash})))
        monkeypatch.setattr(cached, "verify_experiment", self.verify)
        # No reproduction claims on this chain: step 15 leaves the report as it is.
        monkeypatch.setattr(cached, "attach_reproductions", lambda _a, report, **_k: report)
        monkeypatch.setattr(cached, "last_round", lambda _a: self.last_round)
        monkeypatch.setattr(cached, "wait_for_indexer", lambda *_a, **_k: None)
        monkeypatch.setattr(cached, "iter_transactions", self.notes)

    def verify(self, _algorand: Any, app_id: int, eid: bytes, **_: Any) -> VerificationReport:
        self.calls.append((self.genesis_hash, app_id, eid))
        time.sleep(self.delay)
        return report(self.genesis_hash, sealed=self.sealed, app_id=app_id, eid=eid,
                      records=self.records, data_round=self.last_round)

    def notes(self, _indexer: Any, *, min_round: int, max_round: int, **_: Any) -> Any:
        return iter([{"round": r} for r in self.notes_after if min_round <= r <= max_round])


def verifier(chain: FakeChain, cache: ResultCache | None = None, **kw: Any) -> CachedVerifier:
    kw.setdefault("genesis_ttl", 0)
    return CachedVerifier(chain.algorand, cache or ResultCache(), **kw)


def test_a_sealed_result_is_computed_once_then_served_from_the_cache(
        monkeypatch: pytest.MonkeyPatch) -> None:
    chain = FakeChain(monkeypatch)
    v = verifier(chain)

    first, second = v.verify(7, EID), v.verify(7, format_id(EID))

    assert (first.source, second.source) == ("computed", "cache")
    assert second.report is first.report and len(chain.calls) == 1


def test_another_genesis_hash_never_gets_the_entry_of_the_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    chain = FakeChain(monkeypatch)
    v = verifier(chain)
    before = v.verify(7, EID)

    chain.genesis_hash = "genesis-B"  # the LocalNet was reset: same app and experiment ids
    after = v.verify(7, EID)

    assert after.source == "computed" and after.report.genesis_hash == "genesis-B"
    assert before.report.genesis_hash == "genesis-A"
    assert [c[0] for c in chain.calls] == ["genesis-A", "genesis-B"]
    chain.genesis_hash = "genesis-A"
    assert v.verify(7, EID).report is before.report  # each network keeps its own entry


def test_another_app_or_experiment_never_gets_the_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = FakeChain(monkeypatch)
    v = verifier(chain)
    v.verify(7, EID)

    assert v.verify(8, EID).source == "computed"
    assert v.verify(7, OTHER_EID).source == "computed"
    assert len(chain.calls) == 3


def test_an_open_experiment_is_verified_again_on_every_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    chain = FakeChain(monkeypatch, sealed=False)
    v = verifier(chain)
    chain.records = 10
    first = v.verify(7, EID)
    chain.records = 25  # records landed meanwhile
    second = v.verify(7, EID)

    assert (first.source, second.source) == ("computed", "computed")
    assert (first.report.counts.note_records, second.report.counts.note_records) == (10, 25)
    assert len(v.cache) == 0


def test_concurrent_identical_requests_share_one_computation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    chain = FakeChain(monkeypatch, delay=0.5)
    v = verifier(chain)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(v.verify(7, EID).source))
               for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(chain.calls) == 1 and v.flights.started == 1
    assert sorted(results) == ["computed"] + ["shared"] * 19


def test_past_the_limit_of_running_verifications_the_answer_is_busy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    chain = FakeChain(monkeypatch, delay=1.0)
    v = verifier(chain, max_running=1, retry_after=3)
    slow = threading.Thread(target=v.verify, args=(7, EID))
    slow.start()
    time.sleep(0.2)

    with pytest.raises(Busy) as busy:
        v.verify(7, OTHER_EID)
    slow.join()

    assert busy.value.retry_after == 3 and "retry in 3 s" in str(busy.value)
    assert v.verify(7, OTHER_EID).source == "computed"  # a slot is free again


def test_a_slow_verification_answers_still_running_and_finishes_into_the_cache(
        monkeypatch: pytest.MonkeyPatch) -> None:
    chain = FakeChain(monkeypatch, delay=0.6)
    v = verifier(chain)

    with pytest.raises(StillRunning):
        v.verify(7, EID, timeout=0.1)
    time.sleep(0.8)

    assert v.verify(7, EID).source == "cache" and len(chain.calls) == 1


def test_a_stale_entry_is_rechecked_and_kept_while_no_note_landed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    chain = FakeChain(monkeypatch)
    v = verifier(chain, revalidate_after=0)
    v.verify(7, EID)
    chain.last_round = 150

    rechecked = v.verify(7, EID, recheck_first=True)

    assert rechecked.source == "cache" and rechecked.checked_round == 150
    assert len(chain.calls) == 1


def test_a_note_landed_after_the_check_makes_the_entry_computed_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    chain = FakeChain(monkeypatch)
    v = verifier(chain, revalidate_after=0)
    v.verify(7, EID)
    chain.last_round, chain.notes_after = 150, [120]  # an owner note after the seal

    again = v.verify(7, EID, recheck_first=True)

    assert again.source == "computed" and len(chain.calls) == 2
    assert again.report.data_round == 150


def test_the_memory_cache_is_bounded() -> None:
    cache = ResultCache(max_entries=2)
    keys = [CacheKey.of("g", 7, format_id(bytes([i]) * 32)) for i in range(3)]
    for key in keys:
        cache.put(key, CachedResult.of(key, report("g"), 100))

    assert len(cache) == 2 and cache.get(keys[0]) is None and cache.get(keys[2]) is not None


def test_only_sealed_results_are_stored() -> None:
    key = CacheKey.of("g", 7, format_id(EID))
    with pytest.raises(ValueError, match="sealed"):
        ResultCache().put(key, CachedResult.of(key, report("g", sealed=False), 100))


def test_disk_entries_survive_a_restart_and_never_cross_networks(tmp_path: Path) -> None:
    a, b = (CacheKey.of(g, 7, format_id(EID)) for g in ("genesis-A", "genesis-B"))
    ResultCache(directory=tmp_path).put(a, CachedResult.of(a, report("genesis-A"), 100))

    restarted = ResultCache(directory=tmp_path)
    entry = restarted.get(a)
    assert entry is not None and entry.report.genesis_hash == "genesis-A"
    assert restarted.get(b) is None
    # A file of network A under B's name (copied, renamed) is still not B's entry.
    (tmp_path / b.file_name()).write_bytes((tmp_path / a.file_name()).read_bytes())
    assert ResultCache(directory=tmp_path).get(b) is None
    (tmp_path / a.file_name()).write_text("{not json")
    assert ResultCache(directory=tmp_path).get(a) is None


def test_a_cache_directory_that_cannot_be_made_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot create the result cache directory"):
        ResultCache(directory=blocker / "results")


def test_the_server_answers_a_cached_lookup_without_routing_it_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import httpx

    from algo_tracer.web import app as web_app

    chain = FakeChain(monkeypatch)
    app = web_app.create_app(chain.algorand, default_app_id=7)
    app.state.verifier.genesis_ttl = 3600  # the stand-in algod answers once
    path = f"/api/apps/7/experiments/{format_id(EID)}"

    async def get(*paths: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as http:
            return [await http.get(p) for p in paths]

    computed, cached_ = asyncio.run(get(path, path))

    ready = web_app._ready_answer
    answered: list[bool] = []

    def counted(*args: Any) -> bytes | None:
        body = ready(*args)
        answered.append(body is not None)
        return body

    monkeypatch.setattr(web_app, "_ready_answer", counted)  # what the middleware calls
    fast, other_page = asyncio.run(get(path, path + "?batch_offset=0&batch_limit=100"))
    # Another page is not ready yet: routed, and made from the cached result in memory.
    page7, invalid = asyncio.run(get(path + "?batch_limit=7", path + "?batch_limit=0"))

    assert (computed.json()["cache"], cached_.json()["cache"]) == ("computed", "cache")
    assert fast.status_code == other_page.status_code == 200
    assert fast.content == cached_.content == other_page.content
    assert fast.headers["content-security-policy"] == cached_.headers["content-security-policy"]
    assert answered == [True, True, False, False]  # answered before routing, then routed
    assert page7.json()["cache"] == "cache" and page7.json()["batch_limit"] == 7
    assert invalid.status_code == 422 and invalid.json()["state"] == "invalid_input"
    assert len(chain.calls) == 1
    app.state.verifier.close()
