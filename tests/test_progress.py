"""Progress on stderr for long work (tqdm): drawn only when it lasts, readable in logs and
terminals."""

from __future__ import annotations

import io
import sys
import threading
import types

import pytest

from algo_tracer.progress import Progress, track


class Clock:
    """Stands in for tqdm's clock so that delays and intervals are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    # tqdm reads its clock (`tqdm.std.time`) when a bar is made: patched before any task.
    monkeypatch.setattr("tqdm.std.time", c)
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
    assert 2 <= len(lines) <= 3  # one per 5 s of the 10 s at most, and the closing line
    assert all(line.startswith("algo-tracer: Indexer: note transactions: ") for line in lines)
    assert "\r" not in out.getvalue()
    assert lines[-1] == ("algo-tracer: Indexer: note transactions: 100000 txns "
                         "[00:10, 10000.00 txns/s]")


def test_on_a_terminal_one_line_is_redrawn_with_a_bar_and_ended(clock: Clock) -> None:
    out = io.StringIO()
    progress = Progress(out, interactive=True, delay=0.0)
    with progress.task("hashing model.bin", total=4 << 30, unit="B") as task:
        for _ in range(4):
            clock.now += 1
            task.advance(1 << 30)

    text = out.getvalue()
    assert text.count("\r") >= 5 and text.endswith("\n") and text.count("\n") == 1
    assert text.rsplit("\r", 1)[1].startswith(
        "algo-tracer: hashing model.bin: 100%|##########| 4.00G/4.00G [00:04<00:00, ")


def test_a_task_that_fails_says_it_stopped(clock: Clock) -> None:
    out = io.StringIO()
    with pytest.raises(OSError), Progress(out, interactive=False, delay=0).task(
            "hashing x", total=100, unit="B") as task:
        clock.now += 1
        task.advance(50)
        raise OSError("disk gone")

    last = out.getvalue().splitlines()[-1]
    assert last.endswith(", stopped]") and "50%|#####     | 50.0/100 " in last


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


def test_a_log_gets_no_repeated_line_when_the_bar_closes(clock: Clock) -> None:
    out = io.StringIO()
    with Progress(out, interactive=False, delay=0, interval=5.0).task("x", total=2) as task:
        clock.now += 6
        task.advance(2)

    lines = out.getvalue().splitlines()
    assert len(lines) == len(set(lines)) == 2 and "100%" in lines[-1]


def test_a_say_between_terminal_bars_keeps_its_own_line(clock: Clock) -> None:
    out = io.StringIO()
    progress = Progress(out, interactive=True, delay=0)
    with progress.task("hashing a", total=2) as task:
        task.advance(1)
        progress.say("the Indexer is behind, waiting")
        task.advance(1)

    # the bar is cleared first (a blank redraw), the line written whole, then the bar again
    assert "\ralgo-tracer: the Indexer is behind, waiting\n\r" in out.getvalue()


def test_a_long_label_in_a_log_keeps_the_whole_line(clock: Clock) -> None:
    out = io.StringIO()
    label = "sealing: waiting for the chain to confirm the last writes (Ctrl-C leaves them to " \
            "`algo-tracer resume`)"
    with Progress(out, interactive=False, delay=0).task(label, total=600, unit="s") as task:
        clock.now += 3
        task.advance(3)

    last = out.getvalue().splitlines()[-1]
    assert last == f"algo-tracer: {label}:   0%|          | 3/600 s [00:03<09:57]"


def test_stderr_of_a_jupyter_kernel_is_interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    # What tqdm.auto gives in a kernel: a subclass of tqdm.notebook's bar (a widget).
    notebook_bar = type("tqdm", (), {"__module__": "tqdm.notebook"})
    monkeypatch.setattr("algo_tracer.progress._auto_bar",
                        lambda: type("tqdm", (notebook_bar,), {}))

    assert Progress().interactive  # stderr is no terminal here
    assert not Progress(io.StringIO()).interactive  # our own stream is never a widget


def test_a_jupyter_kernel_without_ipywidgets_gets_redrawn_text_bars(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))

    assert Progress().interactive
