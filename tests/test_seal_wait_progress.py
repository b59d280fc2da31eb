"""The wait at an experiment's exit while its writes confirm (`BackgroundWriter.seal`), shown as
a tqdm bar once it lasts, counting the seconds waited against the timeout."""

from __future__ import annotations

import io
import re
import time
from typing import cast

import pytest

from algo_tracer.errors import SealTimeoutError
from algo_tracer.progress import Progress
from algo_tracer.record.background_writer import BackgroundWriter
from algo_tracer.record.writer import Writer

LABEL = "algo-tracer: sealing: waiting for the chain to confirm the last writes"


class SlowChain:
    """Stands in for the writer: everything is confirmed `seconds` after the seal is asked."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.asked: float | None = None

    def request_seal(self) -> None:
        self.asked = time.monotonic()

    def settle(self, *, flush: bool, final: bool) -> None:
        time.sleep(0.05)  # a pass over the journal takes a moment

    def outstanding(self) -> bool:
        return self.asked is None or time.monotonic() - self.asked < self.seconds


def seal(seconds: float, timeout: float) -> str:
    out = io.StringIO()
    background = BackgroundWriter(cast(Writer, SlowChain(seconds)), flush_interval=0.05)
    try:
        background.seal(timeout, progress=Progress(out, interactive=False, delay=0.5,
                                                   interval=0.5))
    finally:
        background.close(raising=False)
    return out.getvalue()


def test_a_wait_that_lasts_is_shown_in_seconds_against_the_timeout() -> None:
    lines = seal(2.2, timeout=30).splitlines()

    assert lines and all(line.startswith(LABEL) for line in lines)
    # 2.2 s (more on a busy machine) ticked in whole seconds against the 30 s timeout, then
    # the time taken and what tqdm expects is left
    assert re.search(r"\| [1-9]/30 s \[00:0\d<00:\d\d\]$", lines[-1]), lines[-1]


def test_a_quick_seal_shows_nothing() -> None:
    assert seal(0.1, timeout=30) == ""


def test_a_wait_that_times_out_ends_its_bar_as_stopped() -> None:
    out = io.StringIO()
    background = BackgroundWriter(cast(Writer, SlowChain(60)), flush_interval=0.05)
    with pytest.raises(SealTimeoutError):
        background.seal(1.5, progress=Progress(out, interactive=False, delay=0.5, interval=0.5))
    background.close(raising=False)

    assert out.getvalue().splitlines()[-1].endswith(", stopped]")
