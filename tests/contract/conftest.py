"""Fixtures for the offline contract tests; the harness itself is in registry_harness.py."""

from __future__ import annotations

from collections.abc import Iterator

import algopy
import pytest
from algopy_testing import AlgopyTestContext, algopy_testing_context
from registry_harness import START_ROUND, Registry

from smart_contracts.experiment_registry.contract import ExperimentRegistry


@pytest.fixture
def ctx() -> Iterator[AlgopyTestContext]:
    with algopy_testing_context() as context:
        yield context


@pytest.fixture
def registry(ctx: AlgopyTestContext) -> Registry:
    """A freshly created app, at round START_ROUND, with no experiments."""
    app = ExperimentRegistry()
    app.create()
    reg = Registry(ctx, app)
    reg.at_round(START_ROUND)
    return reg


@pytest.fixture
def opened(registry: Registry) -> Registry:
    """The registry with experiment EXP_ID created by the default sender."""
    registry.create()
    return registry


@pytest.fixture
def stranger(ctx: AlgopyTestContext) -> algopy.Account:
    return ctx.any.account()
