"""Step 9's metric history check: every value MLflow holds for a run's metrics against the note
records the chain proves. Internal: no stability promise; docs/mlflow.md ("Metric history")
states the rules.

A value is compared as (note-record name, step, value); MLflow's timestamps are left out, since
the client sets them and the chain never saw them. Values are compared as MLflow's stores keep
them: NaN equals NaN, ±inf is ±1.7976931348623157e308 (MLflow's SQL store clamps it so), and
-0.0 is 0.0 (SQLite keeps a whole-number REAL as an integer).
"""

from __future__ import annotations

import math
import struct
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from algo_tracer.format.records import NoteRecord, RecordKind
from algo_tracer.integrations.mlflow._content import SYSTEM_METRICS_PREFIX, metric_name
from algo_tracer.verify.report import CheckRow, Finding

STEP = 9
#: Findings listed one by one; the check's detail counts all of them.
MAX_FINDINGS = 50

_Value = tuple[str, int, int]  # (note-record name, step, value bits as compared)


@dataclass
class HistoryCheck:
    """The verdict: one check row, a finding per differing value, what could not be told."""

    check: CheckRow
    findings: list[Finding] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)


def read_history(client: Any, run_id: str, keys: Iterable[str]) -> dict[str, list[Any]]:
    """Every logged value of each metric key (`mlflow.entities.Metric`), one request per key."""
    return {key: list(client.get_metric_history(run_id, key)) for key in keys}


def compare_history(history: Mapping[str, Sequence[Any]], records: Iterable[NoteRecord], *,
                    undisclosed: int = 0) -> HistoryCheck:
    """Compare MLflow's metric `history` (key -> Metric entities) with the chain's `records`.

    Each (name, step, value) is compared both ways: a value MLflow has that the chain lacks was
    added or edited, one the chain has that MLflow lacks was removed or edited. MLflow may hold
    a value fewer times than the chain (its SQL store keeps one row for the same key, step,
    value and timestamp), never more. Negative steps were never recorded and are skipped.
    ``system/*`` metrics are checked one way only: MLflow's monitor logs them after the seal.
    `undisclosed` private records may be any of the extra values, so up to that many extras
    are not failures (the report says they were not checked).
    """
    names = {metric_name(key): key for key in history}
    chain: Counter[_Value] = Counter(
        (r.name, r.step, _bits(r.value)) for r in records
        if r.kind is RecordKind.METRIC and isinstance(r.value, float))
    mlflow: Counter[_Value] = Counter()
    negative = 0
    for key, metrics in history.items():
        for m in metrics:
            step = int(m.step or 0)
            if step < 0:
                negative += 1
                continue
            mlflow[(metric_name(key), step, _bits(float(m.value)))] += 1
    removed = Counter({v: n for v, n in chain.items() if v not in mlflow})
    added = mlflow - chain
    late_system = Counter({v: n for v, n in added.items()
                           if v[0].startswith(SYSTEM_METRICS_PREFIX)})
    added -= late_system
    result = HistoryCheck(CheckRow(step=STEP, name="mlflow metric history", status="pass"))
    # An extra value at a step where a public value went missing is an edit, never excused.
    edited = {(name, step) for name, step, _ in removed}
    unknown = Counter({v: n for v, n in added.items() if (v[0], v[1]) not in edited})
    if undisclosed and unknown and unknown.total() <= undisclosed:
        result.not_checked.append(
            f"{unknown.total()} MLflow metric values that may be among the {undisclosed} "
            "undisclosed private records (give the manifest to compare them)")
        added -= unknown
    lines = _differences(names, removed, added)
    for code, message in lines[:MAX_FINDINGS]:
        result.findings.append(Finding(step=STEP, severity="error", code=code, message=message))
    compared = mlflow.total()
    extras = []
    if late_system:
        extras.append(f"{late_system.total()} system/* values logged after the seal not checked")
    if negative:
        extras.append(f"{negative} values with a negative step are not in the note stream")
    tail = ("; " + "; ".join(extras)) if extras else ""
    if lines:
        result.check.status = "fail"
        result.check.detail = (f"{len(lines)} metric steps differ from the chain's records: "
                               f"{lines[0][1]}" + (f" (and {len(lines) - 1} more)"
                                                   if len(lines) > 1 else "") + tail)
    else:
        result.check.detail = (f"{compared} values of {len(history)} metrics, every step, "
                               f"equal the chain's records{tail}")
    return result


def _differences(names: Mapping[str, str], removed: Counter[_Value],
                 added: Counter[_Value]) -> list[tuple[str, str]]:
    # One line per (metric, step): an edit shows both values, else what was added or removed.
    by_step: dict[tuple[str, int], tuple[list[int], list[int]]] = {}
    for (name, step, bits), n in sorted(removed.items()):
        by_step.setdefault((name, step), ([], []))[0].extend([bits] * n)
    for (name, step, bits), n in sorted(added.items()):
        by_step.setdefault((name, step), ([], []))[1].extend([bits] * n)
    lines = []
    for (name, step), (on_chain, in_mlflow) in sorted(by_step.items()):
        what = f"metric {names.get(name, name)!r} step {step}"
        chain_text, mlflow_text = _values(on_chain), _values(in_mlflow)
        if on_chain and in_mlflow:
            lines.append(("mlflow_metric_changed",
                          f"{what}: MLflow has {mlflow_text}, the chain has {chain_text}"))
        elif on_chain:
            lines.append(("mlflow_metric_removed",
                          f"{what}: the chain has {chain_text}, MLflow does not"))
        else:
            lines.append(("mlflow_metric_added",
                          f"{what}: MLflow has {mlflow_text}, the chain does not"))
    return lines


def _bits(value: float) -> int:
    if math.isnan(value):
        return _NAN_BITS
    if math.isinf(value):
        value = math.copysign(sys.float_info.max, value)
    elif value == 0:
        value = 0.0
    return int.from_bytes(struct.pack(">d", value), "big")


def _values(bits: list[int]) -> str:
    return ", ".join(repr(struct.unpack(">d", b.to_bytes(8, "big"))[0]) for b in bits)


_NAN_BITS = int.from_bytes(struct.pack(">d", math.nan), "big")

__all__ = ["HistoryCheck", "compare_history", "read_history"]
