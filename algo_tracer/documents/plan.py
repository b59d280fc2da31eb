"""Plans: the evaluation protocol a researcher commits to before looking (pre-registration).

A plan is a JSON mapping: anything the researcher fixes in advance. These keys have a meaning
to algo-tracer (docs/studies.md); others are recorded as given:

* ``metric`` (primary metric name) and ``direction`` (``"maximize"`` or ``"minimize"``): how a
  study selects its best trial;
* ``n_trials``: the budget; a study sealed with fewer trials says so;
* ``tolerance``: a number (absolute tolerance for every metric) or ``{metric: tolerance}``, used
  when reproductions compare metrics (exact when absent);
* ``test_split``, ``seeds``: free-form, usually a digest or name and a list of ints.

The plan stage's digest is a salted commitment, ``SHA-256("algotrace/v<s>/plan" || 0x00 ||
salt(32) || json(plan))`` under the experiment's JSON scheme s (v1: canonical JSON; v2: RFC
8785; docs/hashing.md §13). A public plan's stage detail is ``{"plan": ..., "salt":
hex}`` (anyone recomputes the commitment); a private plan's detail is ``{"private": true}`` and
its plan and salt stay with the recorder (`PlanReveal`) until revealed.
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from algo_tracer.documents.atomic import read_model, write_text_atomic
from algo_tracer.errors import InputError, shorten
from algo_tracer.hashing import JSON_SCHEME_V1, canonical_json, hash_json

__all__ = [
    "PLAN_DOMAIN",
    "PlanReveal",
    "declared_tolerance",
    "describe_plan",
    "load_plan",
    "opens_commitment",
    "plan_commitment",
    "plan_direction",
    "tolerance_for",
]

#: The commitment's tag under JSON scheme v1 (v2: "algotrace/v2/plan", `hashing.json_tag`).
PLAN_DOMAIN: Final = "algotrace/v1/plan"
DIRECTIONS: Final = ("maximize", "minimize")
_SALT_BYTES = 32


class PlanReveal(BaseModel):
    """What opens a private plan's commitment: keep it; publish it (or `reveal`) when ready."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["algo-tracer-plan-reveal/v1"] = "algo-tracer-plan-reveal/v1"
    experiment_id: str = Field(description="base58 id of the experiment or study")
    plan: dict[str, Any]
    salt: str = Field(pattern=r"^[0-9a-f]{64}$")
    json_scheme: int = Field(
        default=JSON_SCHEME_V1, ge=1, le=2,
        description="the experiment's JSON scheme (docs/hashing.md §13), which the commitment "
                    "is computed under; absent in files written before scheme v2")

    def commitment(self) -> bytes:
        return plan_commitment(self.plan, bytes.fromhex(self.salt), self.json_scheme)

    def write(self, path: str | os.PathLike[str]) -> None:
        write_text_atomic(path, self.model_dump_json(indent=2) + "\n", mode=0o600)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> PlanReveal:
        return read_model(cls, path, what="plan reveal",
                          fix="give the plan-reveal JSON that `tracer.experiment(..., plan=..., "
                              "private_plan=True)` saved (see `algo-tracer reveal --help`)")


