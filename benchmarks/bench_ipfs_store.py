"""Storing to and fetching from IPFS with algo-tracer's client vs kubo's own `ipfs` CLI.

Run ``python -m benchmarks.bench_ipfs_store [--size-mib N]`` from the repository root with a kubo
node (``ALGO_TRACER_IPFS_API``, default the LocalNet's) and its binary (``ALGO_TRACER_IPFS_BIN``,
else the LocalNet's cached build, for the baseline). It prints JSON and writes
``benchmarks/results/ipfs_store.json``. Each side runs in a fresh process, on its own file of
the same size (random bytes: a node that already holds the blocks would answer faster), in the
same run; the figures are wall time ratios against `ipfs add --cid-version 1` / `ipfs cat` and
the peak RSS each process needed beyond its start (kernel `ru_maxrss`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "ipfs_store.json"
MIB = 1 << 20

_OURS = r"""
import json, os, resource, sys, time
from pathlib import Path
from algo_tracer.hashing.unixfs import CidHasher
from algo_tracer.network.ipfs import IpfsClient
mode, path = sys.argv[1], Path(sys.argv[2])
node = IpfsClient()
# Current RSS, not the peak so far: the peak at the end may still be the imports', so the
# difference is an upper bound of what adding or fetching needed.
base = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
start = time.perf_counter()
if mode == "add":
    cid = node.add(path, None)
else:
    hasher = CidHasher()
    with open(path, "wb") as out:
        for chunk in node.cat(sys.argv[3]):
            out.write(chunk)
            hasher.feed(chunk)
    cid = hasher.finish()
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"cid": cid, "seconds": elapsed, "base_kib": base, "peak_kib": peak}))
"""


def _random_file(path: Path, size: int) -> None:
    with path.open("wb") as f:
        left = size
        while left:
            n = min(8 * MIB, left)
            f.write(os.urandom(n))
            left -= n


def _timed(cmd: list[str], stdout: Any = subprocess.PIPE) -> tuple[float, int, bytes]:
    """Wall time, peak RSS (KiB) of the child, and its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {err.decode(errors='replace')[-400:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, usage.ru_maxrss, out or b""


def _api_multiaddr(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"/ip4/{parts.hostname}/tcp/{parts.port}"


def measure(size_mib: int, workdir: Path, ipfs_bin: str, api: str) -> dict[str, Any]:
    size = size_mib * MIB
    ours_file, theirs_file = workdir / "ours.bin", workdir / "theirs.bin"
    _random_file(ours_file, size)
    _random_file(theirs_file, size)
    env_api = ["--api", _api_multiaddr(api)]
    ours = json.loads(subprocess.run([sys.executable, "-c", _OURS, "add", str(ours_file)],
                                     check=True, capture_output=True, text=True).stdout)
    t_add, rss_add, out = _timed([ipfs_bin, *env_api, "add", "--cid-version", "1", "-Q",
                                  str(theirs_file)])
    theirs_cid = out.decode().strip()
    fetched = json.loads(subprocess.run(
        [sys.executable, "-c", _OURS, "cat", str(workdir / "ours.out"), ours["cid"]],
        check=True, capture_output=True, text=True).stdout)
    with (workdir / "theirs.out").open("wb") as sink:
        t_cat, rss_cat, _ = _timed([ipfs_bin, *env_api, "cat", theirs_cid], stdout=sink)
    assert fetched["cid"] == ours["cid"], "the fetched bytes do not hash to the CID"
    return {
        "ipfs_store_add_vs_ipfs_add": {
            "value": round(ours["seconds"] / t_add, 3), "unit": "x the time of `ipfs add`",
            "baseline": f"`ipfs add --cid-version 1` {t_add:.2f} s for {size_mib} MiB",
            "target": None, "pass": None,
            "details": {"ours_s": round(ours["seconds"], 3), "ipfs_add_s": round(t_add, 3)}},
        "ipfs_store_add_extra_rss_mib": {
            "value": round((ours["peak_kib"] - ours["base_kib"]) / 1024, 1),
            "unit": "MiB peak RSS above the process's RSS at start (an upper bound)",
            "target": None, "pass": None,
            "baseline": f"`ipfs add` process peak {rss_add / 1024:.0f} MiB (whole process)",
            "details": {"size_mib": size_mib, "base_mib": round(ours["base_kib"] / 1024, 1)}},
        "ipfs_fetch_vs_ipfs_cat": {
            "value": round(fetched["seconds"] / t_cat, 3),
            "unit": "x the time of `ipfs cat` (ours also computes the CID)",
            "baseline": f"`ipfs cat` {t_cat:.2f} s for {size_mib} MiB", "target": None,
            "pass": None,
            "details": {"ours_s": round(fetched["seconds"], 3), "ipfs_cat_s": round(t_cat, 3)}},
        "ipfs_fetch_extra_rss_mib": {
            "value": round((fetched["peak_kib"] - fetched["base_kib"]) / 1024, 1),
            "unit": "MiB peak RSS above the process's RSS at start (an upper bound)",
            "target": None, "pass": None,
            "baseline": f"`ipfs cat` process peak {rss_cat / 1024:.0f} MiB (whole process)",
            "details": {"size_mib": size_mib}},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args(argv)
    from algo_tracer.localnet import pins
    from algo_tracer.localnet.paths import cache_root
    from algo_tracer.network.ipfs import ipfs_from_environment

    ipfs_bin = os.environ.get("ALGO_TRACER_IPFS_BIN") or str(
        cache_root() / pins.kubo_cache_key() / "bin" / "ipfs")
    with tempfile.TemporaryDirectory(prefix="bench-ipfs-") as tmp:
        figures = measure(args.size_mib, Path(tmp), ipfs_bin, ipfs_from_environment().api)
    command = f"python -m benchmarks.bench_ipfs_store --size-mib {args.size_mib}"
    for fig in figures.values():
        fig["command"] = command
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
