"""The recording lock: `resume` can tell a crashed run from one a live process is recording."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from algo_tracer.record.process_lock import RecordingLock

EID = bytes(range(32))

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from algo_tracer.record.process_lock import RecordingLock
    assert RecordingLock(Path(sys.argv[1]), bytes(range(32))).acquire()
    print("held", flush=True)
    time.sleep(60)
""")


def test_one_recorder_per_experiment_within_a_process(tmp_path: Path) -> None:
    first, second = RecordingLock(tmp_path, EID), RecordingLock(tmp_path, EID)

    assert first.acquire() and first.acquire()  # idempotent for its holder
    assert not second.acquire()
    assert RecordingLock(tmp_path, bytes(32)).acquire()  # another experiment is free
    first.release()
    assert second.acquire()
    second.release()


def test_a_live_process_holds_it_and_its_death_frees_it_even_by_sigkill(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        lock = RecordingLock(tmp_path, EID)

        assert not lock.acquire()
        assert lock.holder() == str(child.pid)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

    assert lock.acquire() and lock.holder() == str(os.getpid())
    lock.release()


def test_the_lock_file_goes_once_the_experiment_is_sealed(tmp_path: Path) -> None:
    lock = RecordingLock(tmp_path, EID)
    assert lock.acquire() and lock.path.exists()
    lock.release()
    assert lock.path.exists()  # unfinished: kept, a later `resume` locks the same file
    assert lock.acquire()
    lock.release(sealed=True)
    assert not lock.path.exists()
