"""The "reproduced by" section of a verification report (pydantic, JSON; docs/reproductions.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from algo_tracer.documents.reproduction import Comparison

__all__ = ["ClaimStatus", "ReproducedBy", "ReproductionRow", "badge_text", "format_reproductions"]

#: verified: every check held and the comparison follows from both records; forged: the claim
#: does not follow from them; invalid: the reproduction itself fails verification or is not
#: sealed; malformed: the notes do not decode to a claim.
ClaimStatus = Literal["verified", "forged", "invalid", "malformed"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReproductionRow(_Model):
    experiment_id: str | None = Field(description="the reproduction (None: unreadable claim)")
    app_id: int | None = None
    recorder: str | None = Field(default=None, description="the reproduction's owner")
    claim_sender: str | None = None
    claim_txids: list[str] = Field(default_factory=list)
    claim_round: int | None = None
    sealed_round: int | None = None
    sealed_time: datetime | None = None
    status: ClaimStatus
    self_reproduction: bool = Field(default=False, description="recorded by the original's "
                                    "own owner: weaker evidence")
    matched: bool = Field(default=False, description="completed, stages equal, metrics within "
                          "tolerance")
    outcome: str | None = None
    summary: str = ""
    comparison: Comparison | None = None
    problems: list[str] = Field(default_factory=list)


class ReproducedBy(_Model):
    claims_found: int = Field(description="claim notes groups found under the original's id")
    claims_not_checked: int = Field(default=0, description="claims past the first MAX_CLAIMS "
                                    "(oldest first), neither verified nor counted")
    independent_accounts: int = Field(description="distinct accounts other than the owner "
                                      "whose verified reproduction matched")
    self_reproductions: int = 0
    badge: str
    reproductions: list[ReproductionRow] = Field(default_factory=list)


def badge_text(rows: list[ReproductionRow]) -> tuple[str, int, int]:
    """The badge, the count of independent accounts and of matching self-reproductions."""
    if not rows:
        return "no reproduction found on chain", 0, 0
    good = [r for r in rows if r.status == "verified" and r.matched]
    independent = sorted({r.recorder for r in good if not r.self_reproduction and r.recorder})
    own = sum(r.self_reproduction for r in good)
    if independent:
        first = next(r for r in good if not r.self_reproduction)
        text = (f"reproduced by {len(independent)} independent account"
                f"{'s' if len(independent) != 1 else ''}: {first.summary}")
    else:
        text = "no independent reproduction"
    if own:
        text += f" (and {own} by the owner, weaker evidence)"
    verified = sum(r.status == "verified" for r in rows)
    if verified > len(good):
        text += f"; {verified - len(good)} reproduction(s) did not match"
    if len(rows) > verified:
        text += f"; {len(rows) - verified} claim(s) not counted (forged, invalid or malformed)"
    return text, len(independent), own


def format_reproductions(rb: ReproducedBy) -> str:
    """The "reproduced by" section of `verify` and `show`."""
    lines = [f"reproduced by: {rb.badge}"]
    for r in rb.reproductions:
        who = "the owner (self-reproduction, weaker)" if r.self_reproduction else r.recorder
        lines.append(f"  {r.status.upper()}: {r.experiment_id or '?'} by {who or '?'}, sealed "
                     f"in round {r.sealed_round or '-'}, claim in round {r.claim_round}: "
                     f"{'matched' if r.matched else 'did not match'}"
                     + (f" ({r.summary})" if r.summary else ""))
        if r.comparison is not None:
            for row in r.comparison.rows:
                lines.append(f"      {row.label:<20} {row.status:<9} "
                             + "; ".join(row.differences[:4]))
            for m in r.comparison.metrics:
                lines.append(f"      {m.stage}.{m.name}: {m.original} -> {m.reproduction} "
                             f"(tolerance {m.tolerance:g}: "
                             f"{'within' if m.within else 'OUTSIDE'})")
        lines += [f"      problem: {p}" for p in r.problems[:5]]
    return "\n".join(lines)
