"""`capture_code` (private: import from `algo_tracer.capture`)."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from algo_tracer.capture._snapshots import CodeSnapshot
from algo_tracer.errors import ConfigError, InputError
from algo_tracer.hashing import JSON_SCHEME_V1, hash_file, hash_json, hash_path

#: algo-tracer's own directories (the journal and the default output root): never code. A run
#: writes into them, so counting them would make every finished run look like a code change.
OWN_DIRS: tuple[str, ...] = (".algo-tracer", "algo-tracer-runs")
#: Extra ignore patterns for tree digests of code outside git (virtualenvs, caches, build output).
DEFAULT_CODE_IGNORE: tuple[str, ...] = (
    *OWN_DIRS,
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "node_modules",
    "*.egg-info",
)
_GIT_TIMEOUT = 120
# Variables that would point git at another repository or index than the one at `path`
# (a pre-commit hook sets several of them).
_GIT_LOCAL_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CONFIG_PARAMETERS",
)


def strip_url_credentials(url: str) -> str:
    """Remove credentials from a remote URL.

    ``https://user:token@host/x`` -> ``https://host/x``. For http(s) and ftp(s) the whole user
    part goes (a bare user there is usually a token), and so do query and fragment. For other
    schemes with ``://`` (ssh) only a password is removed. scp-like ``git@host:x`` and local
    paths have no credential syntax and are returned unchanged.
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable remote URL>"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if parts.scheme.lower() in ("http", "https", "ftp", "ftps"):
        return urlunsplit((parts.scheme, hostport, parts.path, "", ""))
    if not at:
        return url
    user = userinfo.partition(":")[0]
    netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def capture_code(
    path: str | os.PathLike[str] = ".", *, ignore: Sequence[str] = DEFAULT_CODE_IGNORE,
    scheme: int = JSON_SCHEME_V1,
) -> CodeSnapshot:
    """Snapshot the code at `path`: its git state, or a tree digest outside git.

    In a git work tree the whole repository is pinned, even when `path` is a subdirectory:
    HEAD commit, branch, remote, and, when the tree is dirty, `CodeSnapshot.diff_digest`. That
    digest is over the *contents* of every path that differs from HEAD (tracked changes, staged
    or not, deletions, and untracked files that are not ignored). Each path contributes its mode,
    its SHA-256 or symlink target, or "deleted". A patch text (``git diff --binary``) is not
    used: its bytes depend on user config (diff.algorithm, prefixes, colour, textconv), so the
    same tree could give different digests on two machines. HEAD plus these contents pins the tree
    exactly. Nested repositories and submodules are pinned by their HEAD commit. Paths inside a
    directory named in `OWN_DIRS` (algo-tracer's journal and default output root) are left out.

    Outside git (or without a git executable) the tree is hashed with
    `algo_tracer.hashing.hash_path`, skipping `ignore` in addition to the hashing defaults.

    Args:
        path: A directory or file inside the code to pin.
        ignore: Extra glob patterns for the tree digest (not used for git, which uses .gitignore).
        scheme: The JSON scheme of `CodeSnapshot.diff_digest` (docs/hashing.md §13): the
            experiment's, so that a rerun's snapshot compares with the recorded one.

    Raises:
        InputError: If `path` does not exist or a file cannot be read.
        ConfigError: If git refuses the repository (e.g. "dubious ownership") or fails.
    """
    target = Path(path)
    if not target.exists():
        raise InputError(f"no such file or directory: {str(target)!r}", fix="check the path")
    start = target if target.is_dir() else target.parent
    root = _git_toplevel(start)
    if root is None:
        patterns = tuple(ignore if not isinstance(ignore, str) else [ignore])
        return CodeSnapshot(
            captured_at=datetime.now(UTC),
            kind="tree",
            root=str(target.resolve()),
            tree_digest=str(hash_path(target, ignore=patterns)),
            ignore=patterns,
        )
    head = _git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], root, check=False)
    commit = head.stdout.decode().strip() if head.returncode == 0 else None
    branch = _git(["symbolic-ref", "--short", "-q", "HEAD"], root, check=False)
    paths = _changed_paths(root, has_head=commit is not None)
    entries = [_describe_path(root, p) for p in paths]
    diff = (
        str(hash_json("code-changes", entries, scheme))
        if entries
        else None
    )
    return CodeSnapshot(
        captured_at=datetime.now(UTC),
        kind="git",
        root=str(root),
        commit=commit,
        branch=(branch.stdout.decode().strip() or None) if branch.returncode == 0 else None,
        remote_url=_remote_url(root),
        dirty=bool(entries),
        changed_paths=tuple(e[0] for e in entries),
        diff_digest=diff,
    )


