"""`algo-tracer localnet start|stop|status|reset|logs`.

With a container engine and the `algokit` CLI present, these delegate to `algokit localnet` (the
same network, in Docker); otherwise they run the native LocalNet. `ALGO_TRACER_LOCALNET=native`
forces the native one.

`--block-time real` selects the native realtime profile (DevMode off, its own ports and directory)
even where Docker is available: AlgoKit runs one LocalNet at a time, so its `--no-dev` would
replace the DevMode network rather than run beside it (README "Local network" says how to do that).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from algo_tracer.cli.outcome import Outcome
from algo_tracer.errors import LocalnetError, LocalnetUnavailableError
from algo_tracer.localnet.network import LocalNet, LocalnetStatus
from algo_tracer.localnet.profiles import DEVMODE, REALTIME, Profile

ACTIONS = ("start", "stop", "status", "reset", "logs")
BLOCK_TIMES = {"dev": DEVMODE, "real": REALTIME}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("localnet", help="run the local Algorand network (AlgoKit LocalNet)")
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("--json", action="store_true", help="status: print machine-readable JSON")
    p.add_argument("--service", help="logs: only this service (algod, follower, kmd, postgres, "
                   "conduit, indexer, supervisor; --block-time real also algod2)")
    p.add_argument("--lines", type=int, default=40, help="logs: lines per service (default 40)")
    # Checked by `_profile` rather than argparse `choices`: our message also says what each means.
    p.add_argument("--block-time", default="dev", metavar="{dev,real}",
                   help="which network: dev = DevMode LocalNet (default; a block per transaction "
                   "group, ports 4001/4002/8980); real = blocks at the consensus pace, ~3 s "
                   "(ports 4101/4102/9080, a second algod node on 4111; runs beside the DevMode "
                   "one)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    profile = _profile(args.block_time)
    if profile.dev_mode and _use_docker():
        docker_action = {"logs": "logs", "status": "status"}.get(args.action, args.action)
        done = subprocess.run(["algokit", "localnet", docker_action]).returncode == 0
        return Outcome.OK if done else Outcome.ERROR
    net = LocalNet(progress=lambda line: print(line, file=sys.stderr, flush=True), profile=profile)
    if args.action == "start":
        _print_status(_start(net), args.json)
    elif args.action == "stop":
        supervised = net.supervisor.pid() is not None
        stopped = (["supervisor"] if supervised else []) + net.stop()  # it stops first
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    elif args.action == "status":
        status = net.status()
        _print_status(status, args.json)
        return Outcome.OK if status.healthy else Outcome.ERROR  # not a finding: exit 2
    elif args.action == "reset":
        _print_status(net.reset(), args.json)
    else:
        print(net.logs(args.service, args.lines))
    return Outcome.OK


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


def _profile(block_time: str) -> Profile:
    profile = BLOCK_TIMES.get(block_time)
    if profile is None:
        raise LocalnetError(
            f"unknown --block-time {block_time!r}",
            fix="choose one of: " + "; ".join(f"{name} ({p.summary})"
                                              for name, p in BLOCK_TIMES.items()),
        )
    return profile


def _start(net: LocalNet) -> LocalnetStatus:
    try:
        return net.start()
    except LocalnetUnavailableError as exc:
        if net.profile.dev_mode:
            raise
        # The realtime profile is native only (see the module docstring); with Docker, AlgoKit's
        # own LocalNet can run without DevMode instead of the DevMode one.
        docker = ("with Docker: `algokit localnet start --no-dev` (replaces the DevMode LocalNet "
                  "on ports 4001/4002/8980 until `algokit localnet start --dev`)")
        raise LocalnetUnavailableError(
            exc.message, fix=f"{exc.fix}; {docker}" if exc.fix else docker) from exc


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
    print(f"LocalNet {status.profile} ({status.mode}) {state}   state: {status.state_dir}")
    print(f"  algod    {status.algod_url}  genesis {status.genesis_id}  round {status.last_round}"
          f"  version {status.algod_version}")
    if status.algod2_url is not None:
        print(f"  algod2   {status.algod2_url}  round {status.algod2_last_round}"
              "  (second node: accepts transactions, no wallets)")
    print(f"  kmd      {status.kmd_url}")
    lag = "" if status.indexer_lag is None else f"  lag {status.indexer_lag}"
    print(f"  indexer  {status.indexer_url}  round {status.indexer_round}{lag}")
    if status.ipfs_api_url is not None:  # optional (docs/ipfs.md): ALGO_TRACER_IPFS_API
        print(f"  ipfs     {status.ipfs_api_url}  gateway {status.ipfs_gateway_url}")
    for s in status.services:
        mark = "up" if s.healthy else "down"
        restarts = f"  restarts {s.restarts}" if s.restarts else ""
        print(f"    {s.name:<9} {mark:<5} pid {s.pid if s.pid else '-'}{restarts}")
        if s.last_exit:
            print(f"              last exit: {s.last_exit}")
        if s.fix and status.mode != "stopped":  # a stopped network gets one line, below
            print(f"              fix: {s.fix}")
    if status.mode == "stopped":
        start = "algo-tracer localnet start" + ("" if status.profile == "devmode"
                                                else " --block-time real")
        print(f"  stopped: `{start}` starts it")
    if status.supervisor is not None:
        sup = status.supervisor
        print(f"  supervisor {'up' if sup.running else 'down'}  pid {sup.pid or '-'}"
              + ("" if sup.running or status.mode == "stopped" else
                 "  (services are not restarted when they exit; `algo-tracer localnet start` "
                 "starts it)"))
    print("  versions: " + ", ".join(f"{k} {v}" for k, v in status.versions.items()))
