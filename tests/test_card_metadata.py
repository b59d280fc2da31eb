"""MODEL_CARD.md's front matter: huggingface_hub reads it offline, values survive YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from algo_tracer import Manifest, ModelCardInfo, StageKind
from algo_tracer.documents.card_metadata import card_front_matter, read_front_matter, to_yaml
from algo_tracer.documents.manifest import SealEntry, StageEntry
from algo_tracer.documents.model_card import write_model_card
from algo_tracer.errors import InputError

EXPERIMENT = "7oCqawspwYBnjqKQ8tmcA7xKMXLkvdhTMFFryiFaS56n"
METRICS = {"accuracy": 0.93, "tiny": 1e-05, "huge": 1e16, "n": 3, "note": 'q"uote: #x'}


def _manifest() -> Manifest:
    return Manifest(
        experiment_id=EXPERIMENT, name="iris", owner="A" * 58, app_id=7,
        genesis_id="dockernet-v1", genesis_hash="g", metadata_digest="0" * 64,
        seal=SealEntry(final_digest="f" * 64),
        stages=[
            StageEntry(index=0, kind=StageKind.DATA, label="data:train", digest="a" * 64),
            StageEntry(index=1, kind=StageKind.DATA, label="data:test", digest="b" * 64),
            StageEntry(index=2, kind=StageKind.MODEL, label="model", digest="c" * 64,
                       detail={"type": "sklearn.linear_model._logistic.LogisticRegression"}),
            StageEntry(index=3, kind=StageKind.METRICS, label="metrics", digest="d" * 64,
                       detail={"metrics": METRICS, "scheme": "algotrace-hash/v2/params"}),
        ])


def test_huggingface_hub_parses_the_card_offline(tmp_path: Path) -> None:
    from huggingface_hub import ModelCard, ModelCardData

    path = write_model_card(_manifest(), ModelCardInfo(), tmp_path)
    card = ModelCard(path.read_text())
    assert isinstance(card.data, ModelCardData)  # typed as the CardData base class

    assert card.data.library_name == "sklearn"
    assert card.data.datasets == ["train", "test"]
    assert set(card.data.tags or []) >= {"algo-tracer", "algorand"}
    evals = card.data.eval_results or []
    assert {r.metric_name: r.metric_value for r in evals} == METRICS
    assert {r.dataset_name for r in evals} == {"test"}
    block = card.data.to_dict()["algotrace"]
    assert block["experiment_id"] == EXPERIMENT and block["app_id"] == 7
    assert block["final_digest"] == "f" * 64 and block["genesis_hash"] == "g"
    assert block["metrics_stages"] == [{"index": 3, "label": "metrics", "digest": "d" * 64,
                                        "scheme": "algotrace-hash/v2/params",
                                        "names": sorted(METRICS)}]
    assert "# Model card: iris" in card.text


@pytest.mark.parametrize("value", [1e-05, 1e16, -0.0, 5e-324, 1.7976931348623157e308, 0.1,
                                   "yes", "null", "1e3", "a: b", "#", "é😀\n\t\u2028", True,
                                   None, 2**60, [], {}, [1, [2, {"k": []}]]])
def test_every_json_value_reads_back_from_the_yaml_exactly(value: object) -> None:
    text = to_yaml({"v": value, "list": [value, {"x": value}]})
    back = yaml.safe_load(text)
    assert back == {"v": value, "list": [value, {"x": value}]}
    assert [type(x) for x in back["list"]] == [type(value), dict]


def test_front_matter_of_a_card_without_metrics_or_model_has_no_model_index() -> None:
    manifest = _manifest().model_copy(update={"stages": _manifest().stages[:2]})
    meta = card_front_matter(manifest)
    assert "model-index" not in meta and "library_name" not in meta
    assert meta["algotrace"]["metrics_stages"] == []


@pytest.mark.parametrize("text,problem", [
    ("# no front matter\n", "no YAML front matter"),
    ("---\nkey: [unclosed\n---\n", "not YAML"),
    ("---\n- a list\n---\n", "not a mapping"),
])
def test_a_card_without_readable_front_matter_is_an_input_error(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        read_front_matter(text)
