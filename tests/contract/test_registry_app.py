"""The app's public surface: immutability, ABI selectors, events and errors match the doc.

These read the committed ARC-56 spec (what clients and algod see) and docs/onchain-format.md,
so that a contract change that alters the surface cannot go unnoticed in either.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import algosdk
import pytest
from algopy import Bytes, OnCompleteAction
from algopy_testing import AlgopyTestContext
from registry_harness import EVENT_SIGNATURES, Registry

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "smart_contracts/artifacts/experiment_registry/ExperimentRegistry.arc56.json"
DOC = ROOT / "docs/onchain-format.md"

SELECTORS = {
    "create_experiment(byte[],byte[],pay)byte[32]": "17fae2fd",
    "record_stage(byte[],uint64,uint8,byte[],pay)byte[32]": "4f981c55",
    "anchor_batch(byte[],uint64,byte[],uint64,uint64,uint64)byte[32]": "4b2be800",
    "seal(byte[],byte[])byte[32]": "ea50de9e",
    "seal_after(byte[],byte[],uint64,uint64)byte[32]": "882c9724",
    "get_experiment(byte[])(address,uint64,uint64,uint8,uint64,uint64,uint64,byte[32],byte[32],"
    "byte[32],uint64)": "fb947fa6",
    "get_stage(byte[],uint64)(uint8,byte[32],uint64)": "78225ba0",
}
READONLY = {"get_experiment", "get_stage"}


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(SPEC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def signature(method: dict) -> str:
    args = ",".join(arg["type"] for arg in method["args"])
    return f"{method['name']}({args}){method['returns']['type']}"


def test_only_a_bare_noop_create_exists_so_the_app_is_immutable(spec: dict) -> None:
    assert spec["bareActions"] == {"create": ["NoOp"], "call": []}
    for method in spec["methods"]:
        assert method["actions"] == {"create": [], "call": ["NoOp"]}, method["name"]


def test_no_global_or_local_state_is_declared(spec: dict) -> None:
    assert spec["state"]["schema"] == {
        "global": {"ints": 0, "bytes": 0},
        "local": {"ints": 0, "bytes": 0},
    }


def test_update_and_delete_calls_are_rejected(registry: Registry, ctx: AlgopyTestContext) -> None:
    for action in (OnCompleteAction.UpdateApplication, OnCompleteAction.DeleteApplication):
        with (
            pytest.raises(RuntimeError, match="on_completion values: NoOp"),
            ctx.txn.create_group(active_txn_overrides={"on_completion": action}),
        ):
            registry.app.get_experiment(Bytes(b"\x01" * 32))


def test_the_bare_create_cannot_be_called_again(registry: Registry) -> None:
    with pytest.raises(RuntimeError, match="only be called while creating"):
        registry.app.create()


def test_method_selectors_are_stable_and_documented(spec: dict, doc: str) -> None:
    signatures = {signature(m): m for m in spec["methods"]}

    assert set(signatures) == set(SELECTORS)
    for sig, selector in SELECTORS.items():
        assert algosdk.abi.Method.from_signature(sig).get_selector().hex() == selector
        assert f"| `{selector}` | `{sig}`" in doc
        assert signatures[sig]["readonly"] == (signatures[sig]["name"] in READONLY)


def test_events_are_the_documented_ones(spec: dict, doc: str) -> None:
    declared = {
        e["name"]: f"{e['name']}({','.join(a['type'] for a in e['args'])})" for e in spec["events"]
    }

    assert declared == EVENT_SIGNATURES
    for sig in declared.values():
        selector = hashlib.new("sha512_256", sig.encode()).digest()[:4].hex()
        assert f"| `{selector}` |" in doc


def test_every_error_text_in_the_program_is_in_the_doc_table_and_back(spec: dict, doc: str) -> None:
    in_program = {
        entry["errorMessage"]
        for entry in spec["sourceInfo"]["approval"]["sourceInfo"]
        if "errorMessage" in entry
    }
    table = doc.split("## 6. Errors", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([^`]+)`", "\n".join(
        row.split(" | ")[0] for row in table.splitlines() if row.startswith("| `")
    )))  # fmt: skip
    prefixes = {text.removesuffix("...") for text in documented if text.endswith("...")}

    def is_documented(text: str) -> bool:
        return text in documented or any(text.startswith(prefix) for prefix in prefixes)

    assert sorted(text for text in in_program if not is_documented(text)) == []
    assert sorted(documented - in_program - {f"{p}..." for p in prefixes}) == []
