"""Drift reports: packages with versions, lock files, python, code states, digests, formatting."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from algo_tracer.capture import (
    CodeSnapshot,
    EnvironmentSnapshot,
    GpuInfo,
    capture_code,
    capture_environment,
)
from algo_tracer.errors import InputError
from algo_tracer.hashing import hash_bytes, hash_params
from algo_tracer.verify import drift as drift_module
from algo_tracer.verify.drift import Drift, diff_code, diff_digests, diff_environments, format_drift

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def env() -> EnvironmentSnapshot:
    return capture_environment()


def with_packages(env: EnvironmentSnapshot, **changes: str | None) -> EnvironmentSnapshot:
    packages = dict(env.packages)
    for name, version in changes.items():
        name = name.replace("_", "-")
        if version is None:
            packages.pop(name, None)
        else:
            packages[name] = version
    return env.model_copy(update={"packages": packages})


def messages(drifts: list[Drift]) -> list[str]:
    return [d.message for d in drifts]


# --------------------------------------------------------------------------- environment


def test_identical_environments_have_no_drift(env: EnvironmentSnapshot) -> None:
    assert diff_environments(env, env) == []
    assert diff_environments(env, capture_environment()) == []


def test_package_drift_names_packages_and_versions(env: EnvironmentSnapshot) -> None:
    recorded = with_packages(env, numpy="2.1.0", scikit_learn="1.5.2", torch=None)
    current = with_packages(env, numpy="2.2.1", scikit_learn=None, torch="2.4.0")
    drifts = diff_environments(recorded, current)
    assert messages(drifts) == [
        "numpy 2.1.0 -> 2.2.1",
        "scikit-learn removed (was 1.5.2)",
        "torch added (2.4.0)",
    ]
    numpy = drifts[0]
    assert (numpy.component, numpy.item, numpy.recorded, numpy.current, numpy.severity) == (
        "environment",
        "packages/numpy",
        "2.1.0",
        "2.2.1",
        "error",
    )


def test_python_and_platform_changes_are_errors(env: EnvironmentSnapshot) -> None:
    py = env.python.model_copy(update={"version": "3.11.9"})
    plat = env.platform.model_copy(update={"system": "Darwin", "machine": "arm64"})
    drifts = diff_environments(env.model_copy(update={"python": py, "platform": plat}), env)
    assert messages(drifts) == [
        f"python {env.python.implementation} 3.11.9 -> "
        f"{env.python.implementation} {env.python.version}",
        f"platform Darwin arm64 -> {env.platform.system} {env.platform.machine}",
    ]
    assert {d.severity for d in drifts} == {"error"}


def test_lock_file_changes_are_reported_by_file_name(env: EnvironmentSnapshot) -> None:
    recorded = env.model_copy(update={"lock_files": {"uv.lock": A, "requirements.txt": A}})
    current = env.model_copy(update={"lock_files": {"uv.lock": B, "poetry.lock": B}})
    drifts = diff_environments(recorded, current)
    assert messages(drifts) == [
        "lock file poetry.lock added (sha256:bbbbbbbbbbbb)",
        "lock file requirements.txt removed (was sha256:aaaaaaaaaaaa)",
        "lock file uv.lock sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb",
    ]
    assert drifts[2].item == "lock_files/uv.lock" and drifts[2].current == B


def test_informational_changes_are_warnings(env: EnvironmentSnapshot) -> None:
    hw = env.hardware.model_copy(
        update={"cpu_count": 96, "gpus": (GpuInfo(name="NVIDIA A100", source="nvidia-smi"),)}
    )
    current = env.model_copy(update={"hardware": hw, "env_vars": {"OMP_NUM_THREADS": "4"}})
    recorded = env.model_copy(update={"env_vars": {}})
    drifts = diff_environments(recorded, current)
    assert {d.severity for d in drifts} == {"warning"}
    assert "OMP_NUM_THREADS unset -> 4" in messages(drifts)
    assert f"CPU count {env.hardware.cpu_count} -> 96" in messages(drifts)
    assert any(m.endswith("-> NVIDIA A100") for m in messages(drifts))
    assert recorded.digest() == current.digest()


def test_a_recorded_snapshot_may_come_as_json_or_dict(env: EnvironmentSnapshot) -> None:
    old = with_packages(env, pydantic="1.0")
    assert diff_environments(old.model_dump_json(), env) == diff_environments(old, env)
    assert diff_environments(old.model_dump(mode="json"), env) == diff_environments(old, env)


def test_the_current_environment_is_captured_by_default(env: EnvironmentSnapshot) -> None:
    old = with_packages(env, pydantic="1.0")
    assert messages(diff_environments(old)) == [f"pydantic 1.0 -> {env.packages['pydantic']}"]


def test_an_invalid_recorded_environment_raises_input_error() -> None:
    with pytest.raises(InputError, match="recorded environment is not a valid"):
        diff_environments({"packages": {}}, None)


# --------------------------------------------------------------------------- code


def git_snapshot(**fields: object) -> CodeSnapshot:
    base: dict[str, object] = {"captured_at": NOW, "kind": "git", "root": "/r", "commit": "1" * 40}
    return CodeSnapshot.model_validate({**base, "branch": "main", **fields})


def test_identical_code_has_no_drift() -> None:
    assert diff_code(git_snapshot(), git_snapshot()) == []


def test_a_different_commit_is_reported() -> None:
    drifts = diff_code(git_snapshot(), git_snapshot(commit="2" * 40))
    assert messages(drifts) == ["commit 111111111111 -> 222222222222"]
    assert drifts[0].recorded == "1" * 40 and drifts[0].severity == "error"


def test_clean_to_dirty_is_reported_with_the_changed_paths() -> None:
    dirty = git_snapshot(dirty=True, changed_paths=("train.py",), diff_digest=A)
    assert messages(diff_code(git_snapshot(), dirty)) == [
        "working tree was clean, now has uncommitted changes: train.py"
    ]
    assert messages(diff_code(dirty, git_snapshot())) == [
        "working tree had uncommitted changes (train.py), now clean"
    ]


def test_different_uncommitted_changes_are_reported() -> None:
    old = git_snapshot(dirty=True, changed_paths=("a.py",), diff_digest=A)
    new = git_snapshot(dirty=True, changed_paths=("a.py", "b.py"), diff_digest=B)
    assert messages(diff_code(old, new)) == [
        "uncommitted changes differ: sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb "
        "(paths changed state: b.py)"
    ]


def test_branch_and_remote_changes_are_warnings() -> None:
    new = git_snapshot(branch=None, remote_url="https://github.com/o/r.git")
    drifts = diff_code(git_snapshot(), new)
    assert messages(drifts) == [
        "branch main -> (detached)",
        "remote none -> https://github.com/o/r.git",
    ]
    assert {d.severity for d in drifts} == {"warning"}


def test_git_versus_tree_and_tree_digest_changes() -> None:
    tree = CodeSnapshot(captured_at=NOW, kind="tree", root="/r", tree_digest=A)
    assert messages(diff_code(git_snapshot(), tree)) == ["code was a git snapshot, now a tree"]
    other = tree.model_copy(update={"tree_digest": B})
    assert messages(diff_code(tree, other)) == [
        "code tree sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb"
    ]


def test_a_recorded_tree_is_re_hashed_with_its_own_ignore_patterns(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    recorded = capture_code(tmp_path, ignore=("*.log",))
    (tmp_path / "run.log").write_text("noise\n")

    assert diff_code(recorded, path=tmp_path) == []
    (tmp_path / "train.py").write_text("print(2)\n")
    assert [d.item for d in diff_code(recorded, path=tmp_path)] == ["tree_digest"]


def test_no_drift_is_never_reported_while_the_digests_differ() -> None:
    old = git_snapshot()
    new = old.model_copy(update={"diff_digest": A})  # inconsistent on purpose: still dirty=False
    assert [(d.item, d.severity) for d in diff_code(old, new)] == [("diff_digest", "error")]

    class Stub:
        def __init__(self, digest: str) -> None:
            self._digest = digest

        def digest(self) -> str:
            return self._digest

    warning = Drift(component="code", item="branch", message="branch a -> b", severity="warning")
    [net] = drift_module._safety_net("code", Stub(A), Stub(B), [warning])[1:]
    assert (net.item, net.severity, net.recorded, net.current) == ("digest", "error", A, B)
    assert drift_module._safety_net("code", Stub(A), Stub(A), []) == []


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_code_drift_against_a_real_repository(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, env=env, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.name", "T")
    git("config", "user.email", "t@example.com")
    (tmp_path / "m.py").write_text("x = 1\n")
    git("add", "-A")
    git("commit", "-q", "-m", "m")
    recorded = capture_code(tmp_path)
    assert diff_code(recorded, path=tmp_path) == []
    (tmp_path / "m.py").write_text("x = 2\n")
    assert messages(diff_code(recorded, path=tmp_path)) == [
        "working tree was clean, now has uncommitted changes: m.py"
    ]


# --------------------------------------------------------------------------- digests


def test_equal_digests_have_no_drift() -> None:
    d = hash_params({"lr": 0.1})
    assert diff_digests("params", "hyperparameters", d, str(d)) == []
    assert diff_digests("data", "train.csv", A.upper().replace("SHA256", "sha256"), A) == []
    assert diff_digests("data", "train.csv", None, None) == []


def test_a_changed_data_digest_names_the_data_and_both_digests() -> None:
    [drift] = diff_digests("data", "train.csv", A, B, detail=["changed: part-0.csv"])
    assert drift.component == "data" and drift.item == "train.csv"
    assert (drift.recorded, drift.current) == (A, B)
    assert drift.message == (
        "train.csv: sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb\nchanged: part-0.csv"
    )


def test_missing_and_unrecorded_digests() -> None:
    assert messages(diff_digests("model", "model.pkl", A, None)) == [
        "model.pkl: missing now (recorded sha256:aaaaaaaaaaaa)"
    ]
    digest = hash_bytes("algotrace/v1/test", b"x")
    assert diff_digests("data", "new.csv", None, digest)[0].current == str(digest)


def test_a_malformed_digest_raises_input_error() -> None:
    with pytest.raises(InputError, match="not a digest"):
        diff_digests("data", "train.csv", "md5:abc", A)
    with pytest.raises(InputError, match="must be a Digest"):
        diff_digests("data", "train.csv", b"\x00" * 32, A)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- formatting


def test_format_drift_groups_by_component_and_puts_errors_first(
    env: EnvironmentSnapshot,
) -> None:
    recorded = with_packages(env, numpy="2.1.0", scikit_learn="1.5.2").model_copy(
        update={"env_vars": {}}
    )
    current = with_packages(env, numpy="2.2.1", scikit_learn=None).model_copy(
        update={"env_vars": {"OMP_NUM_THREADS": "4"}}
    )
    drifts = [
        *diff_digests("data", "train.csv", A, B, detail="column 'age' changed"),
        *diff_code(git_snapshot(), git_snapshot(commit="2" * 40)),
        *diff_environments(recorded, current),
    ]
    assert format_drift(drifts) == "\n".join(
        [
            "4 errors, 1 warning",
            "environment:",
            "  error    numpy 2.1.0 -> 2.2.1",
            "  error    scikit-learn removed (was 1.5.2)",
            "  warning  OMP_NUM_THREADS unset -> 4",
            "code:",
            "  error    commit 111111111111 -> 222222222222",
            "data:",
            "  error    train.csv: sha256:aaaaaaaaaaaa -> sha256:bbbbbbbbbbbb",
            "           column 'age' changed",
        ]
    )


def test_format_drift_of_nothing() -> None:
    assert format_drift([]) == "no drift"


def test_drift_is_json_serialisable() -> None:
    [drift] = diff_digests("data", "train.csv", A, B)
    assert Drift.model_validate_json(drift.model_dump_json()) == drift
