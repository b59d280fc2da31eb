"""Checks made before an experiment starts: nothing is journaled when one fails."""

from __future__ import annotations

from pathlib import Path

from algo_tracer.documents.manifest import Manifest
from algo_tracer.errors import InputError, InsufficientFundsError
from algo_tracer.format import chain
from algo_tracer.network.algod import account_balance
from algo_tracer.network.settings import Settings

__all__ = ["MIN_FEE", "check_funds", "check_output_dir", "slug"]

MIN_FEE = 1_000


def check_funds(settings: Settings) -> None:
    """Refuse to start (nothing journaled) when the account cannot even pay the create."""
    address = settings.account.address
    amount, locked = account_balance(settings.algorand, address)
    available = amount - locked
    needed = chain.header_box_mbr() + 2 * MIN_FEE
    if available < needed:
        per_stage = chain.stage_mbr(1) + 2 * MIN_FEE
        raise InsufficientFundsError(
            f"account {address} has {max(available, 0)} µALGO available (balance minus its "
            f"locked minimum); starting an experiment needs {needed} µALGO (box deposit "
            f"{chain.header_box_mbr()} + fees), and each stage about {per_stage} more",
            fix=f"send at least {needed + 10 * per_stage} µALGO to {address}")


def check_output_dir(out: Path) -> None:
    # A manifest is evidence (the seal binds it; private records live only there): a new
    # experiment never overwrites another one's.
    previous = out / "manifest.json"
    if previous.exists():
        try:
            owner = f"experiment {Manifest.read(previous).experiment_id}"
        except InputError:
            owner = "another file"
        raise InputError(f"{out} already holds the manifest of {owner}",
                         fix="give each run its own output_dir, or leave output_dir out (each "
                         "experiment then gets a new folder under the tracer's output_root)")


def slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40] or "experiment"
