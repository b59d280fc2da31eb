"""What `algo-tracer localnet status` reports, and the HTTP and port probes it is built from.

A service that is down is named with its fix: the supervisor's next restart (and why it went
down), `localnet start` when no supervisor runs, or its log when restarts keep failing.
"""

from __future__ import annotations

import errno
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable

from pydantic import BaseModel

from algo_tracer.localnet.layout import HOST
from algo_tracer.localnet.profiles import DEVMODE
from algo_tracer.localnet.supervisor import ServiceRecord, SupervisorReport


class ServiceState(BaseModel):
    name: str
    pid: int | None
    healthy: bool
    restarts: int = 0  # by the supervisor, since `localnet start`
    last_exit: str | None = None  # why it last went down, when the supervisor saw it
    fix: str | None = None  # for a service that is down: what brings it back


class SupervisorState(BaseModel):
    running: bool
    pid: int | None = None
    log_file: str


class LocalnetStatus(BaseModel):
    """What `algo-tracer localnet status --json` prints."""

    mode: str  # "native", "external" (something else serves the LocalNet ports) or "stopped"
    profile: str = DEVMODE.name  # "devmode" or "realtime" (profiles.py)
    healthy: bool
    state_dir: str
    algod_url: str
    kmd_url: str
    indexer_url: str
    algod2_url: str | None = None  # the second algod node's REST endpoint (realtime profile)
    algod2_last_round: int | None = None
    genesis_id: str | None = None
    last_round: int | None = None
    algod_version: str | None = None
    indexer_round: int | None = None
    indexer_lag: int | None = None
    services: list[ServiceState]
    supervisor: SupervisorState | None = None  # native mode only
    versions: dict[str, str]
    ipfs_api_url: str | None = None  # the LocalNet's kubo (ALGO_TRACER_IPFS_API points here)
    ipfs_gateway_url: str | None = None


def explain(services: list[ServiceState], report: SupervisorReport | None, *,
            held: Callable[[str], bool], supervised: bool, start_command: str,
            now: float) -> None:
    """Fill in restart counts and last exits from the supervisor's `report`, and a fix for each
    service that is down."""
    for s in services:
        record = report.service(s.name) if report else None
        if record is not None:
            s.restarts, s.last_exit = record.restarts, record.last_exit
        if not (s.healthy and s.pid is not None):
            s.fix = service_fix(s.name, running=s.pid is not None, held=held(s.name),
                                supervised=supervised, record=record,
                                start_command=start_command, now=now)


def service_fix(name: str, *, running: bool, held: bool, supervised: bool,
                record: ServiceRecord | None, start_command: str, now: float) -> str:
    """The one wording of "this service is down, and this brings it back"."""
    logs = f"`algo-tracer localnet logs --service {name}`"
    if running:  # the supervisor restarts what exits, not what hangs
        return (f"its process runs but does not answer (it may still be starting): see {logs}; "
                f"if it stays so, `algo-tracer localnet stop` and `{start_command}`")
    if held:
        return f"stopped on purpose; `{start_command}` starts it again"
    if not supervised:
        return f"`{start_command}` restarts it (and only what is down); its log: {logs}"
    when = "now"
    if record is not None and record.next_restart_at is not None and record.next_restart_at > now:
        when = f"in {record.next_restart_at - now:.0f} s"
    again = ("" if record is None or record.failures <= 1 else
             f"; it went down {record.failures} times in a row soon after starting, see {logs}")
    return f"the supervisor restarts it {when} (with back-off){again}"


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def get_json(url: str, *, token: str | None = None, header: str = "X-Algo-API-Token",
             timeout: float = 2.0) -> dict | None:
    request = urllib.request.Request(url, headers={header: token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except (urllib.error.URLError, OSError, TimeoutError):
        return None
    try:
        data = json.loads(body) if body else {}
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else {}
