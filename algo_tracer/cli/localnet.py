"""`algo-tracer localnet start|stop|status|reset|logs`.

With a container engine and the `algokit` CLI present, these delegate to `algokit localnet` (the
same network, in Docker); otherwise they run the native LocalNet. `ALGO_TRACER_LOCALNET=native`
forces the native one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from algo_tracer.errors import LocalnetError
from algo_tracer.localnet.network import LocalNet, LocalnetStatus

ACTIONS = ("start", "stop", "status", "reset", "logs")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("localnet", help="run the local Algorand network (AlgoKit LocalNet)")
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("--json", action="store_true", help="status: print machine-readable JSON")
    p.add_argument("--service", help="logs: only this service (algod, follower, kmd, postgres, "
                   "conduit, indexer)")
    p.add_argument("--lines", type=int, default=40, help="logs: lines per service (default 40)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if _use_docker():
        docker_action = {"logs": "logs", "status": "status"}.get(args.action, args.action)
        return subprocess.run(["algokit", "localnet", docker_action]).returncode
    net = LocalNet(progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.action == "start":
        _print_status(net.start(), args.json)
    elif args.action == "stop":
        stopped = net.stop()
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    elif args.action == "status":
        status = net.status()
        _print_status(status, args.json)
        return 0 if status.healthy else 1
    elif args.action == "reset":
        _print_status(net.reset(), args.json)
    else:
        print(net.logs(args.service, args.lines))
    return 0


def ensure_running() -> LocalnetStatus | None:
    """Start the LocalNet the way `localnet start` would (Docker or native); None for Docker."""
    if _use_docker():
        subprocess.run(["algokit", "localnet", "start"], check=True)
        return None
    status = LocalNet(progress=lambda line: print(line, file=sys.stderr, flush=True)).start()
    if not status.healthy:
        raise LocalnetError("the local network started but is not healthy",
                            fix="see `algo-tracer localnet status` and `algo-tracer localnet logs`")
    return status


def _use_docker() -> bool:
    forced_native = os.environ.get("ALGO_TRACER_LOCALNET", "").lower() == "native"
    if forced_native or not shutil.which("algokit"):
        return False
    for engine in ("docker", "podman"):
        if shutil.which(engine) and subprocess.run(
            [engine, "info"], capture_output=True, timeout=20
        ).returncode == 0:
            return True
    return False


def _print_status(status: LocalnetStatus, as_json: bool) -> None:
    if as_json:
        print(status.model_dump_json(indent=2))
        return
    state = "healthy" if status.healthy else "NOT healthy"
    print(f"LocalNet ({status.mode}) {state}   state: {status.state_dir}")
    print(f"  algod    {status.algod_url}  genesis {status.genesis_id}  round {status.last_round}"
          f"  version {status.algod_version}")
    print(f"  kmd      {status.kmd_url}")
    lag = "" if status.indexer_lag is None else f"  lag {status.indexer_lag}"
    print(f"  indexer  {status.indexer_url}  round {status.indexer_round}{lag}")
    for s in status.services:
        mark = "up" if s.healthy else "down"
        print(f"    {s.name:<9} {mark:<5} pid {s.pid if s.pid else '-'}")
    print("  versions: " + ", ".join(f"{k} {v}" for k, v in status.versions.items()))
