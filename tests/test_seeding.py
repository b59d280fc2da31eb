"""seed_everything: reproducible draws, environment switches, guarded frameworks, bad seeds."""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from algo_tracer import seeding
from algo_tracer.errors import InputError
from algo_tracer.seeding import MAX_SEED, SeedReport, seed_everything


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """seed_everything writes os.environ; monkeypatch puts the old values back afterwards."""
    for name in ("PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG", "TF_DETERMINISTIC_OPS"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)


def draws() -> tuple[list[float], list[float]]:
    return [random.random() for _ in range(5)], np.random.random(5).tolist()


def test_the_same_seed_gives_the_same_draws() -> None:
    seed_everything(1234)
    first = draws()
    seed_everything(1234)
    assert draws() == first


def test_different_seeds_give_different_draws() -> None:
    seed_everything(1)
    first = draws()
    seed_everything(2)
    second = draws()
    assert first[0] != second[0] and first[1] != second[1]


def test_pythonhashseed_is_set_for_child_processes() -> None:
    report = seed_everything(7)
    assert os.environ["PYTHONHASHSEED"] == "7"
    assert report.switches["env.PYTHONHASHSEED"] == "7"
    cmd = [sys.executable, "-c", "print(hash('algo-tracer'))"]
    runs = {subprocess.run(cmd, capture_output=True, text=True, check=True).stdout for _ in "ab"}
    assert len(runs) == 1


def test_the_report_names_the_hash_seed_this_process_started_with() -> None:
    report = seed_everything(7)
    assert report.process_hash_seed == seeding._STARTUP_HASH_SEED
    if report.process_hash_seed != "7":
        assert any("PYTHONHASHSEED" in note for note in report.notes)


def test_deterministic_mode_sets_cublas_workspace_config() -> None:
    report = seed_everything(3)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert report.switches["env.CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_a_valid_cublas_setting_chosen_by_the_user_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    assert seed_everything(3).switches["env.CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "junk")
    assert seed_everything(3).switches["env.CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_non_deterministic_mode_only_seeds() -> None:
    report = seed_everything(3, deterministic=False)
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    assert set(report.switches) == {"env.PYTHONHASHSEED"}


def test_the_report_lists_what_was_seeded() -> None:
    report = seed_everything(5)
    assert report.seed == 5 and report.deterministic
    assert report.seeded[:2] == ("python.random", "numpy")
    assert report.versions["numpy"] == np.__version__


def test_missing_frameworks_are_skipped_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(
        "importlib.util.find_spec",
        lambda name, *a: None if name in ("torch", "tensorflow") else real_find_spec(name, *a),
    )
    report = seed_everything(5)
    assert report.skipped == {"torch": "not installed", "tensorflow": "not installed"}
    assert "torch" not in report.seeded


def test_a_broken_framework_install_is_skipped_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str, *args: Any) -> Any:
        raise OSError("libcudart.so.12: cannot open shared object file")

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: object())
    monkeypatch.setattr("importlib.import_module", broken)
    report = seed_everything(5)
    assert report.skipped["tensorflow"].startswith("import failed: OSError: libcudart")


