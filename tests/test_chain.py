"""algo_tracer.format.chain: the plain-Python hash chain and deposit arithmetic of format v1.

The known-answer vector below is also printed in docs/onchain-format.md and replayed against
the contract in tests/contract, so the doc, this module and the contract cannot drift apart.
"""

from __future__ import annotations

import doctest
import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from algo_tracer.errors import InputError
from algo_tracer.format import chain

DOC = Path(__file__).resolve().parent.parent / "docs" / "onchain-format.md"

VECTOR_ID = hashlib.sha256(b"algotrace test vector").digest()
VECTOR_OWNER = bytes([0x11]) * 32
VECTOR_METADATA = bytes([0x22]) * 32
VECTOR_HEADS = {
    "genesis": "b0bfab1d134124fb1fd3874e699b20634510ae3724a404312bf74accec3f9b28",
    "stage": "5e453d3b04a04e211bb9a2691171e9b47bbd909b87e7bd0af5362ad6b8809fac",
    "anchor": "abede2310a7474b7921a81c160042d0b3f19e3743407c9c60a84c6b80a4f8f3b",
    "seal": "879f124d5657a83095f381c040a8df7fc8315ca80f2ef2fd92b00ac80ff7cc42",
}

D32 = bytes(range(32))


def replay_vector() -> dict[str, bytes]:
    """Genesis, then stage 0 (kind 1, digest 0x33.., round 1000), anchor 0, seal."""
    heads = {"genesis": chain.genesis_head(VECTOR_ID, VECTOR_OWNER, VECTOR_METADATA)}
    heads["stage"] = chain.fold_stage(heads["genesis"], 0, 1, bytes([0x33]) * 32, 1000)
    heads["anchor"] = chain.fold_anchor(heads["stage"], 0, bytes([0x44]) * 32, 15, 990, 1001)
    heads["seal"] = chain.fold_seal(heads["anchor"], bytes([0x55]) * 32, 1002)
    return heads


def test_known_answer_vector_is_stable() -> None:
    assert {k: v.hex() for k, v in replay_vector().items()} == VECTOR_HEADS


def test_known_answer_vector_is_published_in_the_format_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert VECTOR_ID.hex() in text
    for head in VECTOR_HEADS.values():
        assert head in text


def test_genesis_hashes_tag_id_owner_and_metadata() -> None:
    expected = hashlib.sha256(b"algotrace/v1/genesis" + D32 + b"\x01" * 32 + b"\x02" * 32)
    assert chain.genesis_head(D32, b"\x01" * 32, b"\x02" * 32) == expected.digest()


def test_stage_fold_preimage_layout() -> None:
    preimage = (
        D32 + b"\x01" + (7).to_bytes(8, "big") + b"\xff" + b"\x09" * 32 + (2**40).to_bytes(8, "big")
    )
    assert len(preimage) == 32 + 1 + 8 + 1 + 32 + 8
    assert chain.fold_stage(D32, 7, 255, b"\x09" * 32, 2**40) == hashlib.sha256(preimage).digest()


def test_anchor_fold_preimage_layout() -> None:
    preimage = D32 + b"\x02" + (3).to_bytes(8, "big") + b"\x09" * 32
    preimage += (16).to_bytes(8, "big") + (10).to_bytes(8, "big") + (12).to_bytes(8, "big")
    assert chain.fold_anchor(D32, 3, b"\x09" * 32, 16, 10, 12) == hashlib.sha256(preimage).digest()


def test_seal_fold_preimage_layout() -> None:
    preimage = D32 + b"\x03" + b"\x09" * 32 + (99).to_bytes(8, "big")
    assert chain.fold_seal(D32, b"\x09" * 32, 99) == hashlib.sha256(preimage).digest()


