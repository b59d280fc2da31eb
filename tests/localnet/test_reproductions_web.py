"""The verification page's reproductions block in headless Chromium: the badge and the list of
reproductions found from the original alone (issue 17)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from algokit_utils import AlgoAmount
from web_helpers import browser_api, page_on_server

from algo_tracer import Tracer

sync_api = browser_api()


def _run(tracer: Tracer, name: str, reproduces: Any = None) -> Any:
    with tracer.experiment(name, reproduces=reproduces) as exp:
        exp.trace_params({"C": 1.0})
        exp.trace_data("train", b"a,b\n1,2\n")
        exp.trace_metrics({"accuracy": 0.97})
    return exp


@pytest.fixture(scope="module")
def reproduced(localnet, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    owner = Tracer.from_environment(state_dir=tmp_path_factory.mktemp("state"),
                                    output_root=tmp_path_factory.mktemp("runs"))
    algorand = owner.settings.algorand
    original = _run(owner, "web-original")
    other = algorand.account.random()
    algorand.account.ensure_funded(other, algorand.account.localnet_dispenser(),
                                   AlgoAmount(algo=5))
    root = tmp_path_factory.mktemp("other")
    reproducer = Tracer(dataclasses.replace(owner.settings, account=other,
                                            state_dir=root / "state"), output_root=root)
    by_other = _run(reproducer, "web-again", reproduces=original.summary.manifest_path)
    by_owner = _run(owner, "web-mine", reproduces=original.id_text)
    return {"original": original, "other": by_other, "owner": by_owner, "address": other.address}


@pytest.fixture(scope="module")
def page(localnet) -> Iterator[Any]:
    with page_on_server(sync_api) as page:
        yield page


def test_the_page_shows_the_reproduction_badge_and_the_list(
        page: Any, reproduced: dict[str, Any]) -> None:
    original = reproduced["original"]
    page.goto(f"{page.base}/?app={original.app_id}&id={original.id_text}")
    page.wait_for_selector("body[data-state=ready]", timeout=180_000)

    badge = page.locator("#repro-badge")
    items = page.locator("#reproductions > li")
    texts = [items.nth(i).inner_text() for i in range(items.count())]
    assert badge.inner_text() == ("reproduced by 1 independent account: params, data match; "
                                  "accuracy equal (and 1 by the owner, weaker evidence)")
    assert "ok" in (badge.get_attribute("class") or "")
    assert len(texts) == 2
    mine = next(t for t in texts if reproduced["owner"].id_text in t)
    theirs = next(t for t in texts if reproduced["other"].id_text in t)
    assert "VERIFIED" in theirs and ": matched" in theirs
    assert reproduced["address"][:6] in theirs and "data:train: equal" in theirs
    assert "metrics.accuracy: 0.97 → 0.97 (tolerance 0: within)" in theirs
    assert "the owner (self-reproduction: weaker evidence)" in mine

    # Each reproduction links to its own timeline.
    page.locator(f"#reproductions a[href*='{reproduced['other'].id_text}']").click()
    page.wait_for_selector("body[data-state=ready]", timeout=180_000)
    assert page.locator("#exp-id").inner_text() == reproduced["other"].id_text
    assert page.locator("#timeline tbody tr.row-stage").count() == 5  # binding .. comparison
