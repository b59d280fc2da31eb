"""What the web page's API answers when it has no report or no content: `Problem` (docs/web.md
section 4), the network status it may carry, and the exception the routes raise to send one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["PROBLEMS", "STORED_PROBLEMS", "Endpoint", "NetworkStatus", "Problem", "ProblemError",
           "ProblemState"]

type ProblemState = Literal["invalid_input", "unknown_app", "unknown_experiment",
                            "network_down", "indexer_behind", "network_error", "config_error",
                            "busy", "not_stored", "stored_directory", "not_retrievable"]


class Endpoint(BaseModel):
    url: str | None = Field(description="server address, without credentials")
    ok: bool
    round: int | None = Field(default=None, description="algod: last round; Indexer: its round")
    error: str | None = None


class NetworkStatus(BaseModel):
    state: Literal["ok", "network_down", "indexer_behind"]
    message: str
    genesis_id: str | None = None
    is_localnet: bool | None = None
    default_app_id: int | None = Field(default=None, description="ALGO_TRACER_APP_ID or --app-id")
    algod: Endpoint
    indexer: Endpoint
    indexer_lag: int | None = Field(default=None, description="rounds the Indexer trails algod")


class Problem(BaseModel):
    state: ProblemState
    message: str
    fix: str | None = None
    network: NetworkStatus | None = None
    retry_after: int | None = Field(default=None,
                                    description="seconds; indexer_behind and busy only")


class ProblemError(Exception):
    """Raised by a route: answered as `problem` with HTTP `status_code`."""

    def __init__(self, status_code: int, problem: Problem) -> None:
        super().__init__(problem.message)
        self.status_code, self.problem = status_code, problem


def _described(*pairs: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem, "description": text} for code, text in pairs}


#: The lookup's answers other than 200, for the OpenAPI schema.
PROBLEMS = _described(
    (404, "unknown_app or unknown_experiment"),
    (422, "invalid_input: a malformed experiment id or app id"),
    (500, "config_error: the server's network configuration is incomplete"),
    (502, "network_error: a node answered with an error"),
    (503, "network_down, indexer_behind or busy (with a Retry-After header)"))

#: The stored-content route's: the lookup's, and those of the IPFS node.
STORED_PROBLEMS = {**PROBLEMS, **_described(
    (404, "unknown_app, unknown_experiment, or not_stored: no stored stage at that index"),
    (409, "stored_directory: a directory is fetched and checked with `algo-tracer fetch`"),
    (500, "config_error: the server's network or IPFS configuration is wrong"),
    (502, "network_error, or not_retrievable: the IPFS node is not reachable or failed"),
    (504, "not_retrievable: the IPFS node did not serve the CID within its timeout"))}
