"""Check a model card's front matter (MODEL_CARD.md) against the chain.

The `algotrace` block names the experiment; its network, owner and seal must be the chain's, and
the metric values the card shows in `model-index` are re-hashed, per metrics stage, by the
params scheme the block names, and compared with that stage's on-chain digest. So an edited
metric value, a metric added or dropped, or an edited `algotrace` block is an error finding
(exit 1). The Markdown body below the front matter is not checked (docs/interop.md §3).
"""

from __future__ import annotations

from typing import Any

from algokit_utils import AlgorandClient

from algo_tracer import hashing
from algo_tracer.documents.card_metadata import read_front_matter
from algo_tracer.errors import InputError
from algo_tracer.format.ids import parse_id
from algo_tracer.progress import Progress
from algo_tracer.verify.experiment import VerifyOptions, verify_with_evidence
from algo_tracer.verify.report import CheckRow, Finding, VerificationReport

__all__ = ["CARD_STEP", "verify_model_card"]

#: The step number of the card checks in a report (docs/verification.md).
CARD_STEP = 13
_FIX = "give a MODEL_CARD.md written by algo-tracer (its front matter has an `algotrace` block)"


def verify_model_card(algorand: AlgorandClient, text: str, *, indexer_timeout: float = 60,
                      progress: Progress | None = None) -> VerificationReport:
    """The experiment's report from the chain, with the card's checks as step `CARD_STEP`.

    Raises:
        InputError: no front matter, or no `algotrace` block naming an experiment and app.
        NetworkError, ConfigError: as `verify_experiment`.
    """
    meta = read_front_matter(text)
    block = meta.get("algotrace")
    try:
        assert isinstance(block, dict)
        eid, app_id = parse_id(str(block["experiment_id"])), int(block["app_id"])
    except (AssertionError, KeyError, TypeError, ValueError, InputError):
        raise InputError("the card's front matter has no `algotrace` block with experiment_id "
                         "and app_id", fix=_FIX) from None
    report, ev = verify_with_evidence(algorand, app_id, eid, VerifyOptions(
        indexer_timeout=indexer_timeout, progress=progress))
    problems: list[str] = []
    h = ev.header
    if h is None:
        problems.append(f"the card names experiment {block['experiment_id']}, which is not in "
                        f"app {app_id}")
    else:
        def same(what: str, claimed: Any, chain: Any) -> None:
            if claimed != chain:
                problems.append(f"{what}: the card says {claimed!r}, the chain {chain!r}")

        same("genesis hash", block.get("genesis_hash"), report.genesis_hash)
        same("network", block.get("network"), report.genesis_id)
        same("owner", block.get("owner"), report.owner)
        same("final digest", block.get("final_digest"), h.final_digest.hex() if h.sealed else None)
        problems += _metric_problems(meta, block, {s.index: s.digest.hex() for s in ev.stages})
    for p in problems:
        report.findings.append(Finding(step=CARD_STEP, severity="error", code="model_card",
                                       message=p))
    report.checks.append(CheckRow(
        step=CARD_STEP, name="model card front matter", status="fail" if problems else "pass",
        detail=f"{len(problems)} claim(s) differ from the chain" if problems else
        "network, owner, seal and every model-index metric match the chain"))
    return report.finalize()


def _metric_problems(meta: dict[str, Any], block: dict[str, Any],
                     chain: dict[int, str]) -> list[str]:
    shown: dict[str, Any] = {}
    for model in meta.get("model-index") or []:
        for result in (model or {}).get("results") or []:
            for metric in (result or {}).get("metrics") or []:
                if isinstance(metric, dict) and "name" in metric:
                    shown[str(metric["name"])] = metric.get("value")
    out: list[str] = []
    claimed_names: set[str] = set()
    for stage in block.get("metrics_stages") or []:
        try:
            index, names = int(stage["index"]), [str(n) for n in stage["names"]]
            scheme = str(stage.get("scheme", hashing.PARAMS_SCHEME_V1))
        except (KeyError, TypeError, ValueError):
            out.append(f"a metrics_stages entry is malformed: {str(stage)[:100]}")
            continue
        claimed_names |= set(names)
        missing = [n for n in names if n not in shown]
        if missing:
            out.append(f"metrics stage {index}: {', '.join(missing)} not in model-index")
            continue
        try:
            digest = hashing.hash_params({n: shown[n] for n in names}, scheme).hex
        except InputError as exc:
            out.append(f"metrics stage {index}: cannot re-hash the card's values: {exc.message}")
            continue
        if chain.get(index) != digest:
            out.append(f"metrics stage {index}: the card's values {({n: shown[n] for n in names})}"
                       f" do not hash to the chain's digest (edited?)")
    extra = sorted(set(shown) - claimed_names)
    if extra:
        out.append(f"model-index shows metrics no recorded stage holds: {', '.join(extra)}")
    return out
