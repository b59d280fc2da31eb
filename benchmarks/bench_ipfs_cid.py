"""Benchmark of `cid_of_file` (IPFS content ids computed here) against kubo and against SHA-256.

Run ``python -m benchmarks.run --only ipfs_cid [--quick]`` (or ``python -m
benchmarks.bench_ipfs_cid [--quick]``) from the repository root. It writes
``benchmarks/results/ipfs_cid.json``. On one file of random bytes (1 GiB; 256 MiB with
``--quick``) in a temporary directory, deleted after:

* throughput, best of 3 interleaved runs on a warm page cache: `cid_of_file`, kubo's ``ipfs add
  --only-hash --cid-version 1 -Q`` (a fresh process each time, so its start-up is included: the
  way a user runs it), and `hash_file` (our SHA-256 file digest, what tracing computes anyway);
* peak memory: a fresh Python process per mode resets its high-water mark (``/proc/self/
  clear_refs``) after its imports and reports ``VmHWM - VmRSS`` (what computing the CID adds;
  `hash_file` beside it); kubo's whole-process ``ru_maxrss`` (``os.wait4``) as the baseline.
* the CID kubo prints is compared with ours on the same 1 GiB file (``cids_equal``).

kubo is found through ``ALGO_TRACER_IPFS_BIN`` or ``ipfs`` on PATH; without it the kubo figures
are skipped with a message saying so, and the SHA-256 baseline still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from algo_tracer.hashing import hash_file
from algo_tracer.hashing.unixfs import cid_of_file
from benchmarks.bench_hashing import _write_random_file

RESULTS = Path(__file__).parent / "results" / "ipfs_cid.json"
MIB = 1 << 20
GROUP = "ipfs_cid"

_PROBE = r"""
import json, sys
from pathlib import Path
from algo_tracer.hashing import hash_file
from algo_tracer.hashing.unixfs import cid_of_file
def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
mode, path = sys.argv[1], sys.argv[2]
base = status("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # VmHWM from here on: the hashing alone
if mode == "cid":
    cid_of_file(path)
else:
    hash_file(path)
print(json.dumps({"base": base, "peak": status("VmHWM")}))
"""


def ipfs_binary() -> str | None:
    found = os.environ.get("ALGO_TRACER_IPFS_BIN") or shutil.which("ipfs")
    return found if found and os.access(found, os.X_OK) else None


def _peak_rss_mib(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Peak RSS of a fresh process (MiB) and its output."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{argv[0]} failed with exit code {proc.returncode}")
        out.seek(0)
        return usage.ru_maxrss / 1024, out.read().decode().strip()


def measure(quick: bool, workdir: Path, command: str) -> dict[str, dict[str, Any]]:
    size = (256 if quick else 1024) * MIB
    path = workdir / "ipfs-cid.bin"
    _write_random_file(path, size)
    ipfs = ipfs_binary()
    repo = workdir / "ipfs-repo"
    env = {**os.environ, "IPFS_PATH": str(repo)}
    try:
        if ipfs:
            subprocess.run([ipfs, "init", "--profile", "test", "-e"], env=env, check=True,
                           capture_output=True)
        ours_cid = cid_of_file(path)  # also warms the page cache
        runs: dict[str, list[float]] = {"cid": [], "sha256": [], "kubo": []}
        kubo_cid = None
        for _ in range(3):
            t0 = time.perf_counter()
            cid_of_file(path)
            runs["cid"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            hash_file(path)
            runs["sha256"].append(time.perf_counter() - t0)
            if ipfs:
                t0 = time.perf_counter()
                kubo_cid = subprocess.run(
                    [ipfs, "add", "--only-hash", "--cid-version", "1", "-Q", str(path)],
                    env=env, check=True, capture_output=True, text=True).stdout.strip()
                runs["kubo"].append(time.perf_counter() - t0)
        python = [sys.executable, "-c", _PROBE]
        extra_rss = {}
        for mode in ("cid", "sha256"):
            probe = json.loads(_peak_rss_mib([*python, mode, str(path)])[1])
            extra_rss[mode] = (probe["peak"] - probe["base"]) / MIB
        rss: dict[str, float] = {}
        if ipfs:
            rss["kubo"] = _peak_rss_mib(
                [ipfs, "add", "--only-hash", "--cid-version", "1", "-Q", str(path)], env)[0]
    finally:
        path.unlink(missing_ok=True)
        shutil.rmtree(repo, ignore_errors=True)
    gbps = {k: size / min(v) / 1e9 for k, v in runs.items() if v}
    extra = extra_rss["cid"]
    skipped = None if ipfs else ("no kubo binary: set ALGO_TRACER_IPFS_BIN to an `ipfs` "
                                 "binary (or put one on PATH) for the kubo baseline")
    details: dict[str, Any] = {
        "file_bytes": size,
        "GBps": {k: round(v, 3) for k, v in gbps.items()},
        "seconds": {k: [round(x, 3) for x in v] for k, v in runs.items()},
        "extra_rss_mib": {k: round(v, 2) for k, v in extra_rss.items()},
        "kubo_peak_rss_mib": round(rss["kubo"], 1) if ipfs else None,
        "cid": ours_cid,
        "kubo_cid": kubo_cid,
        "cids_equal": None if kubo_cid is None else kubo_cid == ours_cid,
        "kubo": skipped or subprocess.run([ipfs or "ipfs", "version", "--number"],
                                          capture_output=True, text=True).stdout.strip(),
    }

    def fig(value: float | None, unit: str, baseline: Any, target: str | None,
            passed: bool | None) -> dict[str, Any]:
        return {"value": value, "unit": unit, "baseline": baseline, "target": target,
                "pass": passed, "command": command, "details": details}

    out = {
        "ipfs_cid_vs_sha256_throughput": fig(
            round(gbps["cid"] / gbps["sha256"], 3), "x hash_file (SHA-256) throughput",
            f"hash_file: {gbps['sha256']:.2f} GB/s", None, None),
        "ipfs_cid_extra_rss_mib": fig(
            round(extra, 2), "MiB peak RSS above the process's RSS before hashing",
            f"kubo ipfs add --only-hash: {rss['kubo']:.0f} MiB peak RSS" if ipfs else skipped,
            "< 64", extra < 64),
    }
    if ipfs:
        ratio = gbps["cid"] / gbps["kubo"]
        out["ipfs_cid_vs_kubo_throughput"] = fig(
            round(ratio, 3), "x kubo `ipfs add --only-hash --cid-version 1` throughput",
            f"kubo: {gbps['kubo']:.2f} GB/s", None, None)
    else:
        print(f"bench_ipfs_cid: {skipped}", file=sys.stderr)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def run(ctx: Any) -> dict[str, dict[str, Any]]:
    """The ``ipfs_cid`` group of benchmarks/run.py."""
    return measure(ctx.quick, ctx.workdir, ctx.command(GROUP))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="algo-tracer-bench-") as tmp:
        cmd = f"python -m benchmarks.bench_ipfs_cid{' --quick' if args.quick else ''}"
        print(json.dumps(measure(args.quick, Path(tmp), cmd), indent=2))
