"""Environment and code snapshots: contents, digest stability, secrets, git states, fallbacks."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from algo_tracer import capture
from algo_tracer.capture import (
    CodeSnapshot,
    EnvironmentSnapshot,
    _environment,
    capture_code,
    capture_environment,
    normalize_name,
    strip_url_credentials,
)
from algo_tracer.errors import InputError
from algo_tracer.hashing import hash_directory, hash_file

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


# --------------------------------------------------------------------------- environment


@pytest.fixture(scope="module")
def env() -> EnvironmentSnapshot:
    return capture_environment()


def test_environment_records_the_running_python(env: EnvironmentSnapshot) -> None:
    assert env.python.version == platform.python_version()
    assert env.python.implementation == platform.python_implementation()
    assert env.python.executable == os.path.basename(sys.executable)
    assert os.sep not in env.python.executable


def test_environment_records_installed_packages_with_versions(env: EnvironmentSnapshot) -> None:
    assert env.packages["pydantic"] == importlib.metadata.version("pydantic")
    assert env.packages["scikit-learn"] == importlib.metadata.version("scikit-learn")
    assert list(env.packages) == sorted(env.packages)


def test_environment_records_platform_and_hardware(env: EnvironmentSnapshot) -> None:
    assert env.platform.system == platform.system()
    assert env.platform.machine == platform.machine()
    assert env.hardware.cpu_count == os.cpu_count()


def test_environment_digest_is_stable_across_captures() -> None:
    first, second = capture_environment(), capture_environment()
    assert first.digest() == second.digest()
    assert first.digest().kind == "environment"


def test_environment_digest_changes_when_a_package_version_differs(
    env: EnvironmentSnapshot,
) -> None:
    other = env.model_copy(update={"packages": {**env.packages, "numpy": "0.0.1"}})
    assert other.digest() != env.digest()


def test_environment_digest_changes_with_python_version_and_lock_files(
    env: EnvironmentSnapshot,
) -> None:
    py = env.python.model_copy(update={"version": "3.99.0"})
    assert env.model_copy(update={"python": py}).digest() != env.digest()
    locks = {**env.lock_files, "uv.lock": "sha256:" + "0" * 64}
    assert env.model_copy(update={"lock_files": locks}).digest() != env.digest()


def test_environment_digest_ignores_informational_fields(env: EnvironmentSnapshot) -> None:
    hw = env.hardware.model_copy(update={"cpu_count": 1024, "memory_bytes": 1})
    changed = env.model_copy(update={"hardware": hw, "env_vars": {"OMP_NUM_THREADS": "7"}})
    assert changed.digest() == env.digest()


def test_secrets_in_the_environment_are_never_captured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-not-a-real-key")
    monkeypatch.setenv("MY_TOKEN", "tok-1234567890-secret")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    snap = capture_environment()
    text = snap.model_dump_json()
    for leaked in ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI", "MY_TOKEN", "tok-1234567890"):
        assert leaked not in text
    assert snap.env_vars["OMP_NUM_THREADS"] == "3"
    assert set(snap.env_vars) <= set(capture.ENV_ALLOWLIST)


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_hostname_is_never_captured(env: EnvironmentSnapshot) -> None:
    node = platform.node()
    strings = _strings(env.model_dump(mode="json"))
    assert node not in strings
    if len(node) >= 4:
        assert not any(node in s for s in strings)


def test_lock_files_are_recorded_by_name_and_sha256(tmp_path: Path) -> None:
    (tmp_path / "uv.lock").write_text("version = 1\n")
    (tmp_path / "requirements-dev.txt").write_text("pytest\n")
    (tmp_path / "notes.txt").write_text("not a lock file\n")
    (tmp_path / "poetry.lock").mkdir()  # a directory of that name is not a lock file
    snap = capture_environment(tmp_path)
    assert snap.lock_files == {
        "requirements-dev.txt": str(hash_file(tmp_path / "requirements-dev.txt")),
        "uv.lock": str(hash_file(tmp_path / "uv.lock")),
    }


def test_capture_environment_rejects_a_missing_project_dir(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a directory"):
        capture_environment(tmp_path / "missing")


def test_environment_snapshot_round_trips_through_json(env: EnvironmentSnapshot) -> None:
    back = EnvironmentSnapshot.from_json(env.model_dump_json())
    assert back == env
    assert back.digest() == env.digest()


def test_environment_snapshot_is_frozen(env: EnvironmentSnapshot) -> None:
    with pytest.raises(ValueError, match="frozen"):
        env.packages = {}


def test_bad_snapshot_json_raises_input_error() -> None:
    with pytest.raises(InputError, match="not a valid EnvironmentSnapshot"):
        EnvironmentSnapshot.from_json(json.dumps({"schema_version": 1}))


def test_nvidia_smi_output_is_parsed() -> None:
    text = "NVIDIA A100-SXM4-40GB, 40960, 535.104.05\nTesla T4, [N/A], 470.1\n\n"
    gpus = _environment._parse_nvidia_smi(text)
    assert [(g.name, g.memory_mib, g.driver_version) for g in gpus] == [
        ("NVIDIA A100-SXM4-40GB", 40960, "535.104.05"),
        ("Tesla T4", None, "470.1"),
    ]


def test_torch_gpus_are_read_only_when_cuda_is_already_initialised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def props(i: int) -> SimpleNamespace:
        calls.append("props")
        return SimpleNamespace(name="Fake GPU", total_memory=8 << 30)

    initialised = [False]
    fake = SimpleNamespace(
        version=SimpleNamespace(cuda="12.1"),
        backends=SimpleNamespace(
            cudnn=SimpleNamespace(is_available=lambda: True, version=lambda: 8902)
        ),
        cuda=SimpleNamespace(
            is_initialized=lambda: initialised[0],
            device_count=lambda: 1,
            get_device_properties=props,
        ),
    )
    monkeypatch.setitem(sys.modules, "torch", fake)
    assert _environment._torch_accelerators() == ("12.1", "8902", [])
    assert calls == []
    initialised[0] = True
    _, _, gpus = _environment._torch_accelerators()
    assert [(g.name, g.memory_mib, g.source) for g in gpus] == [("Fake GPU", 8192, "torch")]


def test_package_names_are_normalised() -> None:
    assert normalize_name("Scikit_Learn") == "scikit-learn"
    assert normalize_name("zope.interface") == "zope-interface"


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:ghp_token@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://ghp_token@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://host:8443/r.git?access_token=x#frag", "https://host:8443/r.git"),
        ("https://u:p@[::1]:8080/r.git", "https://[::1]:8080/r.git"),
        ("ssh://git:hunter2@host/r.git", "ssh://git@host/r.git"),
        ("ssh://git@host/r.git", "ssh://git@host/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/git/r.git", "/srv/git/r.git"),
    ],
)
def test_remote_url_credentials_are_stripped(url: str, expected: str) -> None:
    assert strip_url_credentials(url) == expected


# --------------------------------------------------------------------------- git


def git(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", HOME=str(repo.parent))
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "commit.gpgsign", "false")
    (root / "train.py").write_text("print('train')\n")
    (root / ".gitignore").write_text("*.log\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


@needs_git
def test_clean_git_commit_is_recorded(repo: Path) -> None:
    snap = capture_code(repo)
    assert snap.kind == "git"
    assert snap.commit == git(repo, "rev-parse", "HEAD")
    assert snap.branch == "main"
    assert not snap.dirty
    assert snap.diff_digest is None and snap.changed_paths == ()
    assert Path(snap.root) == repo.resolve()
    assert snap.digest() == capture_code(repo).digest()


@needs_git
def test_a_subdirectory_pins_the_whole_repository(repo: Path) -> None:
    (repo / "src").mkdir()
    (repo / "src" / "m.py").write_text("x = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "src")
    assert capture_code(repo / "src").digest() == capture_code(repo).digest()
    assert capture_code(repo / "train.py").commit == git(repo, "rev-parse", "HEAD")


@needs_git
def test_an_uncommitted_change_makes_the_tree_dirty_and_changes_the_digest(repo: Path) -> None:
    clean = capture_code(repo)
    (repo / "train.py").write_text("print('tuned')\n")
    dirty = capture_code(repo)
    assert dirty.dirty and dirty.changed_paths == ("train.py",)
    assert dirty.commit == clean.commit
    assert dirty.diff_digest is not None
    assert dirty.digest() != clean.digest()
    (repo / "train.py").write_text("print('tuned again')\n")
    assert capture_code(repo).digest() != dirty.digest()
    (repo / "train.py").write_text("print('train')\n")  # back to HEAD
    assert capture_code(repo).digest() == clean.digest()


@needs_git
def test_a_staged_change_counts_as_dirty(repo: Path) -> None:
    (repo / "train.py").write_text("print('staged')\n")
    git(repo, "add", "train.py")
    assert capture_code(repo).changed_paths == ("train.py",)


@needs_git
def test_an_untracked_file_changes_the_digest_but_an_ignored_one_does_not(repo: Path) -> None:
    clean = capture_code(repo)
    (repo / "run.log").write_text("ignored\n")
    assert capture_code(repo).digest() == clean.digest()
    (repo / "helper.py").write_text("def f(): ...\n")
    snap = capture_code(repo)
    assert snap.dirty and snap.changed_paths == ("helper.py",)
    assert snap.digest() != clean.digest()
    (repo / "helper.py").write_text("def g(): ...\n")
    assert capture_code(repo).digest() != snap.digest()


@needs_git
def test_algo_tracer_s_own_journal_and_run_outputs_are_never_code(repo: Path) -> None:
    clean = capture_code(repo)
    for rel in (".algo-tracer/journal.sqlite", "algo-tracer-runs/iris-1/manifest.json",
                "experiments/algo-tracer-runs/x/MODEL_CARD.md"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("written by a run\n")

    assert capture_code(repo).digest() == clean.digest() and not capture_code(repo).dirty
    (repo / "algo-tracer-runs.py").write_text("a file, not the directory\n")
    assert capture_code(repo).changed_paths == ("algo-tracer-runs.py",)


@needs_git
def test_deleting_a_tracked_file_is_pinned(repo: Path) -> None:
    (repo / "train.py").unlink()
    snap = capture_code(repo)
    assert snap.dirty and snap.changed_paths == ("train.py",)


@needs_git
def test_an_executable_bit_change_changes_the_digest(repo: Path) -> None:
    (repo / "new.sh").write_text("echo\n")
    plain = capture_code(repo)
    (repo / "new.sh").chmod(0o755)
    assert capture_code(repo).digest() != plain.digest()


@needs_git
def test_a_credentialed_remote_url_is_stripped(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "https://alice:ghp_SECRET123@github.com/o/r.git")
    snap = capture_code(repo)
    assert snap.remote_url == "https://github.com/o/r.git"
    assert "SECRET" not in snap.model_dump_json()


@needs_git
def test_remote_and_branch_do_not_change_the_digest(repo: Path) -> None:
    before = capture_code(repo).digest()
    git(repo, "remote", "add", "origin", "https://github.com/o/r.git")
    git(repo, "checkout", "-q", "-b", "feature")
    assert capture_code(repo).digest() == before


@needs_git
def test_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    assert capture_code(repo).branch is None


@needs_git
def test_a_repository_without_commits_is_dirty_with_no_commit(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")
    (root / "a.py").write_text("a\n")
    snap = capture_code(root)
    assert snap.kind == "git" and snap.commit is None
    assert snap.dirty and snap.changed_paths == ("a.py",)


@needs_git
def test_git_variables_of_an_outer_hook_do_not_redirect_the_capture(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere" / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "elsewhere" / "index"))
    assert capture_code(repo).commit is not None


def test_a_directory_outside_git_falls_back_to_a_tree_digest(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text("print(1)\n")
    (code / ".venv").mkdir()
    (code / ".venv" / "big.bin").write_bytes(b"x" * 100)
    snap = capture_code(code)
    assert snap.kind == "tree" and snap.commit is None and not snap.dirty
    expected = hash_directory(code, ignore=capture.DEFAULT_CODE_IGNORE).digest
    assert snap.tree_digest == str(expected)
    (code / ".venv" / "big.bin").write_bytes(b"y")
    assert capture_code(code).digest() == snap.digest()
    (code / "train.py").write_text("print(2)\n")
    assert capture_code(code).digest() != snap.digest()


def test_the_ignore_patterns_are_part_of_the_tree_digest(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a\n")
    assert capture_code(tmp_path, ignore=()).digest() != capture_code(tmp_path).digest()


def test_outside_git_the_run_outputs_are_skipped_too(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    snap = capture_code(tmp_path)
    (tmp_path / "algo-tracer-runs" / "r").mkdir(parents=True)
    (tmp_path / "algo-tracer-runs" / "r" / "manifest.json").write_text("{}\n")

    assert capture_code(tmp_path).digest() == snap.digest()


def test_capture_code_rejects_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        capture_code(tmp_path / "missing")


@needs_git
def test_code_snapshot_round_trips_through_json(repo: Path) -> None:
    (repo / "x.py").write_text("x\n")
    snap = capture_code(repo)
    back = CodeSnapshot.from_json(snap.model_dump_json())
    assert back == snap and back.digest() == snap.digest()
