"""Verification speed: `verify_experiment` on an experiment with many note records.

    python -m benchmarks.run [--quick] --only verify

Traces one experiment through the library (20 box stages, then 10,000 `log_metric` records on
the note path, sealed, manifest written), waits until the Indexer has every round (not timed),
then times `algo_tracer.verify.verify_experiment(algorand, app_id, id, manifest=...)`: boxes from
algod, events, registry calls and note transactions from the Indexer, and every check of
docs/verification.md. The Indexer client's page requests are counted and timed by wrapping its
methods on the instance the verifier uses. The baseline is the time the same verifier spends in
Indexer requests alone (what any reader of the notes must pay); if the target is missed, a
cProfile of one more verification is attached to `details`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from algo_tracer.network.indexer import wait_for_round
from algo_tracer.verify.experiment import verify_experiment
from benchmarks.bench_tracing import Context, figure, top_functions

GROUP = "verify"
TARGET = 5_000


class _Counter:
    """Counts and times the calls made through an Indexer client's methods."""

    def __init__(self, indexer: Any, names: tuple[str, ...]) -> None:
        self.indexer = indexer
        self.names = names
        self.calls: dict[str, int] = dict.fromkeys(names, 0)
        self.seconds: dict[str, float] = dict.fromkeys(names, 0.0)

    def __enter__(self) -> _Counter:
        for name in self.names:
            setattr(self.indexer, name, self._wrap(name, getattr(self.indexer, name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.names:
            delattr(self.indexer, name)  # back to the class's method

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def counted(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.calls[name] += 1
                self.seconds[name] += time.perf_counter() - started
        return counted


def run(ctx: Context) -> dict[str, dict[str, Any]]:
    n_records = 3_000 if ctx.quick else 10_000
    n_stages = 20
    tracer = ctx.tracer()
    started = time.perf_counter()
    with tracer.experiment("bench-verify", output_dir=ctx.workdir / "runs" / "verify") as exp:
        for i in range(n_stages):
            exp.trace_params({"stage": i}, name=f"p{i:02}")
        for i in range(n_records // 2):
            exp.log_metric("loss", 1.0 / (i + 1), step=i)
            exp.log_metric("accuracy", 1.0 - 1.0 / (i + 2), step=i)
    summary = exp.summary
    traced_s = time.perf_counter() - started
    algorand = tracer.settings.algorand
    algod, indexer = algorand.client.algod, algorand.client.indexer
    wait_for_round(indexer, int(algod.status()["last-round"]), algod=algod, timeout=120)

    def verify() -> Any:
        return verify_experiment(algorand, summary.app_id, summary.experiment_id,
                                 manifest=summary.manifest_path)

    names = ("search_transactions", "application_logs", "health")
    with _Counter(indexer, names) as counter:
        started = time.perf_counter()
        report = verify()
        elapsed = time.perf_counter() - started
    if not report.ok or report.counts.note_records != n_records:
        raise SystemExit("verification of the benchmark experiment failed: "
                         + "; ".join(report.failures()))
    rps = n_records / elapsed
    indexer_s = sum(counter.seconds.values())
    details: dict[str, Any] = {
        "note_records": n_records, "box_stages": report.counts.stages,
        "note_transactions": report.counts.note_transactions,
        "anchors": report.counts.anchors,
        "verify_s": round(elapsed, 3),
        "indexer_pages_fetched": counter.calls["search_transactions"]
        + counter.calls["application_logs"],
        "indexer_requests": dict(counter.calls),
        "indexer_request_s": round(indexer_s, 3),
        "outside_indexer_s": round(elapsed - indexer_s, 3),
        "trace_and_seal_s": round(traced_s, 2),
    }
    if rps < TARGET:
        details["profile_top"] = top_functions(verify, 15)
    return {"verify_records_per_s": figure(
        ctx, GROUP, value=round(rps), unit="note records/s (verify_experiment, wall)",
        baseline=f"its Indexer requests alone: {n_records / indexer_s:,.0f} records/s "
                 f"({indexer_s:.2f} s)",
        target=f">= {TARGET}", passed=rps >= TARGET, details=details)}
