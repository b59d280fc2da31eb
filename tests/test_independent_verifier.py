"""The independent reader (examples/independent_verifier.py) against the committed vectors.

The reader is written from the docs without algo_tracer; these tests run its pure functions on
the note, Merkle and LocalNet bundle vectors, so CI catches a doc or format change that would
leave an outside verifier behind. tests/localnet/test_independent_verifier_onchain.py runs it on
a node.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import pytest

from algo_tracer.documents.manifest import Manifest
from algo_tracer.format.ids import format_id

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
BUNDLES = ["bundle-localnet.json", "bundle-localnet-v2.json"]


def _load_reader() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "independent_verifier", ROOT / "examples" / "independent_verifier.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reader = _load_reader()


def _vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def _bundle_txns(bundle: dict[str, Any]) -> list[tuple[str, dict[bytes, Any]]]:
    """(role, SignedTxnInBlock) of every bundled transaction, in chain order (round, then the
    transaction's position in its block, which its inclusion proof names)."""
    txns = sorted(bundle["transactions"], key=lambda t: (int(t["round"]), t["proof"]["idx"]))
    return [(t["role"], msgpack.unpackb(base64.b64decode(t["stib"]), raw=True,
                                        strict_map_key=False)) for t in txns]


def _bundle_events(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    eid = reader.b58decode(bundle["experiment_id"])
    events = []
    for role, stib in _bundle_txns(bundle):
        for log in stib.get(b"dt", {}).get(b"lg", []) if role == "event" else []:
            event = reader.decode_event(log)
            if event is not None and event["id"] == eid:
                events.append({**event, "txn_group": stib[b"txn"].get(b"grp")})
    return events


def test_reader_decodes_every_valid_note_vector_to_its_leaves_and_root() -> None:
    for vector in _vectors("notes-v1.json")["valid"]:
        note = reader.decode_note(bytes.fromhex(vector["note"]))
        assert note["id"].hex() == vector["experiment_id"], vector["name"]
        assert note["anchor_index"] == int(vector["anchor_index"])
        assert note["position"] == vector["position"]
        leaves = [reader.leaf(*r) for r in note["records"]]
        assert [x.hex() for x in leaves] == vector["leaves"], vector["name"]
        assert reader.merkle_root(leaves).hex() == vector["merkle_root"], vector["name"]


@pytest.mark.parametrize("name", ["foreign prefix", "version 2", "trailing byte", "truncated",
                                  "non-minimal varint", "over 1024 bytes"])
def test_reader_rejects_a_malformed_note(name: str) -> None:
    [vector] = [v for v in _vectors("notes-v1.json")["invalid"] if v["name"] == name]
    with pytest.raises((ValueError, IndexError)):
        reader.decode_note(bytes.fromhex(vector["note"]))


def test_reader_merkle_root_matches_every_rfc6962_tree_vector() -> None:
    vectors = _vectors("merkle-v1.json")
    leaves = [bytes.fromhex(x) for x in vectors["leaves"]]
    for tree in vectors["trees"]:
        assert reader.merkle_root(leaves[:tree["size"]]).hex() == tree["root"], tree["size"]


def test_reader_reads_base58_ids_as_algo_tracer_writes_them() -> None:
    for raw in (bytes(32), b"\0\0" + bytes(range(1, 31)), bytes(range(200, 232))):
        assert reader.b58decode(format_id(raw)) == raw


@pytest.mark.parametrize("name", BUNDLES)
def test_reader_replays_the_events_of_a_real_experiment_to_its_header_head(name: str) -> None:
    bundle = _vectors(name)
    header = reader.decode_header(bytes.fromhex(bundle["header_box"]))
    events = _bundle_events(bundle)
    head, problems = reader.replay(header, reader.b58decode(bundle["experiment_id"]), events)
    assert problems == []
    assert head == header["head"]
    assert [e["name"] for e in events] == [e["name"] for e in bundle["events"]]


@pytest.mark.parametrize("name", BUNDLES)
def test_reader_flags_an_event_whose_logged_head_does_not_follow(name: str) -> None:
    bundle = _vectors(name)
    header = reader.decode_header(bytes.fromhex(bundle["header_box"]))
    events = _bundle_events(bundle)
    events[1]["digest"] = bytes(32)  # a stage digest that was never recorded
    _, problems = reader.replay(header, reader.b58decode(bundle["experiment_id"]), events)
    assert problems and "event 1 (StageRecorded)" in problems[0]


@pytest.mark.parametrize("name", BUNDLES)
def test_reader_recomputes_each_note_batch_root_from_its_notes(name: str) -> None:
    bundle = _vectors(name)
    eid = reader.b58decode(bundle["experiment_id"])
    notes: dict[bytes, list[bytes]] = {}
    for role, stib in _bundle_txns(bundle):
        if role == "note":
            notes.setdefault(stib[b"txn"][b"grp"], []).append(stib[b"txn"][b"note"])
    next_seq, public = 0, 0
    for event in (e for e in _bundle_events(bundle) if e["name"] == "BatchAnchored"):
        group_notes = notes.get(event["txn_group"] or b"", [])
        if group_notes:
            root, count = reader.batch_root(group_notes, eid, event["index"], next_seq)
            assert (root, count) == (event["merkle_root"], event["record_count"])
            public += 1
        next_seq += event["record_count"]
    assert public >= 1


@pytest.mark.parametrize("name", BUNDLES)
def test_reader_final_digest_is_the_sealed_digest_for_both_manifest_formats(name: str) -> None:
    bundle = _vectors(name)
    manifest = bundle["manifest"]
    sealed = reader.decode_header(bytes.fromhex(bundle["header_box"]))["final_digest"]
    assert reader.final_digest(manifest) == sealed
    assert reader.final_digest(manifest) == Manifest.model_validate(manifest).final_digest()


@pytest.mark.parametrize("name", BUNDLES)
def test_reader_final_digest_changes_when_the_manifest_is_edited(name: str) -> None:
    manifest = copy.deepcopy(_vectors(name)["manifest"])
    before = reader.final_digest(manifest)
    manifest["stages"][0]["digest"] = "00" * 32
    assert reader.final_digest(manifest) != before


def test_reader_v2_final_digest_leaves_out_only_where_writes_landed() -> None:
    manifest = copy.deepcopy(_vectors("bundle-localnet-v2.json")["manifest"])
    before = reader.final_digest(manifest)
    manifest["create_round"] += 1
    manifest["stages"][0]["txid"] = "X" * 52
    manifest["batches"][0]["first_round"] = 1
    manifest["seal"] = None
    assert reader.final_digest(manifest) == before
    manifest["batches"][0]["count"] += 1
    assert reader.final_digest(manifest) != before


def test_reader_imports_nothing_but_the_standard_library_and_algosdk() -> None:
    allowed = set(sys.stdlib_module_names) | {"algosdk", "__future__"}
    source = (ROOT / "examples" / "independent_verifier.py").read_text()
    imported = {m[1].split(".")[0] for line in source.splitlines()
                if (m := re.match(r"(?:from|import) ([\w.]+)(?: import |$)", line))}
    assert {"algosdk", "hashlib", "json"} <= imported
    assert imported <= allowed, imported - allowed


class _FakeAlgod:
    """algod as the reader sees it, answering from a bundle's header box."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle

    def application_box_by_name(self, app_id: int, name: bytes) -> dict[str, Any]:
        assert (app_id, name) == (self.bundle["app_id"],
                                  b"h" + reader.b58decode(self.bundle["experiment_id"]))
        return {"round": self.bundle["boxes_round"],
                "value": base64.b64encode(bytes.fromhex(self.bundle["header_box"])).decode()}

    def status(self) -> dict[str, Any]:
        return {"last-round": self.bundle["boxes_round"]}


class _FakeIndexer:
    """The Indexer's JSON answers for a bundle's transactions, two items a page, log entries in
    reverse chain order (the logs endpoint promises no order), so paging and sorting count."""

    def __init__(self, bundle: dict[str, Any], *, tamper_note: bool = False,
                 foreign_seal: bool = False) -> None:
        self.txns: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        for (role, stib), t in zip(_bundle_txns(bundle), sorted(
                bundle["transactions"], key=lambda t: (int(t["round"]), t["proof"]["idx"])),
                strict=True):
            txn = stib[b"txn"]
            note = txn.get(b"note", b"")
            if tamper_note and note:
                note, tamper_note = note[:-1] + bytes([note[-1] ^ 1]), False
            self.txns.append({
                "id": t["txid"], "confirmed-round": int(t["round"]),
                "intra-round-offset": t["proof"]["idx"],
                "sender": reader.encoding.encode_address(txn[b"snd"]),
                "group": base64.b64encode(txn[b"grp"]).decode() if b"grp" in txn else None,
                "note": base64.b64encode(note).decode(), "app": txn.get(b"apid")})
            if foreign_seal and stib.get(b"dt", {}).get(b"lg", [b""])[0][:4] == bytes.fromhex(
                    "9f715f0d"):
                self.txns[-1]["sender"] = reader.encoding.encode_address(bytes(32))
            if role == "event":
                self.logs.insert(0, {"txid": t["txid"], "round": int(t["round"]), "logs": [
                    base64.b64encode(x).decode() for x in stib[b"dt"][b"lg"]]})

    @staticmethod
    def _page(items: list[dict[str, Any]], key: str, next_page: str | None) -> dict[str, Any]:
        start = int(next_page or 0)
        page: dict[str, Any] = {key: items[start:start + 2]}
        if start + 2 < len(items):
            page["next-token"] = str(start + 2)
        return page

    def health(self) -> dict[str, Any]:
        return {"round": 10**9}

    def application_logs(self, app_id: int, *, limit: int, next_page: str | None,
                         min_round: int, max_round: int) -> dict[str, Any]:
        return self._page([x for x in self.logs if min_round <= x["round"] <= max_round],
                          "log-data", next_page)

    def search_transactions(self, *, limit: int, next_page: str | None, min_round: int,
                            max_round: int, application_id: int | None = None,
                            address: str | None = None) -> dict[str, Any]:
        return self._page([t for t in self.txns if min_round <= t["confirmed-round"] <= max_round
                           and (application_id is None or t["app"] == application_id)
                           and (address is None or t["sender"] == address)],
                          "transactions", next_page)


def _run_reader(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                bundle: dict[str, Any], manifest: dict[str, Any], tmp_path: Path,
                **fake: bool) -> tuple[int, str]:
    for key in ("ALGOD_SERVER", "INDEXER_SERVER"):
        monkeypatch.setenv(key, "http://localhost")
    monkeypatch.setattr(reader, "AlgodClient", lambda *_: _FakeAlgod(bundle))
    monkeypatch.setattr(reader, "IndexerClient", lambda *_: _FakeIndexer(bundle, **fake))
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    code = reader.main([str(bundle["app_id"]), bundle["experiment_id"], "--manifest", str(path)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("name", BUNDLES)
def test_reader_main_agrees_on_a_bundle_served_as_algod_and_indexer_answers(
        name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    bundle = _vectors(name)
    code, out = _run_reader(monkeypatch, capsys, bundle, bundle["manifest"], tmp_path)

    assert code == 0, out
    assert out.splitlines()[-1] == "OK"
    assert re.search(r"^head [0-9a-f]{64} agrees with", out, re.MULTILINE)
    assert re.search(r"^batch 0 root [0-9a-f]{64} agrees with", out, re.MULTILINE)
    assert re.search(r"^final_digest [0-9a-f]{64} agrees with", out, re.MULTILINE)
    assert re.search(r"^metadata_digest [0-9a-f]{64} agrees with", out, re.MULTILINE)


def test_reader_main_fails_on_an_edited_manifest_an_altered_note_or_a_foreign_event(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    bundle = _vectors("bundle-localnet-v2.json")
    edited = {**bundle["manifest"], "name": "renamed"}
    code, out = _run_reader(monkeypatch, capsys, bundle, edited, tmp_path)
    assert code == 1 and "final_digest" in out and "DIFFERS" in out

    code, out = _run_reader(monkeypatch, capsys, bundle, bundle["manifest"], tmp_path,
                            tamper_note=True)
    assert code == 1 and re.search(r"^batch 0 (root [0-9a-f]{64} DIFFERS|: bad notes)", out,
                                   re.MULTILINE), out

    code, out = _run_reader(monkeypatch, capsys, bundle, bundle["manifest"], tmp_path,
                            foreign_seal=True)
    assert code == 1 and "replay: ExperimentSealed sent by AAAA" in out, out
