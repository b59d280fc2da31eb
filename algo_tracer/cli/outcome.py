"""What a command came to, and the one map from that to the exit code (the CLI's contract).

| outcome | exit | when |
|---|---:|---|
| `OK` | 0 | verified, or the command did what it was asked |
| `FINDING` | 1 | a named finding was reported: a mismatch or tampering, printed as `FAIL:` lines |
| `ERROR` | 2 | anything else: usage, configuration, network, an unhealthy LocalNet, and |
| | | every unexpected exception |

Scripts may read exit 1 as "tampering or a mismatch was found" and nothing else: a crash, a
missing file or a path the OS refuses is never 1.
"""

from __future__ import annotations

import enum

__all__ = ["Outcome", "exit_code"]


class Outcome(enum.Enum):
    OK = "ok"
    FINDING = "finding"
    ERROR = "error"

    @classmethod
    def of(cls, ok: bool) -> Outcome:
        """`OK`, else `FINDING`: for a report whose failures were printed."""
        return cls.OK if ok else cls.FINDING


_EXIT_CODES = {Outcome.OK: 0, Outcome.FINDING: 1, Outcome.ERROR: 2}


def exit_code(outcome: Outcome) -> int:
    return _EXIT_CODES[outcome]
