"""The native LocalNet: algod (relay + follower, and for the realtime profile a second node that
accepts transactions), kmd, PostgreSQL, conduit and the indexer.

Start order follows the data flow: the relay produces blocks (DevMode: one block per submitted
transaction group; the realtime profile: one every few seconds, see profiles.py), the follower
replays them for conduit, conduit writes them to PostgreSQL, and the indexer serves them
read-only. The second node ("algod2", realtime only) follows the relay over gossip and passes
the transactions it accepts on to it. Every process is detached and tracked by a pid file under
the state directory, so the network outlives the command that started it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from algo_tracer.errors import LocalnetError
from algo_tracer.localnet import idle_chain, layout, pins
from algo_tracer.localnet.build import Binaries, ensure_binaries
from algo_tracer.localnet.kubo import IPFS_SERVICE, Kubo
from algo_tracer.localnet.layout import HOST, TOKEN, Ports
from algo_tracer.localnet.paths import profile_state_root
from algo_tracer.localnet.postgres import Postgres
from algo_tracer.localnet.processes import Service, spawn_lock
from algo_tracer.localnet.profiles import DEVMODE, Profile, profile_named
from algo_tracer.localnet.status import (
    LocalnetStatus,
    ServiceState,
    SupervisorState,
    explain,
    get_json,
    port_free,
)
from algo_tracer.localnet.supervisor_process import SupervisorProcess

Progress = Callable[[str], None]
SERVICE_ORDER = ("algod", "follower", "kmd", "postgres", "conduit", "indexer", IPFS_SERVICE)
SECOND_ALGOD = layout.SECOND_NODE  # the realtime profile's second algod node, after the follower
SUPERVISOR = "supervisor"  # `logs --service supervisor`: its restarts, one line each

__all__ = ["SECOND_ALGOD", "SERVICE_ORDER", "LocalNet", "LocalnetStatus", "ServiceState"]


class LocalNet:
    """One native LocalNet rooted at a state directory; `profile` ("devmode", the default, or
    "realtime") chooses DevMode or real block times, and the default ports and directory."""

    def __init__(self, state_dir: Path | None = None, ports: Ports | None = None,
                 progress: Progress = print, profile: Profile | str = DEVMODE) -> None:
        self.profile = profile_named(profile) if isinstance(profile, str) else profile
        self.state_dir = state_dir or profile_state_root(self.profile.state_suffix,
                                                          self.profile.state_variable)
        self.ports = ports or self.profile.ports
        self.progress = progress
        self.tag = "[localnet]" if self.profile.dev_mode else f"[localnet {self.profile.name}]"
        self.network_dir = self.state_dir / "network"
        self.data_dir = self.network_dir / "data"
        self.follower_dir = self.network_dir / "follower"
        self.algod2_dir = self.network_dir / SECOND_ALGOD
        # Services in start order; the second algod node only where the ports give it one.
        self.services: tuple[str, ...] = (
            SERVICE_ORDER if self.ports.algod2 is None
            else (*SERVICE_ORDER[:2], SECOND_ALGOD, *SERVICE_ORDER[2:]))
        self.kmd_dir = self.data_dir / "kmd-v0.5"
        self.conduit_dir = self.state_dir / "conduit"
        self.ipfs_dir = self.state_dir / "ipfs"  # kubo's repository (kubo.py)
        self.indexer_dir = self.state_dir / "indexer"
        self.logs_dir = self.state_dir / "logs"
        self.run_dir = self.state_dir / "run"
        self.held_dir = self.run_dir / "held"
        self.spawn_lock_file = self.run_dir / "spawn.lock"
        self.postgres = Postgres(self.state_dir / "postgres", self.ports.postgres, self._service)
        self.supervisor = SupervisorProcess(self.state_dir)
        self.kubo = Kubo(self.state_dir, self.ports, self.run_dir, self.logs_dir)

    # -- public API ----------------------------------------------------------------------------

    def start(self) -> LocalnetStatus:
        """Start whatever is not running, and the supervisor; a fast no-op when everything
        already runs."""
        self._check_profile()
        current = self.status()
        if current.mode == "external":
            return current
        if current.healthy and current.mode == "native":
            if current.supervisor is not None and current.supervisor.running:
                return current
            self._start_supervisor()
            return self.status()
        started = time.monotonic()
        # Locked before the port check: a port the supervisor's restart just took is not
        # "in use by another program".
        with spawn_lock(self.spawn_lock_file):
            self._check_ports()
            binaries = ensure_binaries(self.progress)
            self.state_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.state_dir, 0o755)  # the postgres account must reach its data directory
            shutil.rmtree(self.held_dir, ignore_errors=True)  # `start` brings back every service
            if not (self.data_dir / "genesis.json").exists():
                self._create_network(binaries)
            for name in self.services:
                self._start_one(name, binaries)
        self._start_supervisor()
        self.progress(f"{self.tag} running ({time.monotonic() - started:.1f}s)")
        return self.status()

    def stop(self, services: list[str] | None = None) -> list[str]:
        """Stop the supervisor and then the processes this LocalNet started (in reverse
        data-flow order); or only `services`, which the supervisor then leaves down until
        `start()` brings back whatever is not running."""
        unknown = sorted(set(services or ()) - set(self.services))
        if unknown:
            raise LocalnetError(f"unknown service {unknown[0]!r}",
                                fix=f"choose from: {', '.join(self.services)}")
        self._check_profile()
        if services is None:
            self.supervisor.stop()  # first: nothing may be restarted behind us
        else:
            self.held_dir.mkdir(parents=True, exist_ok=True)
            for name in services:
                (self.held_dir / name).touch()
        stopped = []
        # No start is half done (spawned, pid file not yet written) while we hold the lock.
        with spawn_lock(self.spawn_lock_file):
            for name in reversed(self.services):
                if services is not None and name not in services:
                    continue
                if self.service(name).stop():
                    stopped.append(name)
        return stopped

    def reset(self) -> LocalnetStatus:
        """Wipe the chain, wallets and indexer database, then start a fresh network."""
        self.stop()
        for path in (self.network_dir, self.conduit_dir, self.indexer_dir, self.postgres.data_dir,
                     self.run_dir, self.kubo.repo):
            shutil.rmtree(path, ignore_errors=True)
        return self.start()

    def restart_service(self, name: str, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Start one service that is not running, as `start()` would (the supervisor's restart);
        False if it needed no start once the spawn lock was ours (`start` got there first,
        `stop([name])` held it, or `cancelled()`: `stop` has begun)."""
        binaries = ensure_binaries(self.progress)
        with spawn_lock(self.spawn_lock_file):
            if cancelled() or self.held(name) or self.service(name).pid() is not None:
                return False
            self._start_one(name, binaries)
            return True

    def held(self, name: str) -> bool:
        """Stopped on its own by `stop([name])`: left down until `start()`."""
        return (self.held_dir / name).exists()

    def service(self, name: str) -> Service:
        return self.postgres.service if name == "postgres" else self._service(name)

    def status(self) -> LocalnetStatus:
        services = [ServiceState(name=name, pid=self.service(name).pid(), healthy=False)
                    for name in self.services]
        algod = get_json(f"http://{HOST}:{self.ports.algod}/versions")
        status = get_json(f"http://{HOST}:{self.ports.algod}/v2/status", token=TOKEN)
        kmd_ok = get_json(f"http://{HOST}:{self.ports.kmd}/versions", token=TOKEN,
                          header="X-KMD-API-Token") is not None
        indexer = get_json(f"http://{HOST}:{self.ports.indexer}/health")
        follower_ok = get_json(f"http://{HOST}:{self.ports.follower}/health") is not None
        algod2 = (None if self.ports.algod2 is None else
                  get_json(f"http://{HOST}:{self.ports.algod2}/v2/status", token=TOKEN))
        health = {
            "algod": algod is not None,
            "follower": follower_ok,
            SECOND_ALGOD: algod2 is not None,
            "kmd": kmd_ok,
            "postgres": self.postgres.ready(),
            "indexer": indexer is not None,
            IPFS_SERVICE: self.kubo.healthy(),
        }
        for s in services:
            s.healthy = health.get(s.name, s.pid is not None)
        ours = services[0].pid is not None or any(s.pid is not None for s in services)
        mode = "native" if ours else ("external" if algod is not None else "stopped")
        last_round = status.get("last-round") if status else None
        indexer_round = indexer.get("round") if indexer else None
        if mode == "external":
            healthy = algod is not None and kmd_ok and indexer is not None
        else:
            healthy = all(s.healthy and s.pid is not None for s in services
                          if s.name != IPFS_SERVICE)  # IPFS is optional (kubo.py)
        supervisor = None
        if mode != "external":
            supervisor = SupervisorState(running=False, log_file=str(self.supervisor.log_file))
            supervisor.pid = self.supervisor.pid()
            supervisor.running = supervisor.pid is not None
            self._explain(services, supervisor.running)
            self.kubo.explain(services)
        build = (algod or {}).get("build", {})
        return LocalnetStatus(
            mode=mode,
            profile=self.profile.name,
            healthy=healthy,
            state_dir=str(self.state_dir),
            algod_url=f"http://localhost:{self.ports.algod}",
            kmd_url=f"http://localhost:{self.ports.kmd}",
            indexer_url=f"http://localhost:{self.ports.indexer}",
            algod2_url=(None if self.ports.algod2 is None
                        else f"http://localhost:{self.ports.algod2}"),
            algod2_last_round=(algod2 or {}).get("last-round"),
            genesis_id=(algod or {}).get("genesis_id"),
            last_round=last_round,
            algod_version=(f"{build['major']}.{build['minor']}.{build['build_number']}"
                           if build else None),
            indexer_round=indexer_round,
            indexer_lag=(last_round - indexer_round
                         if last_round is not None and indexer_round is not None else None),
            services=services,
            supervisor=supervisor,
            versions=pins.Versions().__dict__,
            ipfs_api_url=self.kubo.api_url, ipfs_gateway_url=self.kubo.gateway_url,
        )

    def logs(self, service: str | None = None, lines: int = 40) -> str:
        names = [service] if service else [*self.services, SUPERVISOR]
        unknown = [n for n in names if n not in (*self.services, SUPERVISOR)]
        if unknown:
            raise LocalnetError(f"unknown service {unknown[0]!r}",
                                fix=f"choose one of: {', '.join((*self.services, SUPERVISOR))}")
        out = []
        for name in names:
            svc = (Service(name, "python", self.supervisor.pid_file, self.supervisor.log_file)
                   if name == SUPERVISOR else self.service(name))
            out.append(f"==> {name} ({svc.log_file}) <==\n{svc.tail(lines)}")
        return "\n".join(out)

    # -- steps ---------------------------------------------------------------------------------

    def _explain(self, services: list[ServiceState], supervised: bool) -> None:
        start = "algo-tracer localnet start" + ("" if self.profile.dev_mode
                                                else " --block-time real")
        explain(services, self.supervisor.report() if supervised else None, held=self.held,
                supervised=supervised, start_command=start, now=time.time())

    def _start_supervisor(self) -> None:
        args = ["--profile", self.profile.name, "--ports", json.dumps(self.ports.__dict__)]
        if self.supervisor.spawn(args) is None:
            raise LocalnetError("the LocalNet supervisor did not start",
                                fix=f"see {self.supervisor.log_file}:\n"
                                + Service(SUPERVISOR, "python", self.supervisor.pid_file,
                                          self.supervisor.log_file).tail(15))

    def _service(self, name: str) -> Service:
        program = {"follower": "algod", SECOND_ALGOD: "algod",
                   "indexer": "algorand-indexer"}.get(name, name)
        # Each process gets its directory as an argument: that tells ours from the same program
        # run by another LocalNet profile, should a pid be recycled.
        own_dir = {"algod": self.data_dir, "follower": self.follower_dir,
                   SECOND_ALGOD: self.algod2_dir, "kmd": self.kmd_dir, IPFS_SERVICE: self.ipfs_dir,
                   "conduit": self.conduit_dir, "indexer": self.indexer_dir}.get(name)
        return Service(name, program, self.run_dir / f"{name}.pid", self.logs_dir / f"{name}.log",
                       owner_arg=str(own_dir) if own_dir else None)

    def _check_profile(self) -> None:
        """Refuse a state directory whose chain was created for the other profile: its pid files
        and ports belong to that network, which this one must not start, stop or reset."""
        genesis = self.data_dir / "genesis.json"
        try:
            dev_mode = bool(json.loads(genesis.read_text()).get("devmode", False))
        except (FileNotFoundError, json.JSONDecodeError):
            return
        if dev_mode != self.profile.dev_mode:
            found = "DevMode" if dev_mode else "real block times (DevMode off)"
            raise LocalnetError(
                f"{self.state_dir} holds a network with {found}, not the {self.profile.name} "
                "profile's",
                fix=f"use that network's own option (`--block-time "
                f"{'dev' if dev_mode else 'real'}`), or give this profile its own directory "
                f"with {self.profile.state_variable}",
            )

    def _check_ports(self) -> None:
        running = {s for s in self.services if self.service(s).pid()}
        owners = {"algod": "algod", "gossip": "algod", "follower": "follower", "kmd": "kmd",
                  "postgres": "postgres", "indexer": "indexer", "algod2": SECOND_ALGOD,
                  "ipfs_api": IPFS_SERVICE, "ipfs_gateway": IPFS_SERVICE}
        for port_name, port in self.ports.items():
            if owners[port_name] in running:
                continue
            if not port_free(port):
                raise LocalnetError(
                    f"port {port} ({port_name}) on {HOST} is already in use by another program",
                    fix=f"stop whatever listens on {port} (`ss -ltnp 'sport = :{port}'` shows it); "
                    "if it is a Docker LocalNet, use it as it is (`algokit localnet status`)",
                )

    def _create_network(self, binaries: Binaries) -> None:
        self.progress(f"{self.tag} creating the network (genesis, wallets, participation keys)"
                      " ...")
        started = time.monotonic()
        shutil.rmtree(self.network_dir, ignore_errors=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        template = self.state_dir / "template.json"
        template.write_text(json.dumps(
            layout.network_template(self.profile.dev_mode, self.ports), indent=2))
        log = self.logs_dir / "network-create.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            proc = subprocess.run(
                [str(binaries.goal), "network", "create", "-n", layout.NETWORK_NAME,
                 "-r", str(self.network_dir), "-t", str(template)],
                stdout=out, stderr=subprocess.STDOUT,
            )
        if proc.returncode != 0:
            shutil.rmtree(self.network_dir, ignore_errors=True)
            raise LocalnetError("`goal network create` failed",
                                fix=f"see {log}; then run `algo-tracer localnet reset`")
        # goal imports the wallets through a kmd of its own (with a 180 s timeout) that keeps the
        # wallet lock; it must be gone before our long-lived kmd can open the same directory.
        Service("kmd (goal)", "kmd", self.kmd_dir / "kmd.pid", log).stop()
        layout.merge_json(self.data_dir / "config.json", layout.data_node_config(self.ports))
        layout.merge_json(self.follower_dir / "config.json",
                          layout.follower_node_config(self.ports))
        nodes = [self.data_dir, self.follower_dir]
        if self.ports.algod2 is not None:
            layout.merge_json(self.algod2_dir / "config.json",
                              layout.second_node_config(self.ports))
            nodes.append(self.algod2_dir)
        for node in nodes:
            (node / "algod.token").write_text(TOKEN)
            (node / "algod.admin.token").write_text(TOKEN)
        self.kmd_dir.mkdir(mode=0o700, exist_ok=True)
        (self.kmd_dir / "kmd_config.json").write_text(json.dumps(layout.kmd_config(self.ports)))
        (self.kmd_dir / "kmd.token").write_text(TOKEN)
        self.progress(f"{self.tag}   done in {time.monotonic() - started:.0f}s")

    def _start_one(self, name: str, binaries: Binaries) -> None:
        """Start `name` unless it runs, and wait until it answers (held or not: callers decide)."""
        if name == "postgres":
            self.postgres.start(self.progress)
        elif name == "conduit":
            self._start_conduit(binaries)
        elif name == "indexer":
            self._start_indexer(binaries)
        elif name == SECOND_ALGOD:
            self._start_second_algod(binaries)
        elif name == IPFS_SERVICE:  # optional: see algo_tracer.localnet.kubo
            self.kubo.start(self.progress, self.held_dir, self.tag)
        else:
            self._start_node(name, binaries)

    def _start_node(self, name: str, binaries: Binaries) -> None:
        """The relay, the follower (pointed at the relay's gossip port) or kmd."""
        gossip = ["-p", f"{HOST}:{self.ports.gossip}"]
        command = {"algod": [str(binaries.algod), "-d", str(self.data_dir)],
                   "follower": [str(binaries.algod), "-d", str(self.follower_dir), *gossip],
                   "kmd": [str(binaries.kmd), "-d", str(self.kmd_dir)]}[name]
        service = self._service(name)
        if service.pid() is None:
            service.spawn(command)
        if name == "kmd":
            self._wait_http("kmd", f"http://{HOST}:{self.ports.kmd}/versions", service,
                            token=TOKEN, header="X-KMD-API-Token")
        else:
            port = self.ports.algod if name == "algod" else self.ports.follower
            self._wait_http(name, f"http://{HOST}:{port}/health", service)

    def _start_second_algod(self, binaries: Binaries) -> None:
        if not (self.algod2_dir / "genesis.json").exists():
            raise LocalnetError(
                f"{self.network_dir} was created without the second algod node "
                f"({SECOND_ALGOD}, port {self.ports.algod2})",
                fix=f"recreate the network: `algo-tracer localnet reset --block-time "
                f"{'dev' if self.profile.dev_mode else 'real'}` (wipes this network's chain)")
        node = self._service(SECOND_ALGOD)
        if node.pid() is None:
            node.spawn([str(binaries.algod), "-d", str(self.algod2_dir),
                        "-p", f"{HOST}:{self.ports.gossip}"])
        self._wait_http(SECOND_ALGOD, f"http://{HOST}:{self.ports.algod2}/health", node)

    def _start_conduit(self, binaries: Binaries) -> None:
        conduit = self._service("conduit")
        if conduit.pid() is not None:
            return
        self.conduit_dir.mkdir(parents=True, exist_ok=True)
        (self.conduit_dir / "conduit.yml").write_text(layout.conduit_yaml(self.ports))
        if self.profile.dev_mode:
            # An idle DevMode chain would leave conduit waiting for a block until it gives up.
            idle_chain.make_round_for_conduit(
                goal=binaries.goal, data_dir=self.data_dir, conduit_dir=self.conduit_dir,
                algod_port=self.ports.algod, follower_port=self.ports.follower,
                log_file=self.logs_dir / "next-round.log", progress=self.progress)
        conduit.spawn([str(binaries.conduit), "-d", str(self.conduit_dir)])

    def _start_indexer(self, binaries: Binaries) -> None:
        conduit = self._service("conduit")
        indexer = self._service("indexer")
        url = f"http://{HOST}:{self.ports.indexer}/health"
        deadline = time.monotonic() + 120
        # The indexer daemon opens the database read-only and exits until conduit has created
        # the schema, so it is (re)started until it stays up.
        while get_json(url) is None:
            if conduit.pid() is None and not self.held("conduit"):
                raise LocalnetError("conduit exited during start-up",
                                    fix=f"see its log:\n{conduit.tail(15)}")
            if indexer.pid() is None:
                self.indexer_dir.mkdir(parents=True, exist_ok=True)
                indexer.spawn(
                    [str(binaries.indexer), "daemon", "--enable-all-parameters",
                     "-S", f"{HOST}:{self.ports.indexer}", "-i", str(self.indexer_dir)],
                    env={"INDEXER_POSTGRES_CONNECTION_STRING": layout.postgres_dsn(self.ports)},
                )
            if time.monotonic() > deadline:
                raise LocalnetError("the indexer did not become healthy within 120 s",
                                    fix=f"see its log:\n{indexer.tail(15)}")
            time.sleep(0.5)

    def _wait_http(self, name: str, url: str, service: Service, *, token: str | None = None,
                   header: str = "X-Algo-API-Token", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while get_json(url, token=token, header=header) is None:
            if service.pid() is None:
                raise LocalnetError(f"{name} exited during start-up",
                                    fix=f"see {service.log_file}:\n{service.tail(15)}")
            if time.monotonic() > deadline:
                raise LocalnetError(f"{name} did not answer on {url} within {timeout:.0f} s",
                                    fix=f"see {service.log_file}")
            time.sleep(0.2)
