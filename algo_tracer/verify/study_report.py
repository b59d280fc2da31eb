"""The plan and study sections of a verification report (pydantic, in `--json`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PlanCheck", "StudyCheck", "TrialRow"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanCheck(_Model):
    state: Literal["public", "revealed", "committed", "mismatch"] = Field(
        description="public: on chain in the clear; revealed: a private plan opened later; "
        "committed: private and never revealed; mismatch: a reveal that does not open it")
    round: int | None = Field(default=None, description="round the plan was recorded in")
    first_after: str | None = Field(default=None,
                                    description="the first record after the plan")
    first_after_round: int | None = None
    revealed_round: int | None = None
    revealed_txid: str | None = None
    plan: dict[str, Any] | None = None

    def line(self) -> str:
        fixed = f"plan fixed at round {self.round}"
        if self.first_after_round is not None:
            fixed += f", before the first {self.first_after} at round {self.first_after_round}"
        how = {"public": "public", "committed": "private, never revealed",
               "mismatch": "a reveal does NOT open its commitment",
               "revealed": f"private, revealed at round {self.revealed_round}"}[self.state]
        return f"{fixed} ({how})"


class TrialRow(_Model):
    number: int
    experiment: str
    state: Literal["complete", "failed", "pruned"]
    value: float | None = None
    round: int | None = Field(default=None, description="round the study recorded it in")
    created_round: int | None = Field(default=None, description="round the trial started in")
    sealed_round: int | None = Field(default=None, description="round the trial was sealed in")
    ok: bool = True
    message: str = ""


class StudyCheck(_Model):
    objective: str
    direction: Literal["maximize", "minimize"]
    planned: int | None = None
    sealed: bool = False
    trials: list[TrialRow] = Field(default_factory=list)
    selected: str | None = Field(default=None, description="experiment id the study selected")
    selected_number: int | None = None
    value: float | None = None
    outside: list[str] = Field(default_factory=list, description="trial experiments that name "
                               "the study but are not recorded in it")

    def headline(self) -> str:
        failed = sum(t.state == "failed" for t in self.trials)
        pruned = sum(t.state == "pruned" for t in self.trials)
        line = f"best of {len(self.trials)} ({failed} failed, {pruned} pruned)"
        if self.selected_number is not None and self.value is not None:
            line += f": trial {self.selected_number}, {self.objective} = {self.value:g}"
        if self.planned is not None and len(self.trials) < self.planned:
            line += f"; {self.planned} were planned"
        return line if self.sealed else f"open study, so far {line}"
