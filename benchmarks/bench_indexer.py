"""How far the Indexer trails algod on LocalNet: after an idle period, and after a burst.

    python -m benchmarks.run [--quick] --only indexer

Verification waits until the Indexer has the round it needs (`algo_tracer.network.indexer
.wait_for_round`), so this lag is part of the time from "written" to "verifiable".

* `indexer_idle_start_latency_s`: one 0-ALGO payment sent after a quiet period: the benchmark
  waits (at most 90 s) until algod has made no round for 30 s (10 s with --quick), and records
  the quiet period it got (`time-since-last-round`); the figure is the time from the payment's
  confirmation until the Indexer's `/health` round reaches its round. run.py runs this group
  before any other network benchmark.
* `indexer_lag_s_after_1000_tx`: 1,000 0-ALGO payments sent back to back (LocalNet
  DevMode makes one round per transaction, so 1,000 rounds); the time from the last one's
  confirmation until the Indexer's health round reaches its confirmed round. Baseline: the same
  lag for a single transaction on a warm pipeline, measured just before the burst.

The Indexer's health round is polled every 10 ms (the resolution of these figures).
"""

from __future__ import annotations

import time
from typing import Any

from algosdk import transaction

from benchmarks.bench_tracing import Context, figure, wait_for

GROUP = "indexer"
POLL = 0.01
CHUNK = 200
QUIET_S = 30.0  # the quiet period wanted before the idle-start transaction (quick: a third)
QUIET_WAIT_MAX_S = 90.0  # how long to wait for it on a network other people are using


def _lag(ctx: Context, account: Any, n: int, tag: str) -> dict[str, Any]:
    """Send `n` payments back to back; seconds from the last one's confirmation to the Indexer.

    They are signed in chunks of 200 just before sending, with fresh suggested params: in DevMode
    every transaction is a round, so 1,000 pre-signed ones would outlive their validity window.
    """
    algod, indexer = ctx.algorand.client.algod, ctx.algorand.client.indexer
    started = time.perf_counter()
    last = None
    for chunk in range(0, n, CHUNK):
        params = algod.suggested_params()
        for i in range(chunk, min(n, chunk + CHUNK)):
            last = transaction.PaymentTxn(account.address, params, account.address, 0,
                                          note=f"algotrace-bench:{tag}:{i}".encode()
                                          ).sign(account.private_key)
            algod.send_transaction(last)
    sent = time.perf_counter()
    assert last is not None
    info = transaction.wait_for_confirmation(algod, last.get_txid(), 10)
    confirmed = time.perf_counter()
    target = int(info["confirmed-round"])
    reached = wait_for(lambda: int(indexer.health().get("round", -1)) >= target, timeout=300,
                       poll=POLL, what=f"the Indexer to reach round {target}")
    return {"transactions": n, "send_s": round(sent - started, 3),
            "confirmed_round": target, "lag_s": reached - confirmed,
            "send_to_indexed_s": round(reached - started, 3)}


def _wait_for_quiet(algod: Any, quiet_s: float, max_wait_s: float) -> tuple[float, int]:
    """Wait (bounded) until algod has made no round for `quiet_s`; (seconds waited, quiet ns)."""
    started = time.perf_counter()
    while True:
        quiet_ns = int(algod.status().get("time-since-last-round", 0))
        waited = time.perf_counter() - started
        if quiet_ns >= quiet_s * 1e9 or waited >= max_wait_s:
            return waited, quiet_ns
        time.sleep(min(1.0, max(0.05, quiet_s - quiet_ns / 1e9)))


def run(ctx: Context) -> dict[str, dict[str, Any]]:
    algod = ctx.algorand.client.algod
    dispenser = ctx.algorand.account.localnet_dispenser()  # a KMD lookup, no transaction
    quiet_wanted = QUIET_S / 3 if ctx.quick else QUIET_S
    waited, idle_ns = _wait_for_quiet(algod, quiet_wanted, QUIET_WAIT_MAX_S)
    idle = _lag(ctx, dispenser, 1, "idle")
    account = ctx.funded_account()
    warm = [_lag(ctx, account, 1, f"warm{i}") for i in range(5)]
    warm_lag = sorted(w["lag_s"] for w in warm)[len(warm) // 2]
    burst = _lag(ctx, account, 1_000, "burst")
    return {
        "indexer_idle_start_latency_s": figure(
            ctx, GROUP, value=round(idle["lag_s"], 3),
            unit="s from confirmation to Indexer health round, first txn after a quiet period",
            baseline=f"warm single txn: {warm_lag:.3f} s", target=None, passed=None,
            details={"quiet_period_before_s": round(idle_ns / 1e9, 1),
                     "quiet_period_wanted_s": quiet_wanted,
                     "waited_for_quiet_s": round(waited, 1),
                     "note": "a 0-ALGO self-payment of the LocalNet dispenser; other users of "
                             "the shared LocalNet can keep the quiet period shorter than "
                             "wanted", **idle}),
        "indexer_lag_s_after_1000_tx": figure(
            ctx, GROUP, value=round(burst["lag_s"], 3),
            unit="s from the last txn's confirmation to Indexer health round",
            baseline=f"warm single txn: {warm_lag:.3f} s", target=None, passed=None,
            details={**burst, "rounds": burst["transactions"],
                     "transactions_per_s_sent": round(burst["transactions"] / burst["send_s"]),
                     "warm_single_lags_s": [round(w["lag_s"], 3) for w in warm],
                     "slow_single_lags": sum(w["lag_s"] > 1 for w in warm),
                     "note": "a single transaction's lag is bimodal: hundredths of a second "
                             "while the follower node is syncing, seconds when it arrives "
                             "while the follower waits for its next periodic sync; the "
                             "baseline is the median of the warm singles"}),
    }