def load_plan(plan: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """The plan as a mapping: given as one, or read from a .json or .toml file. Checked so that
    it can be hashed (canonical JSON) and its known keys make sense."""
    if isinstance(plan, Mapping):
        loaded: Any = dict(plan)
    else:
        path = Path(plan)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read the plan file {path}: {exc.strerror or exc}",
                             fix="pass an existing .json or .toml file, or a dict") from exc
        try:
            loaded = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"the plan file {path} is not valid "
                             f"{'TOML' if path.suffix == '.toml' else 'JSON'}: {exc}",
                             fix="fix the file (a .toml file is read as TOML, others as "
                                 "JSON)") from exc
    if not isinstance(loaded, dict) or not loaded:
        raise InputError(f"a plan must be a non-empty mapping, not {shorten(repr(loaded))}",
                         fix='pass e.g. {"metric": "accuracy", "direction": "maximize"}')
    canonical_json(loaded)  # InputError for what cannot be hashed (NaN, non-str keys, ...)
    direction = loaded.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise InputError(f"the plan's direction is {shorten(repr(direction))}",
                         fix='use "maximize" or "minimize"')
    for key in ("metric",):
        if key in loaded and not (isinstance(loaded[key], str) and loaded[key]):
            raise InputError(f"the plan's {key} must be a metric name",
                             fix=f'e.g. "{key}": "accuracy"')
    if "n_trials" in loaded and not (type(loaded["n_trials"]) is int and loaded["n_trials"] > 0):
        raise InputError(f"the plan's n_trials is {shorten(repr(loaded['n_trials']))}",
                         fix="give the planned number of trials as a positive integer")
    _check_tolerance(loaded.get("tolerance"))
    return loaded


def plan_commitment(plan: Mapping[str, Any], salt: bytes,
                    scheme: int = JSON_SCHEME_V1) -> bytes:
    """The plan stage's digest: ``hash_json("plan", plan, scheme, salt=salt)``, i.e. under
    JSON scheme v1 SHA-256("algotrace/v1/plan" || 0x00 || salt || canonical_json(plan)), under
    v2 the RFC 8785 text under "algotrace/v2/plan"."""
    if len(salt) != _SALT_BYTES:
        raise InputError(f"a plan salt is {_SALT_BYTES} bytes, not {len(salt)}",
                         fix="use the salt saved with the plan")
    return hash_json("plan", dict(plan), scheme, salt=salt).value


def opens_commitment(detail: Mapping[str, Any], commitment: bytes,
                     scheme: int = JSON_SCHEME_V1) -> bool:
    """Whether `detail` ({"plan": ..., "salt": hex}, e.g. a stage note's) opens `commitment`
    under JSON scheme `scheme` (a stage note's is its version byte)."""
    try:
        return plan_commitment(detail["plan"], bytes.fromhex(detail["salt"]), scheme) == commitment
    except (KeyError, ValueError, TypeError, AttributeError, InputError):
        return False


def describe_plan(plan: Mapping[str, Any], *, private: bool, salt: bytes | None = None,
                  scheme: int = JSON_SCHEME_V1) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    """(digest, stage detail, reveal fields {"plan", "salt"}) for recording a plan under the
    experiment's JSON scheme."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = plan_commitment(plan, salt, scheme)
    opened = {"plan": dict(plan), "salt": salt.hex()}
    return digest, ({"private": True} if private else opened), opened


def plan_direction(plan: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(metric, direction) the plan names, each None when it does not."""
    if not plan:
        return None, None
    return plan.get("metric"), plan.get("direction")


def declared_tolerance(plan: Mapping[str, Any] | None) -> float | dict[str, float] | None:
    """The absolute tolerance the plan declares: a number for every metric, or per metric name;
    None (exact) without a plan or a valid `tolerance`. A reproduction records this."""
    value = None if plan is None else plan.get("tolerance")
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value >= 0:
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items()
                if isinstance(v, int | float) and not isinstance(v, bool) and v >= 0}
    return None


def tolerance_for(plan: Mapping[str, Any] | None, metric: str) -> float:
    """The absolute tolerance the plan declares for `metric`: 0.0 (exact) when none."""
    tolerance = declared_tolerance(plan)
    return tolerance.get(metric, 0.0) if isinstance(tolerance, dict) else tolerance or 0.0


def _check_tolerance(tolerance: Any) -> None:
    values = list(tolerance.values()) if isinstance(tolerance, Mapping) else [tolerance]
    for value in values:
        if value is None and not isinstance(tolerance, Mapping):
            return
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InputError(f"the plan's tolerance {shorten(repr(tolerance))} is not a "
                             "non-negative number or a mapping of metric name to one",
                             fix='e.g. "tolerance": 0.001 or {"accuracy": 0.001}')
