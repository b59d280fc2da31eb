"""The LocalNet's IPFS node: kubo, built from its Go module, run offline on loopback.

Optional by design: the chain is the record, IPFS only serves content. When kubo cannot be built
(no Go module proxy, no Go), `localnet start` still starts the network, marks the `ipfs` service
unavailable with the reason (status shows it; the supervisor leaves it alone), and tracing with
`store=True` then records the digest and the CID and leaves the upload to `resume`.

Built once per pin into the per-user cache like conduit and the indexer
(`ALGO_TRACER_IPFS_BIN` points at an existing `ipfs` binary instead). kubo's go.mod carries
`replace`/`exclude` directives, which `go install module@version` refuses, so it is built from a
writable copy of its module directory, as go-algorand is. Its repository lives under the
LocalNet's state directory (`ipfs/`), initialised with kubo's `test` profile (no bootstrap
peers, no MDNS, loopback addresses) and then given this network's API and gateway ports; the
daemon runs `--offline`: it never dials out and serves only what was added to it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from algo_tracer.errors import LocalnetError
from algo_tracer.localnet import pins
from algo_tracer.localnet.build import _check_go, _copy_writable, _run, _Steps, download_module
from algo_tracer.localnet.layout import HOST, Ports
from algo_tracer.localnet.paths import cache_root
from algo_tracer.localnet.processes import Service
from algo_tracer.localnet.status import ServiceState, get_json

__all__ = ["IPFS_SERVICE", "Kubo", "ensure_kubo"]

IPFS_SERVICE = "ipfs"
Progress = Callable[[str], None]


def ensure_kubo(progress: Progress = print) -> Path:
    """The `ipfs` binary: `ALGO_TRACER_IPFS_BIN`, else the cached build of the pinned kubo,
    else built now (LocalnetUnavailableError when it cannot be)."""
    override = os.environ.get("ALGO_TRACER_IPFS_BIN")
    if override:
        binary = Path(override).expanduser()
        if not os.access(binary, os.X_OK):
            raise LocalnetError(f"ALGO_TRACER_IPFS_BIN={binary} is not an executable",
                                fix="point it at a kubo `ipfs` binary, or unset it to build "
                                f"kubo {pins.KUBO_VERSION} from the Go module proxy")
        return binary
    bin_dir = cache_root() / pins.kubo_cache_key() / "bin"
    if os.access(bin_dir / "ipfs", os.X_OK):
        return bin_dir / "ipfs"
    go = _check_go()
    work = cache_root() / pins.kubo_cache_key() / "build"
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    steps = _Steps(progress, total=3, logs=work / "logs")
    src = steps.run(f"download kubo {pins.KUBO_VERSION}", lambda log: _download(go, log),
                    "download")
    tree = work / "kubo"
    steps.run("copy sources", lambda log: _copy_writable(src, tree), "copy")
    staging = work / "bin"
    steps.run("build ipfs (go build)", lambda log: _run(
        [go, "build", "-trimpath", "-o", f"{staging}/ipfs", "./cmd/ipfs"], cwd=tree, log=log,
        env={"CGO_ENABLED": "0"}), "go-build")
    shutil.rmtree(bin_dir, ignore_errors=True)
    staging.rename(bin_dir)
    shutil.rmtree(work, ignore_errors=True)
    return bin_dir / "ipfs"


def _download(go: str, log: Path) -> Path:
    return download_module(
        go, f"{pins.KUBO_MODULE}@{pins.KUBO_VERSION}", log, what="kubo, the IPFS node",
        fix="set ALGO_TRACER_IPFS_BIN to a kubo `ipfs` binary, or point ALGO_TRACER_IPFS_API at "
            "an IPFS node of your own (docs/ipfs.md)")


class Kubo:
    """The `ipfs` service of one LocalNet: its repository, ports and process."""

    def __init__(self, state_dir: Path, ports: Ports, run_dir: Path, logs_dir: Path) -> None:
        self.repo = state_dir / "ipfs"  # LocalNet.ipfs_dir
        self.ports = ports
        self.unavailable_file = run_dir / "ipfs-unavailable.txt"
        # The repository directory is on its command line: it tells ours from another kubo.
        self.service = Service(IPFS_SERVICE, "ipfs", run_dir / "ipfs.pid",
                               logs_dir / "ipfs.log", owner_arg=str(self.repo))

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.ports.ipfs_api}"

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.ports.ipfs_gateway}"

    def unavailable(self) -> str | None:
        """Why kubo could not be built at the last `start`, or None."""
        try:
            return self.unavailable_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def start(self, progress: Progress, held_dir: Path, tag: str) -> None:
        """Build (once) and start kubo, and wait until its gateway answers; when it cannot be
        built, hold the service (the supervisor leaves it down) and record why for `status`."""
        try:
            binary = ensure_kubo(progress)
        except LocalnetError as exc:
            self.mark_unavailable(f"{exc.message} ({exc.fix})")
            held_dir.mkdir(parents=True, exist_ok=True)
            (held_dir / IPFS_SERVICE).touch()
            progress(f"{tag} IPFS node not started (optional): {exc.message}")
            return
        self.spawn(binary)
        deadline = time.monotonic() + 60
        while not self.healthy():
            if self.service.pid() is None:
                raise LocalnetError("the IPFS node (kubo) exited during start-up",
                                    fix=f"see {self.service.log_file}:\n{self.service.tail(15)}")
            if time.monotonic() > deadline:
                raise LocalnetError(f"the IPFS node did not answer on {self.gateway_url} within "
                                    "60 s", fix=f"see {self.service.log_file}")
            time.sleep(0.2)

    def healthy(self) -> bool:
        # The gateway serves the empty identity CID without any block: "it answers".
        return get_json(f"{self.gateway_url}/ipfs/bafkqaaa") is not None

    def explain(self, services: list[ServiceState]) -> None:
        """`status`: a kubo that could not be built is optional, named with the reason."""
        reason = self.unavailable()
        for s in services:
            if s.name != IPFS_SERVICE or (s.healthy and s.pid is not None):
                continue
            if reason:
                s.fix = f"optional, not available: {reason}"
            elif s.pid is None and not (self.repo / "config").exists():
                # A network started by an algo-tracer without IPFS: its supervisor (and `start`
                # on a healthy network) leave it alone.
                s.fix = ("optional, never started on this network: `algo-tracer localnet stop` "
                         "then `algo-tracer localnet start` adds it (the chain is kept)")

    def spawn(self, binary: Path) -> None:
        """Initialise the repository once, then start the daemon unless it runs."""
        self.unavailable_file.unlink(missing_ok=True)
        if self.service.pid() is not None:
            return
        if not (self.repo / "config").exists():
            self._init(binary)
        self.service.spawn([str(binary), "--repo-dir", str(self.repo), "daemon", "--offline"])

    def mark_unavailable(self, reason: str) -> None:
        self.unavailable_file.parent.mkdir(parents=True, exist_ok=True)
        self.unavailable_file.write_text(reason + "\n")

    def _init(self, binary: Path) -> None:
        shutil.rmtree(self.repo, ignore_errors=True)
        log = self.service.log_file
        log.parent.mkdir(parents=True, exist_ok=True)
        steps = [["init", "--profile", "test", "--empty-repo"],
                 ["config", "Addresses.API", f"/ip4/{HOST}/tcp/{self.ports.ipfs_api}"],
                 ["config", "Addresses.Gateway", f"/ip4/{HOST}/tcp/{self.ports.ipfs_gateway}"],
                 ["config", "--json", "Addresses.Swarm", "[]"],
                 ["config", "--json", "Discovery.MDNS.Enabled", "false"],
                 ["config", "--json", "Bootstrap", "[]"]]
        with log.open("a") as out:
            for args in steps:
                proc = subprocess.run([str(binary), "--repo-dir", str(self.repo), *args],
                                      stdout=out, stderr=subprocess.STDOUT)
                if proc.returncode != 0:
                    shutil.rmtree(self.repo, ignore_errors=True)
                    raise LocalnetError(f"`ipfs {' '.join(args[:2])}` failed",
                                        fix=f"see {log}; then `algo-tracer localnet start`")
