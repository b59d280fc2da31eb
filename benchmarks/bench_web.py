"""The verification page under a crowd: `algo-tracer serve` with its result cache (issue 20).

    python -m benchmarks.run [--quick] --only web --out benchmarks/results/web.json

Traces one sealed experiment with many note records (1,000,000; --quick 20,000; the
environment variable BENCH_WEB_RECORDS overrides), waits until the Indexer has every round (not
timed), starts `algo-tracer serve` as its own process on loopback, and then:

1. **uncached** (the baseline, same run): the first lookup of the experiment, which verifies it
   (`verify_experiment` behind the API);
2. **cached**: 2,000 lookups from 200 concurrent clients (keep-alive connections, a small
   asyncio HTTP/1.1 client in this process), after the first computation: latency p50/p95/p99,
   errors (any answer but 200), requests/s, and the server's RSS before and after (VmRSS) and
   its peak (VmHWM) from /proc.

Bounded: at most `REQUESTS` requests, each with a time limit, and the whole load phase with one.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from algo_tracer.network.indexer import wait_for_round
from benchmarks.bench_tracing import Context, figure, wait_for

GROUP = "web"
CLIENTS, REQUESTS = 200, 2_000
TARGET_P95_MS = 100
LOAD_TIMEOUT_S = 300


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _rss_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1])
    return out


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
               path: str) -> tuple[int, int]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status, length


async def _load(port: int, path: str, clients: int, requests: int,
                per_request_s: float = 60) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    left = [requests]
    size = [0]

    async def client() -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            errors.append(f"connect: {exc}")
            return
        try:
            while left[0] > 0:
                left[0] -= 1
                started = time.perf_counter()
                try:
                    status, size[0] = await asyncio.wait_for(_get(reader, writer, path),
                                                            per_request_s)
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    errors.append(type(exc).__name__)
                    return
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(clients))),
                           max(LOAD_TIMEOUT_S, per_request_s))
    wall = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    pick = (lambda q: round(ms[min(len(ms) - 1, int(q * len(ms)))], 1)) if ms else (
        lambda _q: None)
    return {"requests": len(ms), "wall_s": round(wall, 2),
            "requests_per_s": round(len(ms) / wall, 1) if wall else None,
            "p50_ms": pick(0.50), "p95_ms": pick(0.95), "p99_ms": pick(0.99),
            "max_ms": round(ms[-1], 1) if ms else None,
            "mean_ms": round(statistics.fmean(ms), 1) if ms else None,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "errors": len(errors) + sum(v for k, v in statuses.items() if k != 200),
            "transport_errors": errors[:10], "body_bytes": size[0]}


def run(ctx: Context) -> dict[str, dict[str, Any]]:
    n_records = int(os.environ.get("BENCH_WEB_RECORDS") or (20_000 if ctx.quick else 1_000_000))
    reuse = os.environ.get("BENCH_WEB_EXPERIMENT")  # "APP_ID:EXPERIMENT_ID" of an earlier run
    traced_s = None
    if reuse:
        app_text, experiment_id = reuse.split(":")
        app_id = int(app_text)
    else:
        tracer = ctx.tracer()
        started = time.perf_counter()
        with tracer.experiment("bench-web", output_dir=ctx.workdir / "runs" / "web") as exp:
            exp.trace_params({"records": n_records})
            for i in range(n_records):
                exp.log_metric("loss", 1.0 / (i + 1), step=i)
        app_id, experiment_id = exp.summary.app_id, exp.summary.experiment_id
        traced_s = round(time.perf_counter() - started, 1)
        print(f"[web] traced BENCH_WEB_EXPERIMENT={app_id}:{experiment_id} in {traced_s} s",
              file=sys.stderr, flush=True)
    algod, indexer = ctx.algorand.client.algod, ctx.algorand.client.indexer
    wait_for_round(indexer, int(algod.status()["last-round"]), algod=algod, timeout=300)

    port = _free_port()
    path = f"/api/apps/{app_id}/experiments/{experiment_id}"
    env = {**os.environ, "ALGO_TRACER_APP_ID": str(app_id)}
    server = subprocess.Popen(
        [sys.executable, "-m", "algo_tracer.cli", "serve", "--port", str(port),
         "--request-timeout", "600", "--indexer-timeout", "300"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: _answers(port), timeout=60, poll=0.2, what="algo-tracer serve")
        rss_idle = _rss_kib(server.pid)
        t0 = time.perf_counter()
        first = asyncio.run(_load(port, path, 1, 1, per_request_s=600))
        uncached_s = time.perf_counter() - t0
        if first["statuses"] != {"200": 1}:
            raise SystemExit(f"the first lookup failed: {first}")
        check = asyncio.run(_count_records(port, path))
        if check != n_records:
            raise SystemExit(f"the server verified {check} note records, not {n_records}")
        rss_computed = _rss_kib(server.pid)
        cpu_before, load_avg = _cpu_s(server.pid), os.getloadavg()[0]
        load = asyncio.run(_load(port, path, CLIENTS, REQUESTS))
        server_cpu = _cpu_s(server.pid) - cpu_before
        rss_after = _rss_kib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    p95 = load["p95_ms"]
    passed = p95 is not None and p95 < TARGET_P95_MS and load["errors"] == 0 \
        and load["requests"] == REQUESTS
    details: dict[str, Any] = {
        "note_records": n_records, "trace_and_seal_s": traced_s,
        "experiment": f"{app_id}:{experiment_id}",
        "clients": CLIENTS, "requests": REQUESTS, "cached_load": load,
        "uncached_first_lookup_s": round(uncached_s, 2),
        "server_cpu_ms_per_cached_request": round(1000 * server_cpu / max(load["requests"], 1),
                                                  3),
        "load_average_before_load": round(load_avg, 2),
        "server_rss_mib": {"idle": round(rss_idle["VmRSS"] / 1024, 1),
                           "after_first_verification": round(rss_computed["VmRSS"] / 1024, 1),
                           "after_load": round(rss_after["VmRSS"] / 1024, 1),
                           "peak": round(rss_after["VmHWM"] / 1024, 1)},
        "server": "algo-tracer serve (one uvicorn process), client and server on the same "
                  "2-core machine",
    }
    return {"web_cached_p95_ms": figure(
        ctx, GROUP, value=p95, unit=f"ms p95, {REQUESTS:,} lookups from {CLIENTS} clients of a "
        f"sealed {n_records:,}-record experiment, after the first verification",
        baseline=f"the first (uncached) lookup: {uncached_s:.2f} s",
        target=f"< {TARGET_P95_MS} ms and no error", passed=passed, details=details)}


async def _count_records(port: int, path: str) -> int | None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        view = json.loads(await reader.readexactly(length))
    finally:
        writer.close()
    return view["report"]["counts"]["note_records"] if view.get("verified") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
