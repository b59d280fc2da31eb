"""An independent reader of an algo-tracer experiment, written from the docs alone.

It imports only the standard library and py-algorand-sdk (never algo_tracer), and recomputes
from algod and the Indexer:

* the chain head: the genesis fold, then every event of the experiment in chain order
  (docs/onchain-format.md §3, §5), compared with each event's head and the header box;
* each note batch's Merkle root from its notes (docs/note-format.md §3-§5), compared with the
  anchored root;
* with a manifest, its metadata digest (docs/onchain-format.md §0), the seal's final digest
  (docs/verification.md step 7, manifest v1, v2 and v3), and the digest of every params and
  metrics stage from its detail (docs/hashing.md §4: scheme v1, or v2 = RFC 8785 with the
  `rfc8785` package, the reference implementation the docs name, when the detail says so);
  a v3 manifest's metadata and final digests are RFC 8785 too (docs/hashing.md §13).

Usage:
    ALGOD_SERVER=http://localhost ALGOD_PORT=4001 ALGOD_TOKEN=... INDEXER_SERVER=... \\
    python examples/independent_verifier.py APP_ID EXPERIMENT_ID [--manifest manifest.json]

Prints one line per check and exits 0 when everything agrees, 1 otherwise. It is the proof that
the format is open: if this file and `algo-tracer verify` ever disagree, the docs are wrong.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import time
from typing import Any

from algosdk import encoding
from algosdk.v2client.algod import AlgodClient
from algosdk.v2client.indexer import IndexerClient

# --- primitives (onchain-format.md: big-endian; hashing.md's u64 is little-endian, unused here) --
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
NOTE_PREFIX = b"algotrace:b"
# ARC-28 selectors of the four events, with the size of the fields after the selector.
EVENTS = {bytes.fromhex("3d33acc0"): ("ExperimentCreated", 144),
          bytes.fromhex("f01e05b6"): ("StageRecorded", 113),
          bytes.fromhex("7de81993"): ("BatchAnchored", 136),
          bytes.fromhex("9f715f0d"): ("ExperimentSealed", 128)}


def sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def be(b: bytes) -> int:
    return int.from_bytes(b, "big")


def b58decode(text: str) -> bytes:
    """The 32-byte experiment id from its base58 text (Bitcoin alphabet, leading '1' = 0x00)."""
    n = 0
    for c in text:
        n = n * 58 + B58.index(c)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    raw = b"\0" * (len(text) - len(text.lstrip("1"))) + body
    if len(raw) != 32:
        raise ValueError(f"{text!r} is {len(raw)} bytes, not 32")
    return raw


# --- header box and events (onchain-format.md §1.1, §5) ---------------------------------------
def decode_header(v: bytes) -> dict[str, Any]:
    return {"owner": v[0:32], "created_round": be(v[32:40]), "status": v[48],
            "stage_count": be(v[49:57]), "anchor_count": be(v[57:65]),
            "anchored_records": be(v[65:73]), "metadata_digest": v[73:105],
            "head": v[105:137], "final_digest": v[137:169], "sealed_round": be(v[169:177])}


def decode_event(log: bytes) -> dict[str, Any] | None:
    """One ARC-28 event log as a dict (name, id, fields, head), or None for other logs."""
    name, size = EVENTS.get(log[:4], (None, 0))
    if name is None or len(log) != 4 + size:
        return None
    b = log[4:]
    e: dict[str, Any] = {"name": name, "id": b[0:32], "head": b[-32:]}
    if name == "ExperimentCreated":
        e.update(owner=b[32:64], metadata_digest=b[64:96], round=be(b[96:104]))
    elif name == "StageRecorded":
        e.update(index=be(b[32:40]), kind=b[40], digest=b[41:73], round=be(b[73:81]))
    elif name == "BatchAnchored":
        e.update(index=be(b[32:40]), merkle_root=b[40:72], record_count=be(b[72:80]),
                 first_round=be(b[80:88]), last_round=be(b[88:96]), round=be(b[96:104]))
    else:
        e.update(final_digest=b[32:64], stage_count=be(b[64:72]), anchor_count=be(b[72:80]),
                 anchored_records=be(b[80:88]), round=be(b[88:96]))
    return e


def genesis_head(experiment_id: bytes, owner: bytes, metadata_digest: bytes) -> bytes:
    return sha256(b"algotrace/v1/genesis", experiment_id, owner, metadata_digest)


def fold(head: bytes, e: dict[str, Any]) -> bytes:
    """The head after one event (onchain-format.md §3)."""
    if e["name"] == "StageRecorded":
        return sha256(head, b"\x01", u64(e["index"]), bytes([e["kind"]]), e["digest"],
                      u64(e["round"]))
    if e["name"] == "BatchAnchored":
        return sha256(head, b"\x02", u64(e["index"]), e["merkle_root"], u64(e["record_count"]),
                      u64(e["first_round"]), u64(e["last_round"]))
    if e["name"] == "ExperimentSealed":
        return sha256(head, b"\x03", e["final_digest"], u64(e["round"]))
    return head


def replay(header: dict[str, Any], experiment_id: bytes,
           events: list[dict[str, Any]]) -> tuple[bytes, list[str]]:
    """Fold the events (chain order, ExperimentCreated first) from the genesis of the header's
    owner and metadata digest; the final head and every disagreement."""
    problems: list[str] = []
    head = genesis_head(experiment_id, header["owner"], header["metadata_digest"])
    for n, e in enumerate(events):
        if (e["name"] == "ExperimentCreated") != (n == 0):
            problems.append(f"event {n} is {e['name']}")
        if e["name"] == "ExperimentCreated" and (e["owner"], e["metadata_digest"]) != (
                header["owner"], header["metadata_digest"]):
            problems.append("ExperimentCreated disagrees with the header box")
        head = fold(head, e)
        if head != e["head"]:
            problems.append(f"event {n} ({e['name']}) logs head {e['head'].hex()}, "
                            f"replay gives {head.hex()}")
    return head, problems


# --- notes, leaves, Merkle tree (note-format.md §3-§5) ------------------------------------------
def uvarint(b: bytes, i: int) -> tuple[int, int]:
    """Unsigned LEB128 at b[i:], shortest form only; (value, next offset)."""
    n = shift = 0
    while True:
        byte = b[i]
        i += 1
        n |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if byte == 0 and shift:
                raise ValueError("non-minimal varint")
            return n, i
        shift += 7


def decode_note(note: bytes) -> dict[str, Any]:
    """A v1 note: experiment id, anchor index, position, and its records (seq, kind, name, step,
    value bytes as they go into the leaf)."""
    if not note.startswith(NOTE_PREFIX) or len(note) > 1024:
        raise ValueError("not an algo-tracer v1 note")
    b = note[len(NOTE_PREFIX):]
    if b[0] != 1:
        raise ValueError(f"note version {b[0]}")
    anchor_index, i = uvarint(b, 33)  # after the version byte and the 32-byte id
    position = b[i]
    first_seq, i = uvarint(b, i + 1)
    count, i = uvarint(b, i)
    keys = []
    for _ in range(b[i]):
        kind, size = b[i + 1], b[i + 2]
        keys.append((kind, b[i + 3:i + 3 + size]))
        i += 2 + size
    i += 1
    records, step = [], 0
    for k in range(count):
        kind, name = keys[b[i]]
        delta, i = uvarint(b, i + 1)
        step += (delta >> 1) ^ -(delta & 1)  # zigzag: 0, 1, 2, 3 -> 0, -1, 1, -2
        if kind == 1:  # METRIC: the float64 bits are the leaf's value as they are
            value, i = b[i:i + 8], i + 8
        else:  # TEXT: uvarint length in the note, u16 length in the leaf
            size, i = uvarint(b, i)
            value, i = len(b[i:i + size]).to_bytes(2, "big") + b[i:i + size], i + size
        records.append((first_seq + k, kind, name, step, value))
    if i != len(b):  # slicing past the end does not raise, so a short note ends up here too
        raise ValueError("note truncated" if i > len(b) else "trailing bytes")
    return {"id": b[1:33], "anchor_index": anchor_index, "position": position,
            "first_seq": first_seq, "records": records}


def leaf(seq: int, kind: int, name: bytes, step: int, value: bytes) -> bytes:
    """The plain leaf of one record (note-format.md §3; salted leaves are the private path)."""
    return b"\x01\x00" + u64(seq) + bytes([kind]) + u64(step) + bytes([len(name)]) + name + value


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle Tree Hash: split at the largest power of two below n."""
    if len(leaves) == 1:
        return sha256(b"\x00", leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha256(b"\x01", merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def batch_root(notes: list[bytes], experiment_id: bytes, anchor_index: int,
               first_seq: int) -> tuple[bytes, int]:
    """The root and record count of one anchor group's notes, checked as note-format.md §8."""
    decoded = sorted((decode_note(n) for n in notes), key=lambda d: d["position"])
    records = [r for d in decoded for r in d["records"]]
    if [d["position"] for d in decoded] != list(range(len(decoded))):
        raise ValueError("note positions are not 0..m-1")
    if any(d["id"] != experiment_id or d["anchor_index"] != anchor_index for d in decoded):
        raise ValueError("a note names another experiment or anchor")
    if [r[0] for r in records] != list(range(first_seq, first_seq + len(records))):
        raise ValueError(f"seqs do not run on from {first_seq}")
    return merkle_root([leaf(*r) for r in records]), len(records)


# --- the seal (verification.md step 7, hashing.md §4) ------------------------------------------
def canonical_json(value: Any) -> bytes:
    """hashing.md §4: sorted keys (code point order = UTF-8 byte order), no whitespace, raw
    UTF-8, floats as Python repr, NaN/inf refused. Python's json module does exactly that."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def params_digest(detail: dict[str, Any], value: Any) -> bytes:
    """hashing.md §4: H(scheme, encoding(value)); the detail names the scheme (absent: v1)."""
    scheme = detail.get("scheme", "algotrace-hash/v1/params")
    if scheme == "algotrace-hash/v2/params":
        return sha256(scheme.encode(), b"\x00", jcs(value))
    if scheme == "algotrace-hash/v1/params":
        return sha256(scheme.encode(), b"\x00", canonical_json(value))
    raise ValueError(f"unknown params scheme {scheme!r}")


def jcs(value: Any) -> bytes:
    """RFC 8785 (JCS), JSON scheme v2 of hashing.md §13: any conforming implementation."""
    import rfc8785

    return rfc8785.dumps(value)


def json_scheme(manifest: dict[str, Any]) -> int:
    """hashing.md §13: format v3 hashes every JSON value under RFC 8785 (scheme 2); v2 and v1
    under canonical JSON (scheme 1). The format is part of the sealed digest."""
    return 2 if manifest["format"] == "algo-tracer-manifest/v3" else 1


def metadata_digest(manifest: dict[str, Any]) -> bytes:
    """onchain-format.md §0: H("algotrace/v<s>/metadata", json_s({"name", "metadata"}))."""
    meta = {"name": manifest["name"], "metadata": manifest["metadata"]}
    scheme = json_scheme(manifest)
    encode = jcs if scheme == 2 else canonical_json
    return sha256(f"algotrace/v{scheme}/metadata".encode(), b"\x00", encode(meta))


def final_digest(manifest: dict[str, Any]) -> bytes:
    """v3 and v2 leave out where each write landed (v3 under RFC 8785); v1 only the seal."""
    body = {k: v for k, v in manifest.items() if k != "seal"}
    encode = canonical_json
    if manifest["format"] in ("algo-tracer-manifest/v2", "algo-tracer-manifest/v3"):
        domain = "algotrace/v2/manifest"
        if manifest["format"] == "algo-tracer-manifest/v3":
            domain, encode = "algotrace/v3/manifest", jcs
        body.pop("create_txid", None)
        body.pop("create_round", None)
        body["stages"] = [{k: v for k, v in s.items() if k not in ("txid", "round")}
                          for s in body["stages"]]
        body["batches"] = [{k: v for k, v in b.items()
                            if k not in ("txids", "round", "first_round", "last_round")}
                           for b in body["batches"]]
    elif manifest["format"] == "algo-tracer-manifest/v1":
        domain = "algotrace/v1/manifest"
    else:
        raise ValueError(f"unknown manifest format {manifest['format']!r}")
    return sha256(domain.encode(), b"\x00", encode(body))


# --- reading the chain ------------------------------------------------------------------------
def pages(call: Any, key: str, **filters: Any) -> list[dict[str, Any]]:
    """Every item of a paged Indexer search (follow next-token until a page comes back empty)."""
    out: list[dict[str, Any]] = []
    token = None
    while True:
        page = call(limit=1000, next_page=token, **filters)
        out += page.get(key) or []
        token = page.get("next-token")
        if not token or not page.get(key):
            return out


def as_json(response: object) -> dict[str, Any]:
    """algosdk types its answers as dict | bytes; without response_format="msgp" it is a dict."""
    assert isinstance(response, dict)
    return response


def client_args(prefix: str) -> tuple[str, str]:
    server, port = os.environ[f"{prefix}_SERVER"], os.environ.get(f"{prefix}_PORT", "")
    return os.environ.get(f"{prefix}_TOKEN", ""), f"{server}:{port}" if port else server


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("app_id", type=int)
    ap.add_argument("experiment_id", help="base58 text")
    ap.add_argument("--manifest", help="manifest.json written when the experiment ended")
    args = ap.parse_args(argv)
    algod, indexer = AlgodClient(*client_args("ALGOD")), IndexerClient(*client_args("INDEXER"))
    exp_id, app_id, ok = b58decode(args.experiment_id), args.app_id, True

    def check(what: str, got: bytes, want: bytes) -> None:
        nonlocal ok
        ok &= got == want
        print(f"{what} {got.hex()} {'agrees with' if got == want else 'DIFFERS from'} "
              f"{want.hex()}")

    box = as_json(algod.application_box_by_name(app_id, b"h" + exp_id))
    at_round = box.get("round") or as_json(algod.status())["last-round"]
    header = decode_header(base64.b64decode(box["value"]))
    deadline = time.monotonic() + 60  # the Indexer must have the rounds the box reflects
    while indexer.health()["round"] < at_round and time.monotonic() < deadline:
        time.sleep(0.2)
    rounds = {"min_round": header["created_round"], "max_round": at_round}
    # The logs endpoint carries neither round nor position: take both from the app's calls.
    logs = {e["txid"]: [base64.b64decode(x) for x in e.get("logs") or []]
            for e in pages(lambda **kw: indexer.application_logs(app_id, **kw), "log-data",
                           **rounds)}
    calls = pages(indexer.search_transactions, "transactions", application_id=app_id, **rounds)
    calls.sort(key=lambda t: (t["confirmed-round"], t.get("intra-round-offset", 0)))
    owner, events = encoding.encode_address(header["owner"]), []
    for t in calls:  # within one transaction, its logs in log order
        for e in map(decode_event, logs.get(t["id"], [])):
            if e is not None and e["id"] == exp_id:
                events.append({**e, "txn_group": t.get("group"), "txn_round": t["confirmed-round"],
                               "sender": t["sender"]})
    if not events:
        print(f"no events of experiment {args.experiment_id} in app {app_id}")
        return 1
    head, problems = replay(header, exp_id, events)
    problems += [f"{e['name']} sent by {e['sender']}, not the owner"
                 for e in events if e["sender"] != owner]
    for name, field in (("StageRecorded", "stage_count"), ("BatchAnchored", "anchor_count")):
        if sum(e["name"] == name for e in events) != header[field]:
            problems.append(f"the header's {field} is {header[field]}, the events disagree")
    for p in problems:
        ok = False
        print(f"replay: {p}")
    check("head", head, header["head"])

    next_seq = 0
    for e in (e for e in events if e["name"] == "BatchAnchored"):
        # The group's notes: the owner's payments in the anchor's round with its group id
        # (`address` is a search parameter every Indexer allows; `note-prefix` may be off).
        group, rnd = e["txn_group"], e["txn_round"]
        notes = [] if group is None else [base64.b64decode(t["note"]) for t in pages(
            indexer.search_transactions, "transactions", address=owner, min_round=rnd,
            max_round=rnd) if t.get("group") == group and t["sender"] == owner
            and base64.b64decode(t.get("note", "")).startswith(NOTE_PREFIX)]
        if notes:
            try:
                root, count = batch_root(notes, exp_id, e["index"], next_seq)
                check(f"batch {e['index']} root", root, e["merkle_root"])
                if count != e["record_count"]:
                    ok = False
                    print(f"batch {e['index']}: {count} records in its notes, "
                          f"{e['record_count']} anchored")
            except (ValueError, IndexError) as exc:
                ok = False
                print(f"batch {e['index']}: bad notes: {exc}")
        else:
            print(f"batch {e['index']} private {e['merkle_root'].hex()} (records off chain)")
        next_seq += e["record_count"]

    if args.manifest:
        with open(args.manifest, encoding="utf-8") as f:
            manifest = json.load(f)
        check("metadata_digest", metadata_digest(manifest), header["metadata_digest"])
        check("final_digest", final_digest(manifest), header["final_digest"])
        on_chain = {e["index"]: e["digest"] for e in events if e["name"] == "StageRecorded"}
        for stage in manifest["stages"]:
            field = {4: "params", 7: "metrics"}.get(stage["kind"])
            if field in stage["detail"] and stage["index"] in on_chain:
                check(f"stage {stage['index']} {stage['label']}",
                      params_digest(stage["detail"], stage["detail"][field]),
                      on_chain[stage["index"]])
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
