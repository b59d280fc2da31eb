"""The optional PyTorch path against real torch: state_dict hashing and seed_everything's switches.

torch is not a dependency (from PyPI it brings several GB of CUDA packages), so these tests skip
without it; `make test-torch` runs them with torch layered over the project environment.
tests/test_hashing.py and tests/test_seeding.py cover the same code against stand-ins offline.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pytest

from algo_tracer.capture import _environment
from algo_tracer.errors import InputError
from algo_tracer.hashing import DOMAIN_TAGS, digest_of, hash_array, hash_model
from algo_tracer.seeding import seed_everything

if TYPE_CHECKING:
    from torch.nn import Module  # for annotations only: `torch` below is a variable, not a module

torch = pytest.importorskip("torch", reason="PyTorch is optional: `make test-torch` runs these")


@pytest.fixture(autouse=True)
def _restore_torch_and_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


def train(seed: int, steps: int = 20) -> Module:
    seed_everything(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return model


def test_the_same_seeded_training_gives_the_same_model_digest() -> None:
    assert hash_model(train(7)) == hash_model(train(7))
    assert hash_model(train(7)) != hash_model(train(8))


def test_a_saved_and_reloaded_state_dict_hashes_like_the_live_model() -> None:
    model = train(1)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    reloaded = torch.load(buffer, weights_only=True)

    assert hash_model(reloaded) == hash_model(model) == digest_of(model)
    assert hash_model(model).kind == "torch-state-dict"


def test_one_changed_weight_changes_the_digest() -> None:
    model = train(1)
    before = hash_model(model)
    with torch.no_grad():
        model[0].weight[0, 0] += 1e-6

    assert hash_model(model) != before


def test_a_float32_tensor_hashes_as_the_numpy_array_it_holds() -> None:
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    assert digest_of(t.numpy()) == hash_array(t.numpy())
    state = {"w": t.t()}  # a non-contiguous view: hashed as its logical (row-major) values
    assert hash_model(state) == hash_model({"w": t.t().contiguous()})


def test_bfloat16_has_no_numpy_twin_and_is_hashed_by_its_raw_bits() -> None:
    a = hash_model({"w": torch.zeros(2, dtype=torch.bfloat16)})
    b = hash_model({"w": torch.zeros(2, dtype=torch.float16)})
    assert a != b and a.kind == b.kind == "torch-state-dict"
    assert "torch-state-dict" in DOMAIN_TAGS


def test_a_state_dict_with_a_non_tensor_entry_is_refused_by_name() -> None:
    state = dict(train(1).state_dict())
    state["epoch"] = 3
    with pytest.raises(InputError, match="'epoch' is a int, not a tensor"):
        hash_model(state)


def test_seed_everything_turns_on_torch_s_deterministic_algorithms() -> None:
    report = seed_everything(3)

    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert report.versions["torch"] == torch.__version__ and "torch" in report.seeded
    assert report.switches["torch.use_deterministic_algorithms"] is True


def test_strict_seeding_makes_torch_raise_on_nondeterministic_kernels() -> None:
    report = seed_everything(3, strict=True)

    assert not torch.is_deterministic_algorithms_warn_only_enabled()
    assert report.switches["torch.use_deterministic_algorithms.warn_only"] is False


def test_seeded_draws_repeat() -> None:
    seed_everything(11)
    first = torch.rand(5).tolist(), np.random.random(3).tolist()
    seed_everything(11)
    assert (torch.rand(5).tolist(), np.random.random(3).tolist()) == first


def test_environment_capture_reads_torch_s_cuda_build_without_starting_cuda() -> None:
    started = torch.cuda.is_initialized()
    cuda, _cudnn, gpus = _environment._torch_accelerators()

    assert cuda == torch.version.cuda
    assert torch.cuda.is_initialized() == started
    if not started:
        assert gpus == []
