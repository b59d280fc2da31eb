"""A record of another network is refused naming both genesis hashes, not only the genesis id.

Every LocalNet is `dockernet-v1`: "the node is on dockernet-v1, the bundle is from dockernet-v1"
told nothing. The node here is a stand-in that answers only algod's version (the genesis): the
check must come before anything else is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from algo_tracer.cli import main
from algo_tracer.documents.manifest import Manifest
from algo_tracer.errors import ConfigError
from algo_tracer.network.identity import Network, other_network_error
from algo_tracer.verify.bundle import Bundle, verify_bundle
from algo_tracer.verify.experiment import verify_experiment

BUNDLE = Path(__file__).parent / "vectors" / "bundle-localnet.json"
RECORDED_HASH = "W20vkbQ3uEwx5z/OktowRlEFNixHy2Tm59/ukgORPac="  # the bundle's (a LocalNet)
RESET_HASH = "u4pJ2/Lw5f1DwnCGnANKPZ6L5clpNvfDwGAQrqZVD5U="  # a LocalNet after a reset


def node(genesis_id: str = "dockernet-v1", genesis_hash: str = RESET_HASH) -> Any:
    """An AlgorandClient stand-in whose algod answers only its version."""
    versions = {"genesis_id": genesis_id, "genesis_hash_b64": genesis_hash}
    return SimpleNamespace(client=SimpleNamespace(algod=SimpleNamespace(versions=lambda: versions)))


def manifest() -> Manifest:
    return Manifest.model_validate(json.loads(BUNDLE.read_text())["manifest"])


def test_two_localnets_are_told_apart_by_hash_and_a_reset_is_suggested() -> None:
    exc = other_network_error("the bundle", Network("dockernet-v1", RECORDED_HASH),
                              Network("dockernet-v1", RESET_HASH))

    assert RECORDED_HASH in exc.message and RESET_HASH in exc.message
    assert "reset" in exc.message and exc.fix and "export" in exc.fix


def test_testnet_against_mainnet_names_both_without_the_localnet_hint() -> None:
    exc = other_network_error("the manifest", Network("testnet-v1.0", "SGO1"),
                              Network("mainnet-v1.0", "wGHE"))

    assert "testnet-v1.0 (genesis hash SGO1)" in exc.message
    assert "mainnet-v1.0 (genesis hash wGHE)" in exc.message and "reset" not in exc.message


def test_verify_with_a_manifest_of_another_network_says_so_not_no_experiment() -> None:
    m = manifest()
    with pytest.raises(ConfigError) as raised:
        verify_experiment(node(), m.app_id, m.experiment_id, manifest=m)

    text = str(raised.value)
    assert RECORDED_HASH in text and RESET_HASH in text and "reset" in text
    assert "no experiment" not in text


def test_online_bundle_check_on_a_reset_localnet_shows_both_hashes() -> None:
    bundle = Bundle.read(BUNDLE)
    with pytest.raises(ConfigError) as raised:
        verify_bundle(bundle, node(), offline=False)

    assert RECORDED_HASH in raised.value.message and RESET_HASH in raised.value.message
    assert "--offline" in (raised.value.fix or "")


def test_cli_verify_manifest_of_another_network_exits_2_with_a_json_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    manifest().write(tmp_path / "manifest.json")
    monkeypatch.setattr("algo_tracer.network.settings.algorand_from_environment",
                        lambda: (node(), "dockernet-v1", RESET_HASH, True))
    monkeypatch.delenv("ALGO_TRACER_APP_ID", raising=False)

    code = main(["verify", "--manifest", str(tmp_path / "manifest.json"), "--json", "-q"])

    out, err = capsys.readouterr()
    assert code == 2
    assert "genesis hash" in json.loads(out)["error"]["message"]
    assert RECORDED_HASH in err and RESET_HASH in err and "no experiment" not in err


def test_reports_name_the_network_by_its_genesis_hash() -> None:
    from algo_tracer.cli.experiment import format_report, format_timeline

    report = verify_bundle(Bundle.read(BUNDLE), offline=True)

    assert report.genesis_hash == RECORDED_HASH
    on = f"on dockernet-v1 (genesis hash {RECORDED_HASH})"
    assert on in format_report(report).splitlines()[0]
    assert on in format_timeline(report).splitlines()[0]
