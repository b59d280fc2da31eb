"""Model cards (Mitchell et al., 2019) that carry the experiment's on-chain references.

The card is generated from the manifest, so every digest in it is one that `algo-tracer verify`
checks; the prose sections come from `Experiment.card` (a `ModelCardInfo`), filled by the user.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from algo_tracer.documents.atomic import write_text_atomic
from algo_tracer.documents.card_metadata import card_front_matter, to_yaml
from algo_tracer.documents.manifest import Manifest, StageKind

NOT_GIVEN = "Not provided."


class ModelCardInfo(BaseModel):
    """The sections a person must write; everything measurable comes from the manifest."""

    model_config = ConfigDict(validate_assignment=True)

    model_details: str = NOT_GIVEN
    intended_use: str = NOT_GIVEN
    out_of_scope_use: str = NOT_GIVEN
    factors: str = NOT_GIVEN
    ethical_considerations: str = NOT_GIVEN
    caveats_and_recommendations: str = NOT_GIVEN
    limitations: str = NOT_GIVEN


class ModelCard(BaseModel):
    """model_card.json: the card's content in machine-readable form."""

    name: str
    info: ModelCardInfo
    experiment_id: str
    app_id: int
    network: str
    owner: str
    training_data: dict[str, str]
    evaluation_data: dict[str, str]
    metrics: dict[str, object]
    model: dict[str, str]
    sealed: bool
    final_digest: str | None
    verify_command: str
    stored: dict[str, str] = {}
    """The stages stored on IPFS (`store=True`): label -> CID, fetchable by anyone."""
    outcome: str = "completed"
    """How the run ended: ``completed``, or the recorded `custom:outcome` (``failed: ...``,
    ``interrupted``, ``killed``, ...)."""


def build_model_card(manifest: Manifest, info: ModelCardInfo) -> ModelCard:
    data = {s.label.split(":", 1)[-1]: s.digest for s in manifest.stages
            if s.kind == StageKind.DATA}
    evaluation = {k: v for k, v in data.items() if k.lower().startswith(("test", "eval", "val"))}
    metrics: dict[str, object] = {}
    outcome = "completed"
    for s in manifest.stages:
        if s.kind == StageKind.METRICS:
            metrics.update(s.detail.get("metrics", {}))
        elif s.label == "custom:outcome":
            outcome = str(s.detail.get("outcome", "unknown"))
    return ModelCard(
        name=manifest.name, info=info, experiment_id=manifest.experiment_id,
        app_id=manifest.app_id, network=manifest.genesis_id, owner=manifest.owner,
        training_data={k: v for k, v in data.items() if k not in evaluation},
        evaluation_data=evaluation, metrics=metrics,
        model={s.label: s.digest for s in manifest.stages if s.kind == StageKind.MODEL},
        sealed=manifest.seal is not None, outcome=outcome,
        stored={str(s.detail.get("stage")): str(s.detail.get("cid")) for s in manifest.stages
                if s.kind == StageKind.STORED},
        final_digest=manifest.seal.final_digest if manifest.seal else None,
        verify_command=(f"algo-tracer verify {manifest.experiment_id} --app-id {manifest.app_id}"
                        " --manifest manifest.json"))


def render_markdown(card: ModelCard) -> str:
    def table(rows: Mapping[str, object], head: tuple[str, str]) -> str:
        if not rows:
            return NOT_GIVEN + "\n"
        lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
        lines += [f"| {k} | `{v}` |" if head[1] == "SHA-256" else f"| {k} | {v} |"
                  for k, v in rows.items()]
        return "\n".join(lines) + "\n"

    i = card.info
    return f"""# Model card: {card.name}

Recorded on Algorand ({card.network}), registry app {card.app_id}, experiment
`{card.experiment_id}`, by `{card.owner}`. {"Sealed" if card.sealed else "NOT sealed"}
{f"with final digest `{card.final_digest}`" if card.final_digest else ""}.
{"" if card.outcome == "completed" else f"""
**Outcome: {card.outcome}.** The run did not complete: its model and metrics may be partial.
"""}
## Model details
{i.model_details}

{table(card.model, ("artifact", "SHA-256"))}
## Intended use
{i.intended_use}

Out of scope: {i.out_of_scope_use}

## Factors
{i.factors}

## Metrics
{table(card.metrics, ("metric", "value"))}
## Training data
{table(card.training_data, ("dataset", "SHA-256"))}
## Evaluation data
{table(card.evaluation_data, ("dataset", "SHA-256"))}
## Ethical considerations
{i.ethical_considerations}

## Caveats and recommendations
{i.caveats_and_recommendations}

Limitations: {i.limitations}

{_stored_section(card.stored)}## Provenance
Every digest above is recorded on chain. Re-check them, and your copies of the data and model:

    {card.verify_command} --artifacts <dir with your copies>

What this proves: these digests were recorded by `{card.owner}` in this order, at the rounds
listed in manifest.json, and have not changed since. It does not prove that the model is correct
or that the experiment reproduces.
"""


def _stored_section(stored: Mapping[str, str]) -> str:
    if not stored:
        return ""
    rows = "\n".join(f"| {label} | `{cid}` |" for label, cid in stored.items())
    return f"""## Stored on IPFS
Public: anyone with a CID can fetch it (`ipfs get CID`, or `algo-tracer fetch EXPERIMENT -o DIR`,
which checks each against its CID and its on-chain digest).

| stage | CID |
|---|---|
{rows}

"""


def write_model_card(manifest: Manifest, info: ModelCardInfo, out_dir: Path) -> Path:
    """model_card.json, and MODEL_CARD.md with Hugging Face front matter (card_metadata)."""
    card = build_model_card(manifest, info)
    front = "---\n" + to_yaml(card_front_matter(manifest)) + "---\n\n"
    return write_document(out_dir, card, "model_card.json", front + render_markdown(card),
                          "MODEL_CARD.md")


def write_document(out_dir: Path, model: BaseModel, json_name: str, markdown: str,
                   markdown_name: str) -> Path:
    """Write a generated document as JSON and as Markdown; returns the Markdown path."""
    write_text_atomic(out_dir / json_name, json.dumps(model.model_dump(mode="json"), indent=2)
                      + "\n")
    return write_text_atomic(out_dir / markdown_name, markdown)
