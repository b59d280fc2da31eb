"""A study on the verification page in headless Chromium: plan, trials table, plot, links."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from web_helpers import browser_api, page_on_server

from algo_tracer import Study, Tracer

sync_api = browser_api()


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory, localnet: object) -> Study:
    root = tmp_path_factory.mktemp("web-study")
    tracer = Tracer.from_environment(state_dir=root, output_root=root / "runs")
    with tracer.study("web-study", objective="accuracy", direction="maximize", n_trials=4,
                      plan={"metric": "accuracy", "direction": "maximize", "n_trials": 4}) as s:
        for value in (0.8, 0.95, None, 0.9):
            try:
                with s.trial() as trial:
                    if value is None:
                        raise ValueError("diverged")
                    trial.report(value)
            except ValueError:
                pass
    return s


@pytest.fixture(scope="module")
def page(localnet: object) -> Iterator[Any]:
    with page_on_server(sync_api) as page:
        yield page


def test_a_study_page_shows_the_plan_the_trials_and_the_selected_one(
        page: Any, study: Study) -> None:
    app_id = study.journal.experiment(study.id).app_id
    page.goto(f"{page.base}/?app={app_id}&id={study.id_text}")
    page.wait_for_selector("body[data-state=ready]", timeout=180_000)
    card = page.locator("#study-card")
    assert card.is_visible()
    text = card.inner_text()
    assert "best of 4 (1 failed, 0 pruned)" in text
    assert "plan fixed at round" in text and "(public)" in text
    rows = card.locator("table.study-trials tbody tr")
    assert rows.count() == 4
    selected = card.locator("table.study-trials tbody tr.selected")
    assert selected.count() == 1 and "0.95" in selected.inner_text()
    assert card.locator("svg.study-plot circle").count() == 4
    assert card.locator("svg.study-plot circle.selected").count() == 1
    link = rows.nth(0).locator("a")
    page.goto(page.base + link.get_attribute("href"))  # each trial links to its own page
    page.wait_for_selector("body[data-state=ready]", timeout=180_000)
    assert page.locator("#verdict").inner_text() == "verified"
    assert page.locator("#study-card").is_hidden()  # a trial is not a study
