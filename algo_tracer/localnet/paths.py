"""Where the native LocalNet keeps its programs (cache) and its chain (state)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Built programs, keyed by pinned version: `$XDG_CACHE_HOME/algo-tracer/localnet`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "algo-tracer" / "localnet"


def state_root() -> Path:
    """Chain, wallets, database and logs: `ALGO_TRACER_LOCALNET_DIR`, else a per-user default.

    As root the default is /var/lib/algo-tracer/localnet: PostgreSQL refuses to run as root, and the
    unprivileged `postgres` account it runs as cannot enter root's home directory.
    """
    explicit = os.environ.get("ALGO_TRACER_LOCALNET_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if os.geteuid() == 0:
        return Path("/var/lib/algo-tracer/localnet")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "algo-tracer" / "localnet"


def profile_state_root(suffix: str, variable: str) -> Path:
    """A network profile's state directory: `variable` if set, else the default directory's
    sibling named `<default name><suffix>` (so an ALGO_TRACER_LOCALNET_DIR moves both)."""
    explicit = os.environ.get(variable)
    if explicit:
        return Path(explicit).expanduser()
    default = state_root()
    return default.with_name(default.name + suffix)