def test_fold_order_matters() -> None:
    a = chain.fold_stage(chain.fold_stage(D32, 0, 1, b"\x01" * 32, 5), 1, 1, b"\x02" * 32, 5)
    b = chain.fold_stage(chain.fold_stage(D32, 0, 1, b"\x02" * 32, 5), 1, 1, b"\x01" * 32, 5)
    assert a != b


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32])
def test_digests_of_wrong_length_or_type_are_rejected(bad: object) -> None:
    with pytest.raises(InputError, match="must be 32 bytes"):
        chain.genesis_head(bad, D32, D32)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="must be 32 bytes"):
        chain.fold_stage(D32, 0, 1, bad, 0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="must be 32 bytes"):
        chain.fold_anchor(D32, 0, bad, 1, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="must be 32 bytes"):
        chain.fold_seal(bad, D32, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", [0, 256, -1])
def test_stage_kind_outside_1_to_255_is_rejected(kind: int) -> None:
    with pytest.raises(InputError, match=r"kind must be 1\.\.255"):
        chain.fold_stage(D32, 0, kind, D32, 0)


@pytest.mark.parametrize("value", [-1, 2**64])
def test_integers_outside_uint64_are_rejected(value: int) -> None:
    with pytest.raises(InputError, match="uint64"):
        chain.fold_stage(D32, value, 1, D32, 0)
    with pytest.raises(InputError, match="uint64"):
        chain.fold_seal(D32, D32, value)
    with pytest.raises(InputError, match="uint64"):
        chain.stage_mbr(value)


def test_anchor_rejects_empty_batches_and_inverted_round_ranges() -> None:
    with pytest.raises(InputError, match="at least one record"):
        chain.fold_anchor(D32, 0, D32, 0, 1, 1)
    with pytest.raises(InputError, match="after last_round"):
        chain.fold_anchor(D32, 0, D32, 1, 2, 1)


def test_header_deposit_is_86_500_microalgos() -> None:
    assert chain.header_box_mbr() == 2_500 + 400 * (33 + 177) == 86_500


@pytest.mark.parametrize(
    ("index", "mbr"),
    [(0, 33_700), (1, 16_400), (47, 16_400), (48, 33_700), (49, 16_400), (96, 33_700)],
)
def test_stage_deposit_includes_the_page_box_on_a_pages_first_record(index: int, mbr: int) -> None:
    assert chain.stage_mbr(index) == mbr


@given(st.integers(min_value=1, max_value=500))
def test_stage_deposits_add_up_to_the_page_boxes_they_create(n: int) -> None:
    full_pages, rest = divmod(n, chain.PAGE_CAPACITY)
    page_sizes = [chain.PAGE_CAPACITY] * full_pages + ([rest] if rest else [])
    boxes = sum(chain.box_mbr(chain.PAGE_KEY_SIZE, k * chain.STAGE_RECORD_SIZE) for k in page_sizes)
    assert sum(chain.stage_mbr(i) for i in range(n)) == boxes


def test_header_and_a_full_page_fit_two_box_references() -> None:
    assert chain.HEADER_SIZE + chain.PAGE_CAPACITY * chain.STAGE_RECORD_SIZE <= 2 * 2_048


@pytest.mark.parametrize(("index", "location"), [(0, (0, 0)), (47, (0, 1927)), (48, (1, 0))])
def test_stage_location_is_page_and_byte_offset(index: int, location: tuple[int, int]) -> None:
    assert chain.stage_location(index) == location


def test_box_keys() -> None:
    assert chain.header_key(D32) == b"h" + D32
    assert chain.page_key(D32, 258) == b"s" + D32 + b"\x00\x00\x01\x02"
    assert len(chain.header_key(D32)) == chain.HEADER_KEY_SIZE
    assert len(chain.page_key(D32, 0)) == chain.PAGE_KEY_SIZE
    with pytest.raises(InputError, match="uint32"):
        chain.page_key(D32, 2**32)


def test_module_examples_run() -> None:
    assert doctest.testmod(chain).failed == 0
