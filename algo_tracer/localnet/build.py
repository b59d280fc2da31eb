"""Builds the LocalNet's programs from their Go modules into a per-user cache.

algod, kmd and goal come from the official go-algorand module; its crypto package links a static
libsodium built from the fork shipped inside the module, so that is built first with autotools.
conduit and the indexer come from the pinned wrapper module in `gotools/`. Each set is built once
per pin and reused; `ALGO_TRACER_ALGOD_BIN_DIR` points at existing algod/kmd/goal binaries instead
(an official release, or `make build` of a go-algorand checkout).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from algo_tracer.errors import LocalnetError, LocalnetUnavailableError
from algo_tracer.localnet import pins
from algo_tracer.localnet.paths import cache_root

ALGOD_PROGRAMS = ("algod", "kmd", "goal")
TOOL_PROGRAMS = ("conduit", "algorand-indexer")
DEBIAN_BUILD_PACKAGES = {
    "autoconf": "autoconf",
    "automake": "automake",
    "libtoolize": "libtool",
    "make": "make",
    "gcc": "gcc",
}
GOTOOLS_DIR = Path(__file__).with_name("gotools")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Binaries:
    algod_dir: Path
    tools_dir: Path

    @property
    def algod(self) -> Path:
        return self.algod_dir / "algod"

    @property
    def kmd(self) -> Path:
        return self.algod_dir / "kmd"

    @property
    def goal(self) -> Path:
        return self.algod_dir / "goal"

    @property
    def conduit(self) -> Path:
        return self.tools_dir / "conduit"

    @property
    def indexer(self) -> Path:
        return self.tools_dir / "algorand-indexer"


def ensure_binaries(progress: Progress = print) -> Binaries:
    """Return the LocalNet programs, building whatever is missing for the current pins."""
    return Binaries(algod_dir=_ensure_algod(progress), tools_dir=_ensure_tools(progress))


def _ensure_algod(progress: Progress) -> Path:
    override = os.environ.get("ALGO_TRACER_ALGOD_BIN_DIR")
    if override:
        bin_dir = Path(override).expanduser()
        missing = [p for p in ALGOD_PROGRAMS if not os.access(bin_dir / p, os.X_OK)]
        if missing:
            raise LocalnetError(
                f"ALGO_TRACER_ALGOD_BIN_DIR={bin_dir} has no executable {', '.join(missing)}",
                fix="point it at a directory holding algod, kmd and goal side by side, "
                "or unset it to build them from the Go module proxy",
            )
        return bin_dir
    bin_dir = cache_root() / pins.algod_cache_key() / "bin"
    if all(os.access(bin_dir / p, os.X_OK) for p in ALGOD_PROGRAMS):
        return bin_dir
    go = _check_go()
    _check_build_packages()
    work = cache_root() / pins.algod_cache_key() / "build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    logs = work / "logs"
    logs.mkdir()
    steps = _Steps(progress, total=4, logs=logs)
    src = steps.run("download go-algorand", lambda log: _download_module(go, log), "download")
    tree = work / "go-algorand"
    steps.run("copy sources", lambda log: _copy_writable(src, tree), "copy")
    sodium = tree / "crypto" / "copies" / "linux" / "amd64" / "libsodium-fork"
    prefix = tree / "crypto" / "libs" / "linux" / "amd64"

    def build_sodium(log: Path) -> None:
        shutil.copytree(tree / "crypto" / "libsodium-fork", sodium)
        # The proxy's zip drops executable bits, so the scripts run through sh.
        _run(["sh", "autogen.sh"], cwd=sodium, log=log)
        _run(["sh", "configure", "--disable-shared", f"--prefix={prefix}"], cwd=sodium, log=log)
        _run(["make", f"-j{os.cpu_count() or 2}"], cwd=sodium, log=log)
        _run(["make", "install"], cwd=sodium, log=log)

    steps.run("build libsodium (autotools)", build_sodium, "libsodium")
    staging = work / "bin"

    def build_go(log: Path) -> None:
        _run(
            [go, "build", "-trimpath", "-tags", pins.GO_ALGORAND_BUILD_TAGS,
             "-ldflags", pins.GO_ALGORAND_LDFLAGS, "-o", f"{staging}/",
             *[f"./cmd/{p}" for p in ALGOD_PROGRAMS]],
            cwd=tree, log=log, env={"CGO_ENABLED": "1"},
        )

    steps.run("build algod, kmd, goal (go build)", build_go, "go-build")
    bin_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(bin_dir, ignore_errors=True)
    staging.rename(bin_dir)
    shutil.rmtree(work, ignore_errors=True)
    return bin_dir


def _ensure_tools(progress: Progress) -> Path:
    bin_dir = cache_root() / pins.tools_cache_key() / "bin"
    if all(os.access(bin_dir / p, os.X_OK) for p in TOOL_PROGRAMS):
        return bin_dir
    go = _check_go()
    work = cache_root() / pins.tools_cache_key() / "build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "logs").mkdir()
    module = work / "gotools"
    shutil.copytree(GOTOOLS_DIR, module)
    staging = work / "bin"
    steps = _Steps(progress, total=1, logs=work / "logs")

    def build(log: Path) -> None:
        _run(
            [go, "build", "-mod=readonly", "-trimpath", "-o", f"{staging}/",
             "github.com/algorand/conduit/cmd/conduit",
             "github.com/algorand/indexer/v3/cmd/algorand-indexer"],
            cwd=module, log=log, env={"CGO_ENABLED": "0"},
        )

    steps.run(f"build conduit {pins.CONDUIT_VERSION} and indexer (go build)", build, "tools")
    shutil.rmtree(bin_dir, ignore_errors=True)
    staging.rename(bin_dir)
    shutil.rmtree(work, ignore_errors=True)
    return bin_dir


class _Steps:
    """Runs numbered build steps, printing each with its elapsed time, logging to a file each."""

    def __init__(self, progress: Progress, *, total: int, logs: Path) -> None:
        self._progress = progress
        self._total = total
        self._logs = logs
        self._n = 0

    def run[T](self, title: str, action: Callable[[Path], T], log_name: str) -> T:
        self._n += 1
        log = self._logs / f"{self._n:02d}-{log_name}.log"
        self._progress(f"[localnet] build step {self._n}/{self._total}: {title} ...")
        started = time.monotonic()
        try:
            result = action(log)
        except LocalnetError:
            raise
        except (OSError, subprocess.SubprocessError) as exc:
            raise LocalnetError(
                f"build step '{title}' failed: {exc}", fix=f"see {log} for the full output"
            ) from exc
        self._progress(f"[localnet]   done in {time.monotonic() - started:.0f}s")
        return result


def _run(cmd: list[str], *, cwd: Path, log: Path, env: dict[str, str] | None = None) -> None:
    full_env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod", **(env or {})}
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise LocalnetError(
            f"`{' '.join(cmd[:3])} ...` exited with status {proc.returncode} in {cwd}:\n{tail}",
            fix=f"see {log} for the full output",
        )


def _download_module(go: str, log: Path) -> Path:
    return download_module(
        go, f"{pins.GO_ALGORAND_MODULE}@{pins.GO_ALGORAND_VERSION}", log,
        what=f"go-algorand {pins.GO_ALGORAND_TAG}",
        fix="use prebuilt binaries with ALGO_TRACER_ALGOD_BIN_DIR=<dir with algod, kmd, goal "
            f"of go-algorand {pins.GO_ALGORAND_TAG}>, or Docker with `algokit localnet start`, "
            "or an existing network through ALGOD_SERVER/INDEXER_SERVER "
            "(see README 'Local network')")


def download_module(go: str, target: str, log: Path, *, what: str, fix: str) -> Path:
    """The module cache directory of `target` (module@version), fetched through the Go module
    proxy; LocalnetUnavailableError naming the proxy and its answer when it does not serve it."""
    with tempfile.TemporaryDirectory() as empty:
        proc = subprocess.run(
            [go, "mod", "download", "-json", target], cwd=empty, capture_output=True, text=True,
            env={**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"},
        )
    log.write_text(proc.stdout + proc.stderr)
    try:
        info = json.loads(proc.stdout)
    except json.JSONDecodeError:
        info = {"Error": (proc.stderr or proc.stdout).strip()}
    if proc.returncode != 0 or info.get("Error") or not info.get("Dir"):
        proxy = os.environ.get("GOPROXY") or _go_env(go, "GOPROXY")
        raise LocalnetUnavailableError(
            f"the Go module proxy ({proxy}) did not serve {target} ({what}): "
            f"{info.get('Error', 'no module directory')}", fix=fix)
    return Path(info["Dir"])


def _copy_writable(src: Path, dst: Path) -> None:
    # The module cache is read-only; the libsodium build writes next to the crypto package.
    shutil.copytree(src, dst, symlinks=True)
    for root, dirs, files in os.walk(dst):
        for name in dirs + files:
            p = Path(root, name)
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | stat.S_IWUSR)
    dst.chmod(dst.stat().st_mode | stat.S_IWUSR)


def _go_env(go: str, key: str) -> str:
    return subprocess.run([go, "env", key], capture_output=True, text=True).stdout.strip()


def _check_go() -> str:
    go = shutil.which("go") or next(
        (str(p) for p in [Path("/usr/local/go/bin/go")] if p.exists()), None)
    if go is None:
        raise LocalnetUnavailableError(
            "Go is not installed; the native LocalNet builds algod, conduit and the indexer",
            fix=f"install Go >= {'.'.join(map(str, pins.MIN_GO))} (https://go.dev/doc/install) "
            "and put it on PATH, or use Docker with `algokit localnet start`",
        )
    out = subprocess.run([go, "version"], capture_output=True, text=True).stdout
    m = re.search(r"go(\d+)\.(\d+)", out)
    if not m or (int(m[1]), int(m[2])) < pins.MIN_GO:
        raise LocalnetError(
            f"{go} is too old ({out.strip()}); go-algorand needs Go >= "
            f"{'.'.join(map(str, pins.MIN_GO))}",
            fix="install a newer Go and put it first on PATH",
        )
    return go


def _check_build_packages() -> None:
    missing = sorted(
        {pkg for tool, pkg in DEBIAN_BUILD_PACKAGES.items() if shutil.which(tool) is None})
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", *missing]
        for cmd in (["apt-get", "update", "-qq"], install):
            if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
                raise LocalnetError(
                    f"could not install the Debian build packages {' '.join(missing)}",
                    fix=f"run: apt-get install -y {' '.join(missing)}",
                )
        return
    raise LocalnetError(
        f"missing build tools for libsodium: {' '.join(missing)}",
        fix=f"run: sudo apt-get install -y {' '.join(missing)}",
    )