def _git(args: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCAL_ENV}
    # No index.lock taken (safe next to a running git), no prompts, untranslated messages.
    env.update(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, timeout=_GIT_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(
            f"git {args[0]} in {cwd} did not finish in {_GIT_TIMEOUT} s",
            fix="check the repository (huge untracked directories? add them to .gitignore)",
        ) from exc
    if check and done.returncode != 0:
        raise ConfigError(
            f"git {' '.join(args)} failed in {cwd}: {done.stderr.decode(errors='replace').strip()}",
            fix="run the same git command by hand to see what is wrong with the repository",
        )
    return done


def _git_toplevel(start: Path) -> Path | None:
    try:
        done = _git(["rev-parse", "--show-toplevel"], start, check=False)
    except FileNotFoundError:
        return None  # no git executable: the tree digest still pins the code
    if done.returncode == 0:
        return Path(os.fsdecode(done.stdout.rstrip(b"\n")))
    err = done.stderr.decode(errors="replace").strip()
    if "dubious ownership" in err:
        raise ConfigError(
            f"git refuses the repository at {start}: it is owned by another user",
            fix="run as the owner, or trust it: git config --global --add safe.directory <repo>",
        )
    if "not a git repository" in err:
        return None
    raise ConfigError(
        f"git cannot read the repository at {start}: {err}",
        fix="run `git status` there to see what is wrong",
    )


def _split_z(data: bytes) -> list[bytes]:
    return [p for p in data.split(b"\0") if p]


def _changed_paths(root: Path, *, has_head: bool) -> list[bytes]:
    untracked = _git(["ls-files", "-z", "--others", "--exclude-standard"], root).stdout
    if has_head:
        # HEAD against the work tree: staged and unstaged changes alike, renames as delete+add.
        tracked = _git(
            ["diff", "HEAD", "--name-only", "-z", "--no-renames", "--ignore-submodules=none"], root
        ).stdout
    else:  # no commit yet: everything in the index is new
        tracked = _git(["ls-files", "-z", "--cached"], root).stdout
    own = tuple(name.encode() for name in OWN_DIRS)
    return sorted(p for p in set(_split_z(tracked)) | set(_split_z(untracked))
                  if not any(part in own for part in p.split(b"/")[:-1]))


def _describe_path(root: Path, raw: bytes) -> list[str]:
    """``[path, state, value]`` of one changed path, as it is on disk now."""
    text = raw.decode("utf-8", "backslashreplace").rstrip("/")
    full = root / os.fsdecode(raw.rstrip(b"/"))
    try:
        st = full.lstat()
    except FileNotFoundError:
        return [text, "deleted", ""]
    except OSError as exc:
        raise InputError(f"cannot read {full}: {exc.strerror}", fix="fix its permissions") from exc
    if stat.S_ISLNK(st.st_mode):
        return [text, "symlink", os.fsencode(os.readlink(full)).decode("utf-8", "backslashreplace")]
    if stat.S_ISDIR(st.st_mode):  # submodule or nested repository
        sub = _git(["rev-parse", "--verify", "-q", "HEAD"], full, check=False)
        if sub.returncode == 0:
            return [text, "repo", sub.stdout.decode().strip()]
        return [text, "directory", str(hash_path(full))]
    mode = "100755" if st.st_mode & stat.S_IXUSR else "100644"
    return [text, mode, hash_file(full).hex]


def _remote_url(root: Path) -> str | None:
    names = _git(["remote"], root, check=False).stdout.decode(errors="replace").split()
    if not names:
        return None
    name = "origin" if "origin" in names else sorted(names)[0]
    done = _git(["remote", "get-url", name], root, check=False)
    url = done.stdout.decode(errors="replace").strip()
    return strip_url_credentials(url) if done.returncode == 0 and url else None
