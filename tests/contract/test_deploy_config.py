"""What deploy does when the contract changed (the network part needs LocalNet)."""

from __future__ import annotations

import pytest
from algokit_utils import OnUpdate

from smart_contracts.experiment_registry.deploy_config import on_update_policy


def test_a_changed_contract_becomes_a_new_app_on_localnet() -> None:
    assert on_update_policy(is_localnet=True, choice=None) is OnUpdate.AppendApp


def test_a_changed_contract_stops_the_deploy_elsewhere() -> None:
    assert on_update_policy(is_localnet=False, choice=None) is OnUpdate.Fail


@pytest.mark.parametrize(
    ("choice", "policy"), [("append", OnUpdate.AppendApp), ("fail", OnUpdate.Fail)]
)
def test_the_policy_can_be_chosen_explicitly(choice: str, policy: OnUpdate) -> None:
    assert on_update_policy(is_localnet=False, choice=choice) is policy
    assert on_update_policy(is_localnet=True, choice=choice) is policy


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(SystemExit, match="REGISTRY_ON_UPDATE must be 'append' or 'fail'"):
        on_update_policy(is_localnet=True, choice="update")
