"""get_experiment / get_stage: readonly views that return exactly the stored bytes."""

from __future__ import annotations

import pytest
from registry_harness import EXP_ID, START_ROUND, Registry, decode_stage, stage_digest

from algo_tracer.format import chain


def test_get_experiment_returns_the_header_box(opened: Registry) -> None:
    opened.stage(0)
    opened.anchor(0)

    assert opened.get_experiment() == opened.box(chain.header_key(EXP_ID))


@pytest.mark.parametrize("index", [0, 1, 47, 48, 49, 60])
def test_get_stage_returns_the_record_from_its_page(opened: Registry, index: int) -> None:
    for i in range(61):
        opened.stage(i, kind=1 + i % 10)

    record = decode_stage(opened.get_stage(index))

    assert record == {"kind": 1 + index % 10, "digest": stage_digest(index), "round": START_ROUND}


def test_get_stage_rejects_an_index_not_yet_recorded(opened: Registry) -> None:
    opened.stage(0)

    with pytest.raises(AssertionError, match=r"^unknown stage$"):
        opened.get_stage(1)


def test_reads_reject_unknown_experiments(opened: Registry) -> None:
    with pytest.raises(AssertionError, match=r"^unknown experiment$"):
        opened.get_experiment(b"\x02" * 32)
    with pytest.raises(AssertionError, match=r"^unknown experiment$"):
        opened.get_stage(0, b"\x02" * 32)


@pytest.mark.parametrize("size", [0, 31, 33])
def test_reads_reject_ids_that_are_not_32_bytes(opened: Registry, size: int) -> None:
    with pytest.raises(AssertionError, match=r"^id must be 32 bytes$"):
        opened.get_experiment(b"\x01" * size)
    with pytest.raises(AssertionError, match=r"^id must be 32 bytes$"):
        opened.get_stage(0, b"\x01" * size)
