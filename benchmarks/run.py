"""Run every benchmark: `python -m benchmarks.run [--quick] [--only GROUP ...]`.

Writes benchmarks/results/latest.json and docs/benchmarks.md. latest.json maps each figure's
name to

    {"value", "unit", "baseline", "target", "pass", "command", "details", "machine", "measured"}

where `baseline` was measured in the same run, `pass` is true / false ("short") / null (the
issue sets no target, or, with a target, the machine's noise is larger than the target so the
figure cannot decide it), `command` reproduces the figure, `machine` is the static description of
the computer and `measured` says when, in which mode, at which commit and under which load
average (`os.getloadavg()` before and after its group) it was measured. With `--only`, the
groups run are merged into the existing latest.json and the Markdown is regenerated from it.

Groups, in the order they run (the network is touched first by `indexer`, so that its idle-start
figure sees the longest quiet period this run can give it):

| group | module | needs |
|---|---|---|
| hashing | benchmarks/bench_hashing.py | nothing |
| indexer | benchmarks/bench_indexer.py | LocalNet (algod, Indexer) |
| contract_costs | benchmarks/bench_contract_costs.py | LocalNet |
| tracing | benchmarks/bench_tracing.py | LocalNet |
| verify | benchmarks/bench_verify.py | LocalNet + Indexer |
| overhead | benchmarks/bench_overhead.py | LocalNet, MLflow |
| study | benchmarks/bench_study.py | LocalNet, Optuna |
| realtime | benchmarks/bench_realtime.py | realtime LocalNet (`--block-time real`) |
| web | benchmarks/bench_web.py | LocalNet + Indexer (`algo-tracer serve` under load) |
| ipfs_cid | benchmarks/bench_ipfs_cid.py | nothing (kubo as baseline: `ALGO_TRACER_IPFS_BIN`) |

These are measurements, not tests: nothing here fails a build. The exit status is 0 when every
figure with a target meets it, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
DOC = ROOT / "docs" / "benchmarks.md"

Runner = Callable[[Any], dict[str, dict[str, Any]]]


# -- groups ---------------------------------------------------------------------------------------

def _hashing(ctx: Any) -> dict[str, dict[str, Any]]:
    from benchmarks import bench_hashing

    out = {}
    for name in ("file_hash_vs_hashlib", "file_hash_extra_rss_mib", "directory_vs_naive",
                 "dataframe_hash_speedup_vs_csv"):
        out[name] = bench_hashing.FIGURES[name](ctx.quick, ctx.workdir)
        out[name]["command"] = ctx.command("hashing")
    return out


def _contract_costs(ctx: Any) -> dict[str, dict[str, Any]]:
    from benchmarks import bench_contract_costs

    measured = bench_contract_costs.measure(bench_contract_costs._connect())
    out = {}
    for name in ("box_stage_microalgos", "anchor_batch_per_record_microalgos"):
        fig = dict(measured[name])
        fig["baseline"] = f"docs/onchain-format.md + note-format.md at the minimum fee: " \
                          f"{fig['baseline']:,}"
        fig["target"] = f"<= {fig['target']:,}"
        fig["command"] = ctx.command("contract_costs")
        fig["details"] = {k: v["value"] for k, v in measured.items()}
        out[name] = fig
    return out


def _module(name: str) -> Runner:
    def run(ctx: Any) -> dict[str, dict[str, Any]]:
        import importlib

        return importlib.import_module(f"benchmarks.{name}").run(ctx)
    return run


GROUPS: dict[str, Runner] = {
    "hashing": _hashing,
    "indexer": _module("bench_indexer"),
    "contract_costs": _contract_costs,
    "tracing": _module("bench_tracing"),
    "verify": _module("bench_verify"),
    "overhead": _module("bench_overhead"),
    "study": _module("bench_study"),
    "realtime": _module("bench_realtime"),
    "web": _module("bench_web"),
    "ipfs_cid": _module("bench_ipfs_cid"),
}

#: Headline order and a one-line method note for the Markdown (details stay in latest.json).
ORDER: dict[str, str] = {
    "file_hash_vs_hashlib": "hash_file vs hashlib.file_digest on one file, warm page cache, best "
                            "of 5 interleaved runs",
    "file_hash_extra_rss_mib": "peak RSS above baseline while hashing a sparse file, fresh "
                               "process each",
    "directory_vs_naive": "10,000 small files: hash_directory vs os.walk + read + sha256",
    "dataframe_hash_speedup_vs_csv": "hash_dataframe vs sorted columns + to_csv + sha256",
    "log_metric_overhead_vs_mlflow": "Experiment.log_metric vs mlflow.log_metric (SQLite "
                                     "store), interleaved chunks, median per call",
    "training_overhead_pct": "examples/training_loop.py train(): log=Experiment.log_metric vs "
                             "log=None, interleaved, best runs",
    "training_overhead_cpu_pct": "same traced runs, attributed: CPU inside log_metric + "
                                 "writer thread CPU during the loop, over the untraced "
                                 "training thread's CPU (writer work that falls after the "
                                 "loop, in finish(), is not counted)",
    "note_path_records_per_s": "log_metric x N until the writer has every record in a "
                               "confirmed anchor group",
    "note_path_microalgos_per_record": "WriterStats fees of the anchor groups / records "
                                       "(create and seal excluded, in details)",
    "private_path_microalgos_per_record": "private_metrics=True, 10,000 records, fees / records",
    "study_trial_overhead_s": "traced Optuna study (traced(study, objective)) vs the same "
                              "untraced study, 20 trials, seeded TPE, best of 2 alternating "
                              "runs, per trial",
    "study_trial_overhead_cpu_s": "the same runs, process CPU time (training, Optuna and "
                                  "writer threads), traced - untraced, per trial",
    "study_trial_transactions": "transactions of one traced study / trials (its own writes "
                                "included), counted from the journal",
    "study_trial_microalgos": "minimum fees + box deposits of one traced study / trials (its "
                              "own writes included), counted from the journal",
    "box_path_records_per_s": "trace_params x N (one box stage each) until all confirmed",
    "box_path_microalgos_per_record": "WriterStats fees + box deposits / stages",
    "note_path_speedup_vs_one_txn_per_record": "note path records/s vs one JSON-note 0-ALGO "
                                               "payment per record (best of sync / pipelined)",
    "note_path_cost_vs_one_txn_per_record": "note path fees per record vs 1 txn fee per record",
    "box_stage_microalgos": "one record_stage group inside a page: fees + deposit, from algod",
    "anchor_batch_per_record_microalgos": "one full anchor_batch note group / its records",
    "verify_records_per_s": "verify_experiment on 10,000 note records + 20 box stages, "
                            "manifest given, Indexer caught up first",
    "realtime_note_path_records_per_s": "realtime LocalNet (DevMode off): log_metric x N until "
                                        "all confirmed, pipelined writer vs 1 group in flight",
    "realtime_note_path_microalgos_per_record": "realtime LocalNet: writer fees / records, "
                                                "pipelined vs sequential",
    "realtime_box_stages_per_block": "realtime LocalNet: trace_params x 16, stages per "
                                     "confirming round, pipelined vs sequential",
    "realtime_exit_latency_blocks": "realtime LocalNet: the demo's 8 stages + 20 records, "
                                    "rounds from the last call to the seal",
    "realtime_log_metric_stall_s": "realtime LocalNet: log_metric paced at 2,000/s for 120 s, "
                                   "time blocked in back-pressure",
    "web_cached_p95_ms": "algo-tracer serve on loopback: 200 clients, 2,000 lookups of one "
                         "sealed experiment after its first (uncached, the baseline) "
                         "verification",
    "ipfs_cid_vs_kubo_throughput": "cid_of_file vs kubo `ipfs add --only-hash --cid-version 1 "
                                   "-Q` (fresh process each) on one 1 GiB file, warm cache, "
                                   "best of 3 interleaved",
    "ipfs_cid_vs_sha256_throughput": "cid_of_file vs hash_file (SHA-256) on the same file, "
                                     "same runs",
    "ipfs_cid_extra_rss_mib": "VmHWM - VmRSS of a fresh process computing the CID, high-water "
                              "mark reset after imports (kubo's whole-process peak RSS as the "
                              "baseline)",
    "indexer_idle_start_latency_s": "first txn after a quiet period: confirmation to Indexer "
                                    "health round",
    "indexer_lag_s_after_1000_tx": "1,000 txns back to back: last confirmation to Indexer "
                                   "health round",
}


# -- machine --------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    mem = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem,
            "python": platform.python_version(), "platform": platform.platform()}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "algo_tracer",
                                "smart_contracts", "benchmarks", "examples"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+local-changes" if dirty else "")


# -- Markdown -------------------------------------------------------------------------------------

def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:,.4g}"
    return str(value)


def _mark(passed: bool | None, target: str | None) -> str:
    if passed is None:
        return "— (no target)" if target is None else "not resolved (noise above target)"
    return "pass" if passed else "**short**"


def headline_table(results: dict[str, dict[str, Any]], *, with_command: bool = True) -> str:
    head = "| figure | value | unit | baseline | target | result | load 1m |"
    rule = "|---|---:|---|---|---|---|---:|"
    if with_command:
        head += " command |"
        rule += "---|"
    lines = [head, rule]
    for name in sorted(results, key=lambda n: list(ORDER).index(n) if n in ORDER else 99):
        r = results[name]
        load = r.get("measured", {}).get("load_average_before") or [None]
        row = (f"| `{name}` | {_show(r['value'])} | {r['unit']} | {_show(r['baseline'])} | "
               f"{_show(r['target'])} | {_mark(r['pass'], r['target'])} | {_show(load[0])} |")
        if with_command:
            row += f" `{r['command']}` |"
        lines.append(row)
    return "\n".join(lines)


def _detail_lines(details: Any) -> list[str]:
    if not isinstance(details, dict):
        return [f"  - {details}"]
    out = []
    for key, value in details.items():
        if isinstance(value, list) and value and isinstance(value[0], str) and len(value) > 3:
            out.append(f"  - {key}:")
            out += [f"    - `{v}`" for v in value]
        else:
            out.append(f"  - {key}: {json.dumps(value, ensure_ascii=False)}")
    return out


def markdown(results: dict[str, dict[str, Any]]) -> str:
    runs = sorted({json.dumps(r["measured"], sort_keys=True) for r in results.values()
                   if "measured" in r})
    measured = [json.loads(x) for x in runs]
    dates = sorted(m["date"][:16].replace("T", " ") for m in measured)
    modes = sorted({"quick" if m["quick"] else "full" for m in measured})
    commits = sorted({str(m.get("commit")) for m in measured})
    mach = next(iter(results.values())).get("machine", {})
    shorts = [n for n, r in results.items() if r["pass"] is False]
    unresolved = [n for n, r in results.items() if r["pass"] is None and r["target"]]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m benchmarks.run` (this file and "
        "`benchmarks/results/latest.json`; do not edit by hand). Every figure's baseline was "
        "measured in the same run, on the same machine, right next to it, except the two "
        "contract-cost figures, whose baseline is the cost docs/onchain-format.md and "
        "docs/note-format.md predict at the minimum fee. These are measurements, not tests: "
        "no test asserts on a timing.",
        "",
        f"Mode: {', '.join(modes)}. Measured: {dates[0]} to {dates[-1]} UTC. Code: "
        f"{', '.join(commits)}.",
        "",
        "## Headline",
        "",
        headline_table(results),
        "",
        "*result*: **short** means the target was missed; *load 1m* is the 1-minute load "
        "average when the figure's group started (the machine has "
        f"{mach.get('cores')} cores; above that, other work was competing for the CPU and "
        "timings are pessimistic).",
        "",
        "## Machine",
        "",
        f"* CPU: {mach.get('cpu')}, {mach.get('cores')} cores; memory "
        f"{mach.get('memory_gib')} GiB",
        f"* Python {mach.get('python')}, {mach.get('platform')}",
        "* Network: the shared native LocalNet (algod DevMode, follower node, conduit, Indexer "
        "on PostgreSQL) on the same machine; DevMode makes one round per submitted group.",
        "* Load average (1, 5, 15 min) per group, before → after:",
    ]
    groups: dict[str, dict[str, Any]] = {}
    for r in results.values():
        m = r.get("measured", {})
        groups.setdefault(m.get("group", "?"), m)
    for group, m in groups.items():
        lines.append(f"  * {group}: {m.get('load_average_before')} → "
                     f"{m.get('load_average_after')} ({m.get('group_seconds')} s, "
                     f"{m.get('date', '')[:16]})")
    lines += ["", "## Targets missed or not resolved", ""]
    for name in shorts + unresolved:
        r = results[name]
        verdict = "missed" if r["pass"] is False else (
            "not resolved: the spread of its own baseline runs "
            f"({r['details'].get('untraced_runs_spread_pct')} %) is larger than the target")
        lines.append(f"* `{name}`: {_show(r['value'])} ({r['unit']}), target {r['target']}, "
                     f"{verdict}. "
                     + SHORT_NOTES.get(name, lambda r: "See its details below.")(results))
    if not shorts + unresolved:
        lines.append("None in this run.")
    if "realtime_note_path_records_per_s" in results:
        lines += ["", "## The physical ceiling at real block times", "", _ceiling_note(results)]
    if "ipfs_cid_extra_rss_mib" in results:
        lines += ["", "## IPFS content ids", "", _ipfs_note(results)]
    lines += ["", "## Method and details", ""]
    shown: dict[str, str] = {}  # figures of one measurement share their details
    for name in sorted(results, key=lambda n: list(ORDER).index(n) if n in ORDER else 99):
        r = results[name]
        lines.append(f"* `{name}` — {ORDER.get(name, '')}. `{r['command']}`")
        key = json.dumps(r.get("details", {}), sort_keys=True)
        if key in shown:
            lines.append(f"  - details: as for `{shown[key]}` above")
            continue
        shown[key] = name
        lines += _detail_lines(r.get("details", {}))
    lines += ["", "Sources: benchmarks/run.py and the bench_*.py modules it calls; their "
              "docstrings give the full method.", ""]
    return "\n".join(lines)


def _ceiling_note(results: dict[str, dict[str, Any]]) -> str:
    """How far the note path is from what the chain itself could carry (realtime figures)."""
    d = results["realtime_note_path_records_per_s"]["details"]["pipelined"]
    per_group = d["records"] / max(d["groups"], 1)
    block_s = d.get("block_time_s") or 3.0
    # One full note group: 15 note payments (<= 1,024-byte notes) + the anchor_batch call; the
    # transaction fields besides the note (sender, receiver, lease, fee, rounds, genesis hash,
    # group id, signature) are estimated at ~250 bytes a payment and ~400 for the call.
    group_bytes = 15 * (1024 + 250) + 400
    block_bytes = 5 * 1024 * 1024  # MaxTxnBytesPerBlock since consensus v33
    groups_per_block = block_bytes // group_bytes
    ceiling = groups_per_block * per_group / block_s
    fee = 16 * 1000 / per_group
    return (
        f"A block carries at most 5 MiB of transactions (`MaxTxnBytesPerBlock`, consensus v33 "
        f"onwards) and comes every ~{block_s} s here (measured; MainNet's dynamic round time is "
        f"~2.8 s). A group holds at most 16 transactions (`MaxTxGroupSize`) and a note at most "
        f"1,024 bytes, so a full note group is the anchor call plus 15 notes, ~{group_bytes:,} "
        f"bytes (estimated), carrying {per_group:,.0f} records in this run. That is about "
        f"{groups_per_block:,} groups per block, i.e. a ceiling near {ceiling:,.0f} records/s "
        f"for one writer's groups if nothing else competed for block space, against "
        f"{d['records_per_s']:,} records/s measured with {d['in_flight']} groups in flight "
        f"({100 * d['records_per_s'] / ceiling:.1f} % of it, at most {d['most_groups_per_block']} "
        f"of our groups in one block). What sets our rate is not the chain but the writer: "
        f"one process prepares, signs and sends the groups, and a group sent after block R is "
        f"known lands in R+2 at the earliest, so the window must cover two blocks of groups. "
        f"The fee floor is 16 x 1,000 µALGO per group = {fee:.1f} µALGO per "
        f"record at the minimum fee; it rises only when the network is congested (fees then "
        f"follow the pool's fee threshold). Raising the window trades more records per block "
        f"against more groups to re-send after a fault; algod's transaction pool "
        f"(`TxPoolSize`, 75,000 transactions by default) is not a limit at these sizes.")


def _ipfs_note(results: dict[str, dict[str, Any]]) -> str:
    d = results["ipfs_cid_extra_rss_mib"]["details"]
    gbps = d["GBps"]
    kubo = (f"kubo's `ipfs add --only-hash --cid-version 1` (v{d['kubo']}, a fresh process "
            f"each run, as a user runs it) reached {gbps['kubo']} GB/s with a peak RSS of "
            f"{d['kubo_peak_rss_mib']} MiB, and printed the same CID "
            f"(`cids_equal`: {d['cids_equal']})" if d.get("kubo_cid") else
            f"kubo was not measured ({d['kubo']})")
    return (f"`cid_of_file` computed the CIDv1 of a {d['file_bytes'] / 2**30:.0f} GiB file at "
            f"{gbps['cid']} GB/s against {gbps['sha256']} GB/s for our SHA-256 file digest "
            f"(`hash_file`) in the same runs; {kubo}. Computing the CID added "
            f"{d['extra_rss_mib']['cid']} MiB to the process's memory (one 256 KiB chunk and "
            f"the pending links of each tree layer), the same as the SHA-256 digest "
            f"({d['extra_rss_mib']['sha256']} MiB). How the CID is computed: docs/ipfs.md.")


def _training_note(results: dict[str, dict[str, Any]]) -> str:
    d = results["training_overhead_pct"]["details"]

    def med(values: list[float]) -> float:
        return sorted(values)[len(values) // 2] if values else float("nan")

    busy = {a: med(v) for a, v in d.get("machine_busy_pct", {}).items()}
    net = {a: med(v) for a, v in d.get("localnet_processes_cpu_s", {}).items()}
    proc = {a: med(d.get(f"{a}_process_cpu_s", [])) for a in ("none", "noop", "traced")}
    thread = {a: med(d.get(f"{a}_thread_cpu_s", [])) for a in ("none", "noop", "traced")}
    cpu = results.get("training_overhead_cpu_pct", {}).get("value")
    return (f"This difference includes more than tracing. `train()`'s MLPClassifier and "
            "its per-epoch `model.score` start BLAS worker threads that keep the second core "
            f"busy: process CPU {proc['noop']:.2f} s against training-thread CPU "
            f"{thread['noop']:.2f} s with a no-op callback, {proc['none']:.2f} s against "
            f"{thread['none']:.2f} s with `log=None`; machine "
            f"busy (median) {busy.get('none')} % for `log=None`, {busy.get('noop')} % no-op, "
            f"{busy.get('traced')} % traced. A no-op callback alone costs "
            f"{d.get('noop_callback_vs_none_wall_pct')} % wall; traced over no-op: "
            f"{d.get('traced_vs_noop_wall_pct')} %. With both cores taken, the background "
            "writer, the LocalNet processes on the same machine (median "
            f"{net.get('traced')} s CPU per traced run, {net.get('none')} s per `log=None` "
            "run, other users' traffic included) and other jobs all compete with the training "
            f"thread. Tracing's own CPU is {cpu} % (`training_overhead_cpu_pct`).")


def _training_cpu_note(results: dict[str, dict[str, Any]]) -> str:
    d = results["training_overhead_cpu_pct"]["details"]
    flush = d.get("writer_flush_profile", {})
    tight = results.get("log_metric_overhead_vs_mlflow", {}).get("details", {}).get(
        "ours_us_per_call")
    per_flush = sorted(flush.get("cpu_ms_per_flush") or [0])[len(flush.get("cpu_ms_per_flush")
                                                                 or [0]) // 2]
    return (f"Per traced run, log_metric took {d.get('traced_log_metric_cpu_s')} s of CPU and "
            f"the background writer thread {d.get('traced_writer_thread_cpu_s')} s. The writer "
            "flushes a partly filled note group every `flush_interval` (2 s of wall time) "
            "while a slow loop trickles records in (2 per epoch here), and each such flush "
            "costs about "
            f"{per_flush} ms of CPU (median of {len(flush.get('cpu_ms_per_flush') or [])}, "
            "`writer_flush_profile` in the details): most of it building the anchor call "
            "through algokit-utils (its ARC-56 method lookup runs `dataclasses.asdict` and "
            "`deepcopy` over the app spec on every call), then signing and HTTP. The busier "
            "the machine, the more wall-clock flushes fall into the same training CPU time. "
            f"log_metric itself took {tight} µs per call (wall) in a tight loop "
            "(`log_metric_overhead_vs_mlflow`) and more between training steps (cold caches); "
            "its SQLite INSERT and the record's validation dominate it.")


def _exit_latency_note(results: dict[str, dict[str, Any]]) -> str:
    d = results["realtime_exit_latency_blocks"]["details"]
    p, s = d["pipelined"], d["sequential"]
    return (f"{p['blocks']} blocks pipelined against {s['blocks']} sequential. The seal goes "
            "right behind the last writes (contract method `seal_after`, which refuses until "
            "the stage and anchor counts it names have landed, and manifest format v2, whose "
            "sealed digest leaves out rounds and transaction ids), so sealing costs no "
            "confirmation of its own. What remains is the writes' own latency: a group sent "
            "after block R is known misses R+1, which the proposer is already assembling, so "
            "the last call's writes land in R+2 at the earliest, and the rounds are counted "
            "from algod's last round at the call, which may already be a block old. Before "
            "this change (manifest v1, a seal signed only after every write was confirmed) it "
            "was 6 blocks.")


def _note_rate_note(results: dict[str, dict[str, Any]]) -> str:
    d = results["realtime_note_path_records_per_s"]["details"]
    sus, burst = d.get("sustained", d["pipelined"]), d["pipelined"]
    return (f"{sus['records_per_s']:,} records/s sustained ({sus['records']:,} records, "
            f"{sus['groups']} groups over {sus['rounds_with_groups']} blocks, at most "
            f"{sus['most_groups_per_block']} in one); a burst of {burst['records']:,} records "
            f"(the figure published before) reached {burst['records_per_s']:,} records/s, as "
            "it carries the same fixed wait for the last window's confirmation (~2 blocks) "
            "over a third of the records. The chain took every group in the next block but "
            "one; what limits the rate is the single writer thread's CPU per record (moving "
            "records from the log into the journal and back, validating, encoding notes and "
            "leaves, hashing, signing), which the training loop shares through the GIL on "
            "this 2-core machine.")


SHORT_NOTES: dict[str, Callable[[dict[str, dict[str, Any]]], str]] = {
    "training_overhead_pct": _training_note,
    "training_overhead_cpu_pct": _training_cpu_note,
    "realtime_exit_latency_blocks": _exit_latency_note,
    "realtime_note_path_records_per_s": _note_rate_note,
}


# -- main -----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes (a few minutes instead of about ten)")
    parser.add_argument("--only", choices=list(GROUPS), action="append",
                        help="run only these groups (merged into the existing results)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument("--doc", type=Path, default=DOC, help=f"default {DOC}")
    args = parser.parse_args(argv)

    from benchmarks.bench_tracing import Context

    names = [g for g in GROUPS if not args.only or g in args.only]
    static = machine()
    commit = _commit()
    results: dict[str, dict[str, Any]] = {}
    if args.only and args.out.exists():
        results = json.loads(args.out.read_text(encoding="utf-8"))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="algo-tracer-bench-") as tmp:
        ctx = Context(args.quick, Path(tmp))
        for group in names:
            load, t0 = _load(), time.perf_counter()
            date = datetime.now(UTC).isoformat(timespec="seconds")
            print(f"[{group}] load {load} ...", file=sys.stderr, flush=True)
            figures = GROUPS[group](ctx)
            measured = {"group": group, "date": date, "quick": args.quick, "commit": commit,
                        "load_average_before": load, "load_average_after": _load(),
                        "group_seconds": round(time.perf_counter() - t0, 1)}
            for name, fig in figures.items():
                results[name] = {**fig, "machine": static, "measured": measured}
                print(f"  {name}: {_show(fig['value'])} {fig['unit']} -> "
                      f"{_mark(fig['pass'], fig['target'])}", file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    # docs/benchmarks.md is the table of latest.json: a run written elsewhere (--out, e.g. the
    # web group's own file) leaves it alone unless --doc names another file.
    doc = args.doc if args.out.resolve() == RESULTS.resolve() or args.doc != DOC else None
    if doc is not None:
        doc.write_text(markdown(results), encoding="utf-8")
    print(headline_table(results, with_command=False))
    print(f"\n{len(names)} groups in {time.perf_counter() - started:.0f} s; written "
          f"{args.out}{f' and {doc}' if doc else ''}", file=sys.stderr)
    return 0 if all(r["pass"] is not False for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
