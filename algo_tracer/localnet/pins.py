"""The versions the native LocalNet builds, pinned together.

go-algorand, conduit and the indexer must agree on the block header format: consensus v42
(go-algorand v5) added header fields that conduit v1.9.1 and indexer v3.9 reject, so the set below
is the newest one whose three parts decode each other's blocks (go-algorand v4.7.4, consensus v41).
conduit and the indexer come from `gotools/go.mod` (the indexer at the commit conduit requires).
"""

from __future__ import annotations

from dataclasses import dataclass

GO_ALGORAND_MODULE = "github.com/algorand/go-algorand"
# rel/stable tag v4.7.4-stable. go-algorand's tags carry no /vN module suffix, so the Go module
# proxy knows it only by its pseudo-version (commit time in UTC + commit hash).
GO_ALGORAND_TAG = "v4.7.4-stable"
GO_ALGORAND_VERSION = "v0.0.0-20260714194137-91cbddcd37d4"
CONDUIT_VERSION = "v1.9.1"
INDEXER_VERSION = "v3.9.1-0.20260112183408-2970dcb8ffa7"
# Build tags and flags of go-algorand's own Makefile that matter for a dev node.
GO_ALGORAND_BUILD_TAGS = "sqlite_unlock_notify sqlite_omit_load_extension"
GO_ALGORAND_LDFLAGS = "-X github.com/algorand/go-algorand/config.DefaultDeadlock=disable"
MIN_GO = (1, 25)
# The LocalNet's IPFS node (algo_tracer.localnet.kubo). Not v0.43.1: its go.mod replaces
# go-libp2p with a fork (github.com/lidel/go-libp2p) that the Go module proxy refuses (403), so
# it cannot be built from the proxy; v0.42.0 builds from its module alone.
KUBO_MODULE = "github.com/ipfs/kubo"
KUBO_VERSION = "v0.42.0"


@dataclass(frozen=True)
class Versions:
    go_algorand: str = f"{GO_ALGORAND_TAG} ({GO_ALGORAND_VERSION})"
    conduit: str = CONDUIT_VERSION
    indexer: str = INDEXER_VERSION
    kubo: str = KUBO_VERSION


def algod_cache_key() -> str:
    return f"go-algorand-{GO_ALGORAND_TAG}-{GO_ALGORAND_VERSION.rsplit('-', 1)[-1]}"


def tools_cache_key() -> str:
    return f"conduit-{CONDUIT_VERSION}-indexer-{INDEXER_VERSION.rsplit('-', 1)[-1]}"


def kubo_cache_key() -> str:
    return f"kubo-{KUBO_VERSION}"