class FakeTorch:
    """Records the calls seed_everything makes on torch."""

    def __init__(self, *, cuda_initialised: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.__version__ = "2.9.0+fake"
        self.backends = SimpleNamespace(cudnn=SimpleNamespace(deterministic=False, benchmark=True))
        self.cuda = SimpleNamespace(
            manual_seed_all=lambda s: self.calls.append(("cuda.manual_seed_all", s)),
            is_initialized=lambda: cuda_initialised,
        )

    def manual_seed(self, seed: int) -> None:
        self.calls.append(("manual_seed", seed))

    def use_deterministic_algorithms(self, mode: bool, *, warn_only: bool) -> None:
        self.calls.append(("use_deterministic_algorithms", (mode, warn_only)))


def test_torch_is_seeded_and_made_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", torch)
    report = seed_everything(11)
    assert torch.calls == [
        ("manual_seed", 11),
        ("cuda.manual_seed_all", 11),
        ("use_deterministic_algorithms", (True, True)),
    ]
    assert torch.backends.cudnn.deterministic is True
    assert torch.backends.cudnn.benchmark is False
    assert "torch" in report.seeded and report.versions["torch"] == "2.9.0+fake"
    assert report.switches["torch.use_deterministic_algorithms.warn_only"] is True
    assert report.switches["torch.backends.cudnn.benchmark"] is False


def test_strict_mode_makes_torch_raise_on_nondeterministic_ops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch = FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", torch)
    report = seed_everything(11, strict=True)
    assert ("use_deterministic_algorithms", (True, False)) in torch.calls
    assert report.switches["torch.use_deterministic_algorithms.warn_only"] is False
    assert report.digest() != seed_everything(11).digest()


def test_torch_without_deterministic_mode_is_only_seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", torch)
    seed_everything(11, deterministic=False)
    assert [c[0] for c in torch.calls] == ["manual_seed", "cuda.manual_seed_all"]
    assert torch.backends.cudnn.benchmark is True


def test_a_note_warns_when_cuda_was_initialised_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", FakeTorch(cuda_initialised=True))
    assert any("CUDA was already initialised" in n for n in seed_everything(1).notes)


def test_tensorflow_is_seeded_and_made_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Any]] = []
    tf = SimpleNamespace(
        __version__="2.17.0",
        random=SimpleNamespace(set_seed=lambda s: calls.append(("set_seed", s))),
        config=SimpleNamespace(
            experimental=SimpleNamespace(enable_op_determinism=lambda: calls.append(("det", 1)))
        ),
    )
    monkeypatch.setitem(sys.modules, "tensorflow", tf)
    report = seed_everything(9)
    assert calls == [("set_seed", 9), ("det", 1)]
    assert report.switches["tensorflow.config.experimental.enable_op_determinism"] is True


def test_old_tensorflow_gets_the_environment_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    tf = SimpleNamespace(
        random=SimpleNamespace(set_seed=lambda s: None),
        config=SimpleNamespace(experimental=SimpleNamespace()),
    )
    monkeypatch.setitem(sys.modules, "tensorflow", tf)
    report = seed_everything(9)
    assert os.environ["TF_DETERMINISTIC_OPS"] == "1"
    assert report.switches["env.TF_DETERMINISTIC_OPS"] == "1"


@pytest.mark.parametrize("seed", [-1, MAX_SEED, 2**64])
def test_out_of_range_seeds_are_rejected(seed: int) -> None:
    with pytest.raises(InputError, match=r"outside 0 \.\. 2\*\*32 - 1"):
        seed_everything(seed)


@pytest.mark.parametrize("seed", [True, 1.0, "42", None])
def test_non_integer_seeds_are_rejected(seed: Any) -> None:
    with pytest.raises(InputError, match="seed must be an integer"):
        seed_everything(seed)


def test_numpy_integer_seeds_and_the_bounds_are_accepted() -> None:
    # a numpy integer on purpose: accepted at run time, though the annotation says int
    assert seed_everything(np.int64(3)).seed == 3  # type: ignore[arg-type]
    assert seed_everything(0).seed == 0
    assert seed_everything(MAX_SEED - 1).seed == MAX_SEED - 1


def test_strict_without_deterministic_is_rejected() -> None:
    with pytest.raises(InputError, match="strict=True only applies"):
        seed_everything(1, deterministic=False, strict=True)


def test_the_report_digest_depends_on_seed_and_mode_only() -> None:
    a, b = seed_everything(21), seed_everything(21)
    assert a.digest() == b.digest() and a.digest().kind == "seed"
    assert seed_everything(22).digest() != a.digest()
    assert seed_everything(21, deterministic=False).digest() != a.digest()
    noted = a.model_copy(update={"notes": ("x",), "versions": {"numpy": "0"}})
    assert noted.digest() == a.digest()


def test_the_report_round_trips_through_json() -> None:
    report = seed_everything(8)
    back = SeedReport.model_validate_json(report.model_dump_json())
    assert back == report and back.digest() == report.digest()
