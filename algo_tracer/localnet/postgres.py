"""A throwaway PostgreSQL cluster for the indexer, from Debian's packages, on loopback only.

Same role, password and database as AlgoKit LocalNet (algorand/algorand/indexerdb on port 5443).
Durability settings are off: the cluster is rebuilt from the chain by `reset`, never backed up.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from algo_tracer.errors import LocalnetError
from algo_tracer.localnet import processes
from algo_tracer.localnet.layout import HOST, PG_DATABASE, PG_USER
from algo_tracer.localnet.processes import Service

PG_ROOT = Path("/usr/lib/postgresql")


class Postgres:
    def __init__(self, data_dir: Path, port: int, service_for: Callable[[str], Service]) -> None:
        self.data_dir = data_dir
        self.port = port
        base = service_for("postgres")
        # The postmaster writes its own pid file; SIGINT is PostgreSQL's "fast" shutdown.
        self.service = Service("postgres", "postgres", data_dir / "postmaster.pid",
                               base.log_file, stop_signal=signal.SIGINT,
                               owner_arg=str(data_dir))  # started with `-D <data_dir>`
        # PostgreSQL refuses to run as root; as root it runs as Debian's `postgres` account.
        self.user = "postgres" if os.geteuid() == 0 else None

    def start(self, progress: Callable[[str], None]) -> None:
        bin_dir = self._bin_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            progress("[localnet] initialising the indexer database cluster ...")
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir.mkdir(parents=True, mode=0o700)
            self._own(self.data_dir)
            self._run([str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", PG_USER,
                       "-A", "trust", "-E", "UTF8", "--no-sync"], "initdb")
        spawned = None
        if self.service.pid() is None:
            spawned = self.service.spawn(
                [str(bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                 "-c", f"listen_addresses={HOST}", "-c", f"unix_socket_directories={self.data_dir}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                user=self.user, write_pid=False,
            )
        deadline = time.monotonic() + 30
        while not self.ready():
            if spawned is not None and not processes.alive(spawned):
                raise LocalnetError("PostgreSQL exited during start-up",
                                    fix=f"see {self.service.log_file}:\n{self.service.tail(10)}")
            if time.monotonic() > deadline:
                raise LocalnetError("PostgreSQL did not accept connections within 30 s",
                                    fix=f"see {self.service.log_file}:\n{self.service.tail(10)}")
            time.sleep(0.2)
        exists = self._run([str(bin_dir / "psql"), *self._conn("postgres"), "-tAc",
                            f"SELECT 1 FROM pg_database WHERE datname='{PG_DATABASE}'"], "psql")
        if exists.strip() != "1":
            self._run([str(bin_dir / "createdb"), *self._conn(None), PG_DATABASE], "createdb")
            self._run([str(bin_dir / "psql"), *self._conn("postgres"), "-c",
                       f"ALTER ROLE {PG_USER} PASSWORD '{PG_USER}'"], "psql")

    def ready(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        try:
            bin_dir = self._bin_dir()
        except LocalnetError:
            return False
        return subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", HOST, "-p", str(self.port), "-q"],
            capture_output=True,
        ).returncode == 0

    def _conn(self, database: str | None) -> list[str]:
        args = ["-h", HOST, "-p", str(self.port), "-U", PG_USER]
        return [*args, "-d", database] if database else args

    def _run(self, cmd: list[str], what: str) -> str:
        proc = subprocess.run(cmd, capture_output=True, text=True, user=self.user,
                              cwd="/")  # the postgres account may not read the caller's cwd
        if proc.returncode != 0:
            raise LocalnetError(f"PostgreSQL {what} failed: {proc.stderr.strip()[-800:]}",
                                fix="run `algo-tracer localnet reset` to rebuild the cluster")
        return proc.stdout

    def _own(self, path: Path) -> None:
        if self.user is None:
            return
        pw = pwd.getpwnam(self.user)
        for p in (path, *path.rglob("*")):
            os.chown(p, pw.pw_uid, pw.pw_gid)

    @staticmethod
    def _bin_dir() -> Path:
        versions = sorted((p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()),
                          key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
        if not versions:
            raise LocalnetError(
                "PostgreSQL server programs not found under /usr/lib/postgresql",
                fix="run: sudo apt-get install -y postgresql (or `make bootstrap`)",
            )
        return versions[-1]
