"""algo-tracer's JSON documents on disk (manifests, bundles, model cards, datasheets).

Writes are atomic: readers see the old content or the new one, never a half-written file. The
text goes to a temporary file in the same directory, is flushed to disk, and replaces the
target in one rename; a crash or a full disk leaves the previous file (or none) and no stray
temporary file. Reads turn a missing or malformed file into an `InputError` that says which.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, ValidationError

from algo_tracer.errors import InputError, describe_validation, shorten

__all__ = ["read_model", "write_text_atomic"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_text_atomic(path: str | os.PathLike[str], text: str, *, mode: int = 0o666) -> Path:
    """Replace `path` with `text` (UTF-8) atomically, creating its directory; returns the path.

    The file gets `mode` less the umask: by default the usual permissions, as a plain `open`
    would give it; 0o600 for what only its owner may read (a private plan's salt).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, _FLAGS, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def read_model[M: BaseModel](model: type[M], path: str | os.PathLike[str], *, what: str,
                             fix: str) -> M:
    """Parse the `what` (``"manifest"``, ``"bundle"``) at `path` as `model`.

    Raises:
        InputError: the file is missing, not UTF-8, or not a valid `model`; `fix` says what to
            give instead.
    """
    shown = shorten(str(path))
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise InputError(f"{what} {shown} does not exist", fix=fix) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{shown} is not an algo-tracer {what}: not UTF-8 text ({exc.reason} "
                         f"at byte {exc.start})", fix=fix) from None
    except OSError as exc:  # a directory, no permission, a name too long for the OS, ...
        raise InputError(f"cannot read {what} {shown}: {exc.strerror or exc}", fix=fix) from None
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        # Short lines (field path: message): pydantic's own text repeats the input and links
        # to its docs, and as the cause it would be printed a second time.
        raise InputError(f"{shown} is not an algo-tracer {what}: "
                         f"{describe_validation(exc.errors())}", fix=fix) from None
