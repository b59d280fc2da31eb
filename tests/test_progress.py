"""Progress on stderr for long work: drawn only when it lasts, readable in logs and terminals."""

from __future__ import annotations

import io
import threading

import pytest

from algo_tracer.progress import Progress, track


class Clock:
    """Stands in for time.monotonic so that delays and intervals are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr("algo_tracer.progress.time.monotonic", c)
    return c


def test_work_that_ends_within_the_delay_prints_nothing(clock: Clock) -> None:
    out = io.StringIO()
    with Progress(out, interactive=False, delay=0.5).task("hashing a", total=10) as task:
        clock.now += 0.4
        task.advance(10)

    assert out.getvalue() == ""


def test_in_a_log_a_line_at_most_every_interval_and_one_at_the_end(clock: Clock) -> None:
    out = io.StringIO()
    progress = Progress(out, interactive=False, delay=0.5, interval=5.0)
    with progress.task("Indexer: note transactions", unit="txns") as task:
        for _ in range(100):  # 10 s of work, 0.1 s per page of 1,000
            clock.now += 0.1
            task.advance(1000)

    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # at 0.5 s, at 5.5 s, and the closing line
    assert all(line.startswith("algo-tracer: Indexer: note transactions: ") for line in lines)
    assert "\r" not in out.getvalue()
    assert lines[-1] == ("algo-tracer: Indexer: note transactions: 100,000 txns "
                         "(10,000 txns/s, 10s)")


def test_on_a_terminal_one_line_is_redrawn_with_a_bar_and_ended(clock: Clock) -> None:
    out = io.StringIO()
    progress = Progress(out, interactive=True, delay=0.0)
    with progress.task("hashing model.bin", total=4 << 30, unit="B") as task:
        for _ in range(4):
            clock.now += 1
            task.advance(1 << 30)

    text = out.getvalue()
    assert text.count("\r\x1b[K") == 5 and text.endswith("\n") and text.count("\n") == 1
    assert text.rsplit("\r\x1b[K", 1)[1] == (
        "algo-tracer: hashing model.bin [########################] 100% 4.0 GiB/4.0 GiB "
        "(1.0 GiB/s, 4s)\n")


def test_a_task_that_fails_says_it_stopped(clock: Clock) -> None:
    out = io.StringIO()
    with pytest.raises(OSError), Progress(out, interactive=False, delay=0).task(
            "hashing x", total=100, unit="B") as task:
        clock.now += 1
        task.advance(50)
        raise OSError("disk gone")

    assert out.getvalue().splitlines()[-1].endswith(" - stopped")
    assert "[############------------]  50% 50 B/100 B" in out.getvalue()


def test_advance_counts_exactly_from_many_threads() -> None:
    task = Progress(io.StringIO(), interactive=False).task("x")

    def work() -> None:
        for _ in range(10_000):
            task.advance(3)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert task.count == 120_000


def test_the_default_is_stderr_and_not_interactive_when_stderr_is_not_a_terminal(
        capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress()
    progress.say("reading")

    assert not progress.interactive
    assert capsys.readouterr().err == "algo-tracer: reading\n"


def test_track_without_a_progress_is_silent() -> None:
    with track(None, "hashing", total=10) as advance:
        advance(10)
        # n defaults to 1 here as in Task.advance; track's Callable[[int], None] cannot say so
        advance()  # type: ignore[call-arg]
