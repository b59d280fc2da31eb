"""Write-path benchmarks at real block times: the pipelined writer against the sequential one.

    python -m benchmarks.run [--quick] --only realtime

It runs on the realtime LocalNet profile (`algo-tracer localnet start --block-time real`: DevMode
off, a block every ~3 s), starting it first if it is not running (and stopping it after).

Every figure is measured twice in the same run on the realtime LocalNet profile (DevMode off, one
node holding all stake, blocks at the consensus pace): with the writer as shipped (up to
`MAX_IN_FLIGHT` groups in flight) and, as the baseline, with the same writer limited to one group
in flight (`max_in_flight = 1`: send, wait for the confirmation, send the next, which is what the
writer did before pipelining). The measured block time (mean interval of the rounds the run spanned,
from the block timestamps, which have 1-second resolution) is reported with each figure.

- realtime_note_path_records_per_s: log_metric x 180,000 as fast as the loop goes, until every
  record is in a confirmed anchor group (the sustained rate; `details.pipelined` is the same for
  a burst of 60,000, the figure published before, against the sequential baseline);
- realtime_note_path_microalgos_per_record: the writer's fees for those groups / records;
- realtime_box_stages_per_block: trace_params x 16, stages confirmed per round that had any;
- realtime_exit_latency_blocks: the demo experiment's shape (8 stages, 20 note records): rounds
  from the last call to the seal's round;
- realtime_log_metric_stall_s: log_metric paced at 2,000 records/s for 2 minutes (30 s with
  --quick): time spent blocked in back-pressure.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from algo_tracer import NetworkError, StageKind, Tracer
from algo_tracer.localnet import REALTIME, LocalNet
from algo_tracer.network.algod import last_round as chain_round
from algo_tracer.record.tracer import Experiment
from algo_tracer.record.writer import MAX_IN_FLIGHT, WriterStats
from benchmarks.bench_tracing import Context, figure, wait_for

GROUP = "realtime"
STALL_RATE = 2_000  # records/s the paced loop offers, as the issue sets it


def _tracer(workdir: Path, name: str) -> Tracer:
    return Tracer.from_environment(state_dir=workdir / name / "state",
                                   output_root=workdir / name / "runs")


def _open(tracer: Tracer, workdir: Path, name: str, in_flight: int, **kwargs: Any) -> Experiment:
    exp = tracer.experiment(name, output_dir=workdir / name, **kwargs)
    exp._writer.max_in_flight = in_flight  # private: the same writer, limited for the baseline
    wait_for(lambda: tracer.journal.experiment(exp.id).status != "creating", timeout=120,
             what=f"the create of {name}")
    return exp


def _stats(exp: Experiment) -> WriterStats:
    s = exp._writer.stats  # private: the writer's own accounting
    return replace(s, groups_per_round=dict(s.groups_per_round),
                   stages_per_round=dict(s.stages_per_round))


def _block_time(tracer: Tracer, first: int, last: int) -> float | None:
    """Mean block interval up to round `last`, from the block headers' timestamps.

    Timestamps have 1-second resolution, so the span reaches back at least 40 rounds before
    `first` (where the chain has them) to keep the error near 0.03 s.
    """
    first = max(1, min(first, last - 40))
    if last - first < 2:
        return None
    algod = tracer.settings.algorand.client.algod

    def ts(rnd: int) -> int:
        return int(cast(dict[str, Any], algod.block_info(rnd))["block"]["ts"])

    return round((ts(last) - ts(first)) / (last - first), 2)


def note_path(tracer: Tracer, workdir: Path, in_flight: int, records: int,
              name: str | None = None) -> dict[str, Any]:
    name = name or f"rt-note-{in_flight}"
    exp = _open(tracer, workdir, name, in_flight)
    before = _stats(exp)
    first_round = chain_round(tracer.settings.algorand)
    started = time.perf_counter()
    for i in range(records // 2):
        exp.log_metric("loss", 1.0 / (i + 1), step=i)
        exp.log_metric("accuracy", 1.0 - 1.0 / (i + 2), step=i)
    logged = time.perf_counter()
    exp._background.drain()  # private: every record in a confirmed anchor group
    confirmed = time.perf_counter()
    after = _stats(exp)
    last_round = chain_round(tracer.settings.algorand)
    exp.finish()
    rounds = [r for r in after.groups_per_round if r >= first_round]
    return {"records": records, "in_flight": in_flight, "log_loop_s": round(logged - started, 3),
            "confirmed_s": round(confirmed - started, 3),
            "records_per_s": round(records / (confirmed - started), 1),
            "groups": after.groups - before.groups, "fees": after.fees - before.fees,
            "microalgos_per_record": round((after.fees - before.fees) / records, 3),
            "rounds_with_groups": len(rounds),
            "most_groups_per_block": after.most_groups_per_block(),
            "rounds_spanned": last_round - first_round,
            "block_time_s": _block_time(tracer, first_round, last_round)}


def box_path(tracer: Tracer, workdir: Path, in_flight: int, stages: int) -> dict[str, Any]:
    name = f"rt-box-{in_flight}"
    exp = _open(tracer, workdir, name, in_flight)
    first_round = chain_round(tracer.settings.algorand)
    started = time.perf_counter()
    for i in range(stages):
        exp.trace_params({"stage": i, "lr": 1e-3}, name=f"p{i:04}")
    exp._background.drain()
    confirmed = time.perf_counter()
    per_round = {r: n for r, n in _stats(exp).stages_per_round.items() if r >= first_round}
    last_round = chain_round(tracer.settings.algorand)
    exp.finish()
    return {"stages": stages, "in_flight": in_flight, "confirmed_s": round(confirmed - started, 3),
            "stages_per_round": dict(sorted(per_round.items())),
            "stages_per_block": round(stages / max(len(per_round), 1), 2),
            "block_time_s": _block_time(tracer, first_round, last_round)}


def exit_latency(tracer: Tracer, workdir: Path, in_flight: int) -> dict[str, Any]:
    """The demo experiment's shape: seed, environment, code, two data, params, model and metrics
    stages, 20 per-fold scores on the note path; then the rounds from its last call to the seal."""
    name = f"rt-exit-{in_flight}"
    exp = _open(tracer, workdir, name, in_flight, seed=42)
    exp.trace_environment()
    exp.trace_code(Path(__file__).resolve().parent)
    for i, label in enumerate(("train", "test")):
        exp.trace_digest(StageKind.DATA, label, bytes([i + 1]) * 32)
    exp.trace_params({"C": 1.0, "max_iter": 200})
    for fold in range(20):
        exp.log_metric("cv_accuracy", 0.9 + fold / 1000, step=fold)
    exp.trace_digest(StageKind.MODEL, None, b"\x07" * 32)
    exp.trace_metrics({"accuracy": 0.95})
    last_call_round = chain_round(tracer.settings.algorand)
    started = time.perf_counter()
    summary = exp.finish()
    finished = time.perf_counter()
    seal_round = tracer.journal.experiment(exp.id).seal_round
    assert summary.sealed and seal_round is not None
    return {"in_flight": in_flight, "stages": len(tracer.journal.stages(exp.id)),
            "round_at_last_call": last_call_round, "seal_round": seal_round,
            "blocks": seal_round - last_call_round, "finish_s": round(finished - started, 3),
            "block_time_s": _block_time(tracer, last_call_round, seal_round)}


def log_metric_stall(tracer: Tracer, workdir: Path, in_flight: int,
                     seconds: float) -> dict[str, Any]:
    """log_metric paced at STALL_RATE for `seconds`: time spent in back-pressure (drain)."""
    name = f"rt-stall-{in_flight}"
    exp = _open(tracer, workdir, name, in_flight)
    background = exp._background
    real_drain = background.drain
    stalls: list[float] = []
    deadline = time.perf_counter() + seconds

    def timed_drain(timeout: float | None = None) -> None:
        t0 = time.perf_counter()
        # A baseline that falls behind would block here for many minutes: cap it at what is left
        # of the measured period (the drain then raises NetworkError), and count it all as stall.
        with contextlib.suppress(NetworkError):
            real_drain(timeout=max(deadline - t0, 0.1))
        stalls.append(time.perf_counter() - t0)

    background.drain = timed_drain  # type: ignore[method-assign]  # measurement hook
    first_round = chain_round(tracer.settings.algorand)
    started = time.perf_counter()
    n = 0
    while (now := time.perf_counter()) < deadline:
        due = int((now - started) * STALL_RATE)
        while n < due:
            exp.log_metric("loss", 1.0 / (n + 1), step=n)
            n += 1
        time.sleep(0.001)
    background.drain = real_drain  # type: ignore[method-assign]
    pending = n - exp._writer.batched_upto  # offered, not yet in a journaled batch
    # The measured period is over: let the baseline's backlog (up to ~200,000 records, over half
    # an hour one group at a time) go out with the full window before sealing.
    exp._writer.max_in_flight = MAX_IN_FLIGHT
    exp.finish()
    return {"in_flight": in_flight, "seconds": seconds, "offered_records": n,
            "offered_per_s": round(n / seconds, 1), "stall_s": round(sum(stalls), 3),
            "stalls": len(stalls), "pending_at_end": pending,
            "block_time_s": _block_time(tracer, first_round, chain_round(tracer.settings.algorand))}


def run(ctx: Context) -> dict[str, dict[str, Any]]:
    net = LocalNet(profile=REALTIME, progress=lambda _: None)
    started_here = not net.status().healthy
    if started_here:  # as `algo-tracer localnet start --block-time real`; stopped again after
        net.start()
    saved = {k: os.environ.get(k) for k in REALTIME.environment()}
    os.environ.update(REALTIME.environment())
    os.environ.pop("ALGO_TRACER_APP_ID", None)
    try:
        return _measure(ctx)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if started_here:
            net.stop()


def _measure(ctx: Context) -> dict[str, dict[str, Any]]:
    workdir = ctx.workdir / "realtime"
    tracer = _tracer(workdir, "tracer")
    records = 20_000 if ctx.quick else 60_000
    stall_s = 30.0 if ctx.quick else 120.0
    note = {k: note_path(tracer, workdir, k, records if k > 1 else records // 10)
            for k in (MAX_IN_FLIGHT, 1)}
    # The sustained rate: three times the burst, so that the last window's fixed wait for its
    # confirmation (~2 blocks, in every burst) weighs a third as much.
    sustained = note_path(tracer, workdir, MAX_IN_FLIGHT, 3 * records, name="rt-sustained")
    box = {k: box_path(tracer, workdir, k, 16) for k in (MAX_IN_FLIGHT, 1)}
    exits = {k: exit_latency(tracer, workdir, k) for k in (MAX_IN_FLIGHT, 1)}
    stall = {k: log_metric_stall(tracer, workdir, k, stall_s) for k in (MAX_IN_FLIGHT, 1)}
    p, s = MAX_IN_FLIGHT, 1

    def block(d: dict[int, dict[str, Any]]) -> Any:
        return {f"in_flight_{k}": v.get("block_time_s") for k, v in d.items()}

    out = {
        "realtime_note_path_records_per_s": figure(
            ctx, GROUP, value=sustained["records_per_s"], unit="records/s",
            baseline=f"sequential writer (1 group in flight), same run: "
                     f"{note[s]['records_per_s']:,} records/s",
            target=">= 5,000", passed=sustained["records_per_s"] >= 5_000,
            details={"sustained": sustained, "pipelined": note[p], "sequential": note[s],
                     "block_time_s": block(note)}),
        "realtime_note_path_microalgos_per_record": figure(
            ctx, GROUP, value=note[p]["microalgos_per_record"], unit="µALGO/record",
            baseline=f"sequential writer, same run: {note[s]['microalgos_per_record']}",
            target="unchanged or lower",
            passed=note[p]["microalgos_per_record"] <= note[s]["microalgos_per_record"],
            details={"pipelined_fees": note[p]["fees"], "sequential_fees": note[s]["fees"]}),
        "realtime_box_stages_per_block": figure(
            ctx, GROUP, value=box[p]["stages_per_block"], unit="stages/block",
            baseline=f"sequential writer, same run: {box[s]['stages_per_block']}",
            target=None, passed=None,
            details={"pipelined": box[p], "sequential": box[s], "block_time_s": block(box)}),
        "realtime_exit_latency_blocks": figure(
            ctx, GROUP, value=exits[p]["blocks"], unit="blocks (last call to sealed)",
            baseline=f"sequential writer, same run: {exits[s]['blocks']} blocks",
            target="<= 3", passed=exits[p]["blocks"] <= 3,
            details={"pipelined": exits[p], "sequential": exits[s],
                     "block_time_s": block(exits)}),
        "realtime_log_metric_stall_s": figure(
            ctx, GROUP, value=stall[p]["stall_s"], unit="s blocked in log_metric",
            baseline=f"sequential writer, same run: {stall[s]['stall_s']} s "
                     f"(capped at the measured period)",
            target="0", passed=stall[p]["stall_s"] == 0,
            details={"pipelined": stall[p], "sequential": stall[s],
                     "block_time_s": block(stall)}),
    }
    return out
