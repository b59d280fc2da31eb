"""The Hugging Face front matter of MODEL_CARD.md: model-index, datasets, tags, and `algotrace`.

`huggingface_hub.ModelCard` (and the Hub) read the YAML block at the top of a card: the recorded
final metrics become `model-index` results, the traced data stages `datasets`, and an
`algotrace` block keeps what a reader needs to re-check the card against the chain (network,
app, experiment, owner, seal, and the digest, params scheme and metric names of every metrics
stage, so that `algo-tracer verify --model-card MODEL_CARD.md` can re-hash the values the card
shows and compare them with the chain; docs/interop.md §3).

The YAML is written by a small emitter (block mappings and lists; every string JSON-quoted,
which is valid YAML), so nothing here depends on a YAML library; reading uses PyYAML's
`safe_load`, as huggingface_hub does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from algo_tracer.documents.manifest import Manifest, StageKind
from algo_tracer.errors import InputError

__all__ = ["card_front_matter", "read_front_matter", "to_yaml"]

#: Tags every card carries, so the Hub can list algo-tracer records.
TAGS = ("algo-tracer", "algorand", "provenance")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_CARD_FIX = ("regenerate the card from manifest.json, or give the MODEL_CARD.md written with "
             "the experiment")


def card_front_matter(manifest: Manifest) -> dict[str, Any]:
    """The front matter of an experiment's card, from its manifest."""
    datasets = [s.label.partition(":")[2] or s.label for s in manifest.stages
                if s.kind == StageKind.DATA]
    metrics_stages, results = [], []
    for s in manifest.stages:
        values = s.detail.get("metrics") if s.kind == StageKind.METRICS else None
        if not isinstance(values, dict):
            continue
        metrics_stages.append({"index": s.index, "label": s.label, "digest": s.digest,
                               "scheme": s.detail.get("scheme", "algotrace-hash/v1/params"),
                               "names": sorted(values)})
        results += [{"type": k, "value": v, "name": k} for k, v in sorted(values.items())]
    meta: dict[str, Any] = {"tags": list(TAGS)}
    library = _library(manifest)
    if library:
        meta["library_name"] = library
    if datasets:
        meta["datasets"] = datasets
    if results:
        dataset = next((d for d in datasets if d.lower().startswith(("test", "eval", "val"))),
                       datasets[0] if datasets else "unspecified")
        meta["model-index"] = [{"name": manifest.name, "results": [{
            "task": {"type": "other", "name": "recorded experiment"},
            "dataset": {"type": dataset, "name": dataset},
            "metrics": results}]}]
    meta["algotrace"] = {
        "network": manifest.genesis_id, "genesis_hash": manifest.genesis_hash,
        "app_id": manifest.app_id, "experiment_id": manifest.experiment_id,
        "owner": manifest.owner,
        "final_digest": manifest.seal.final_digest if manifest.seal else None,
        "metrics_stages": metrics_stages,
        "verify": "algo-tracer verify --model-card MODEL_CARD.md",
    }
    return meta


def _library(manifest: Manifest) -> str | None:
    """The Hub's library_name, from the type of the traced model (None when unknown)."""
    for s in manifest.stages:
        kind = str(s.detail.get("type", "")) if s.kind == StageKind.MODEL else ""
        if kind.startswith("sklearn."):
            return "sklearn"
        if kind.startswith("torch."):
            return "pytorch"
    return None


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block YAML of JSON-like data; strings JSON-quoted, floats with a YAML 1.1 float form."""
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return pad + "{}\n"
        out = []
        for k, v in value.items():
            key = k if _PLAIN_KEY.match(k) else json.dumps(k, ensure_ascii=False)
            if isinstance(v, Mapping | list) and v:
                out.append(f"{pad}{key}:\n{to_yaml(v, indent + 2)}")
            else:
                out.append(f"{pad}{key}: {_scalar(v)}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            text = to_yaml(item, indent + 2) if isinstance(item, Mapping | list) and item \
                else f"{' ' * (indent + 2)}{_scalar(item)}\n"
            out.append(f"{pad}- {text[indent + 2:]}")
        return "".join(out)
    return pad + _scalar(value) + "\n"


def _scalar(v: Any) -> str:
    if isinstance(v, Mapping):
        return "{}"
    if isinstance(v, list):
        return "[]"
    if isinstance(v, float):
        text = repr(v)
        mantissa, e, exponent = text.partition("e")
        # PyYAML (YAML 1.1) reads 1e-05 as a string: it wants a dot in the mantissa.
        return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text
    return json.dumps(v, ensure_ascii=False)


def read_front_matter(text: str) -> dict[str, Any]:
    """The YAML front matter of a card (between the leading ``---`` lines), as a dict.

    Raises:
        InputError: no front matter, not YAML, or not a mapping.
    """
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---" or "---" not in [x.strip() for x in lines[1:]]:
        raise InputError("the model card has no YAML front matter (a '---' block at the top)",
                         fix=_CARD_FIX)
    end = 1 + [x.strip() for x in lines[1:]].index("---")
    try:
        meta = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise InputError(f"the model card's front matter is not YAML: {exc}"[:300],
                         fix=_CARD_FIX) from None
    if not isinstance(meta, dict):
        raise InputError("the model card's front matter is not a mapping", fix=_CARD_FIX)
    return meta
