"""The next round on an idle DevMode chain, so that conduit can start without a transaction.

conduit (v1.9.1) initialises its algod importer by waiting for the round after the last one it
exported (`StatusAfterBlock` on the follower node). A DevMode chain makes a block only when a
transaction arrives, and algod answers that wait after one minute without a block; conduit then
exits ("did not reach expected round 1258 != 1259"), and its `retry-count` does not cover
initialisation. So before conduit is started on DevMode, when the round it will wait for does
not exist yet, the network produces it: a 0-ALGO self-payment from the first genesis wallet (the
LocalNet dispenser; fee 1,000 µALGO), sent with `goal clerk send` through our own kmd, and waited
for on the follower node (whose sync round is set to it, as conduit would, so that it fetches the
round at once) so that conduit finds it without waiting. A chain at real block times (the
realtime profile) makes the round by itself within seconds and is left alone.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from algo_tracer.localnet.layout import HOST, TOKEN
from algo_tracer.localnet.status import get_json

DISPENSER_WALLET = "Wallet1"  # the template's first funded, online genesis wallet
KMD_WALLET = "unencrypted-default-wallet"


def conduit_next_round(conduit_dir: Path) -> int | None:
    """The round conduit will ask for first (its `metadata.json`), None before its first run."""
    try:
        value = json.loads((conduit_dir / "metadata.json").read_text()).get("next-round")
    except (FileNotFoundError, json.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def dispenser_address(data_dir: Path) -> str | None:
    try:
        alloc = json.loads((data_dir / "genesis.json").read_text())["alloc"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None
    return next((a["addr"] for a in alloc if a.get("comment") == DISPENSER_WALLET), None)


def last_round(port: int) -> int | None:
    status = get_json(f"http://{HOST}:{port}/v2/status", token=TOKEN)
    value = (status or {}).get("last-round")
    return value if isinstance(value, int) else None


def make_round_for_conduit(*, goal: Path, data_dir: Path, conduit_dir: Path, algod_port: int,
                           follower_port: int, log_file: Path,
                           progress: Callable[[str], None], timeout: float = 30.0) -> bool:
    """Produce the round conduit will wait for if the chain has not reached it; True if a round
    was made. Failing is not fatal (conduit may still find a block, and the supervisor restarts
    it if not): the reason goes to `progress` and `log_file`."""
    wanted = conduit_next_round(conduit_dir)
    current = last_round(algod_port)
    if wanted is None or current is None or current >= wanted:
        return False
    address = dispenser_address(data_dir)
    if address is None:
        progress(f"[localnet] no {DISPENSER_WALLET} in {data_dir / 'genesis.json'}: conduit may "
                 "wait for the next transaction")
        return False
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as log:
        log.write(f"round {wanted} for conduit: 0-ALGO self-payment from {address}\n")
        log.flush()
        try:
            proc = subprocess.run(
                [str(goal), "clerk", "send", "-a", "0", "-f", address, "-t", address,
                 "-d", str(data_dir), "-w", KMD_WALLET, "--note", "algo-tracer: next round"],
                stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
            )
            failed = proc.returncode != 0
        except subprocess.TimeoutExpired:
            failed = True
    if failed:
        progress(f"[localnet] could not make round {wanted} for conduit (see {log_file})")
        return False
    # The follower fetches new blocks from the relay on its own schedule, which can be half a
    # minute after a restart; setting its sync round (the one conduit sets first thing anyway)
    # makes it fetch at once.
    _set_sync_round(follower_port, wanted)
    deadline = time.monotonic() + timeout
    while (last_round(follower_port) or 0) < wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    return True


def _set_sync_round(port: int, round_: int) -> None:
    request = urllib.request.Request(f"http://{HOST}:{port}/v2/ledger/sync/{round_}",
                                     method="POST", headers={"X-Algo-API-Token": TOKEN})
    # Refused when the follower is already past it: then it has the round, which is all we need.
    with contextlib.suppress(urllib.error.URLError, OSError):
        urllib.request.urlopen(request, timeout=5).close()
