"""The one exception hierarchy of algo-tracer.

Every error a user can meet derives from `AlgoTracerError` and carries a message that names the
problem and, where there is one, the fix. The CLI maps these to exit codes
(algo_tracer.cli.outcome): a `VerificationError` means "tampering or mismatch found" (exit 1);
everything else is a usage, configuration or network problem (exit 2). `shorten` and
`describe_validation` keep messages readable when the input is huge or malformed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: The longest user-supplied value a message repeats whole; longer ones are cut (see `shorten`).
MAX_SHOWN = 80


class AlgoTracerError(Exception):
    """Base class of every error raised by algo-tracer on purpose."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(message if fix is None else f"{message}\n  fix: {fix}")

    def diagnostics(self) -> str:
        """Human text for a terminal: the problem, the fix, and the underlying cause if any."""
        text = str(self)
        if self.__cause__ is not None:
            text += f"\n  cause: {type(self.__cause__).__name__}: {self.__cause__}"
        return text


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """`text` cut to about `limit` characters, with its full length named when it was cut.

    For user-supplied values in messages (pass `repr(value)` to quote one): a 10,000-character
    name or path must not fill the terminal (or a log line) when it is refused.
    """
    return text if len(text) <= limit else f"{text[:limit - 1]}… ({len(text)} characters)"


def describe_validation(errors: Iterable[Mapping[str, Any]], *, limit: int = 5) -> str:
    """pydantic's `ValidationError.errors()` as short human lines: `field.path: message`.

    No documentation links, no repeated input values (they may be huge or secret), at most
    `limit` lines plus a count of the rest. Takes the list, not the exception, so this module
    needs no pydantic.
    """
    lines = []
    errors = list(errors)
    for err in errors[:limit]:
        where = ".".join(str(part) for part in err.get("loc", ())) or "(the document)"
        lines.append(f"{where}: {err.get('msg', 'invalid')}")
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more")
    return "; ".join(lines)


class ConfigError(AlgoTracerError):
    """Bad or missing configuration: environment variables, paths, ids, options."""


class InputError(AlgoTracerError):
    """An argument that cannot be used as given (wrong type, length, format or size)."""


class CidError(InputError):
    """A content id (CID) that is malformed, or names content algo-tracer cannot check."""


class NetworkError(AlgoTracerError):
    """A node, indexer or KMD could not be reached or answered with an error."""


class AlreadySubmittedError(NetworkError):
    """The node already holds these very signed transactions: pending in its pool or in a block.

    Sending the same bytes again is how the writer retries a write whose outcome is unknown while
    its validity window is open, so this answer means "wait for it", not "it failed".
    """


class SealTimeoutError(NetworkError):
    """An experiment's last writes were not confirmed within `finish(timeout=...)`: it is left,
    journaled, for `algo-tracer resume`."""


class LocalnetError(AlgoTracerError):
    """The local network could not be built, started, stopped or queried."""


class LocalnetUnavailableError(LocalnetError):
    """The LocalNet's programs cannot be obtained on this machine (not built, not downloadable)."""


class ContractError(AlgoTracerError):
    """The registry contract rejected a call; `code` is the contract's stable error text."""

    def __init__(self, message: str, *, code: str, fix: str | None = None) -> None:
        self.code = code
        super().__init__(message, fix=fix)


class InsufficientFundsError(AlgoTracerError):
    """The account cannot pay the fees or the storage deposit of a write."""


class JournalError(AlgoTracerError):
    """The local write-ahead journal is missing, corrupt or belongs to another experiment."""


class ExperimentBusyError(JournalError):
    """Another live process is recording the experiment (see algo_tracer.record.process_lock)."""


class VerificationError(AlgoTracerError):
    """What is on chain does not match what was claimed (tampering, drift or a missing record)."""


class ReproducibilityError(VerificationError, RuntimeError):
    """Data, code or environment drifted from a recorded run; raised before retraining."""


__all__ = [
    "AlgoTracerError",
    "CidError",
    "ConfigError",
    "ContractError",
    "InputError",
    "InsufficientFundsError",
    "JournalError",
    "LocalnetError",
    "LocalnetUnavailableError",
    "NetworkError",
    "ReproducibilityError",
    "VerificationError",
    "describe_validation",
    "shorten",
]
