"""Where an experiment writes its documents: one new folder per experiment, never reused."""

from __future__ import annotations

from pathlib import Path

from algo_tracer.documents.manifest import Manifest
from algo_tracer.errors import InputError

__all__ = ["check_output_dir", "slug"]


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
