"""Canonical, domain-separated SHA-256 digests (scheme ``algotrace-hash/v1``).

Example:
    >>> from algo_tracer.hashing import canonical_json, hash_bytes, hash_params
    >>> canonical_json({"b": 1, "a": [1.0, None, "é"]}).decode()
    '{"a":[1.0,null,"é"],"b":1}'
    >>> str(hash_params({"lr": 0.1, "epochs": 3}))[:7]
    'sha256:'
    >>> hash_bytes("algotrace/v1/example", b"data").kind
    'algotrace/v1/example'

Everything here is SHA-256, the AVM's native hash, so a contract or a browser can recompute it.
Files are hashed *undecorated* (``sha256sum`` reproduces them); every other kind is hashed as
``SHA-256(tag || 0x00 || body)`` with a tag per kind (`DOMAIN_TAGS`). ``docs/hashing.md`` gives
every byte layout; keep the two in step, and bump the scheme version on any change of output.

numpy, pandas, scikit-learn and torch are imported lazily, only when such an object is hashed.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from algo_tracer.errors import InputError
from algo_tracer.hashing._core import (
    DOMAIN_TAGS,
    JSON_SCHEME_V1,
    JSON_SCHEME_V2,
    JSON_SCHEMES,
    PARAMS_SCHEME_V1,
    PARAMS_SCHEME_V2,
    PARAMS_SCHEMES,
    SCHEME,
    Digest,
    canonical_json,
    hash_bytes,
    hash_json,
    hash_params,
    jcs_json,
    json_encoder,
    json_tag,
    params_scheme,
)
from algo_tracer.hashing._files import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_IGNORE,
    DirectoryDigest,
    DirectoryEntry,
    hash_directory,
    hash_file,
    hash_path,
)
from algo_tracer.hashing._models import (
    _is_estimator,
    _is_state_dict,
    _tensor_digest,
    _torch,
    hash_model,
)
from algo_tracer.hashing._tables import dataframe_column_digests, hash_array, hash_dataframe

_SUPPORTED = (
    "a file or directory path (str or os.PathLike), bytes, a binary file object, "
    "a pandas DataFrame or Series, a numpy ndarray, a Mapping of parameters, a scikit-learn "
    "estimator, or a torch Module / Tensor / state_dict"
)


# --------------------------------------------------------------------------- dispatch


def digest_of(obj: Any) -> Digest:
    """Digest of ``obj``, choosing the scheme by type.

    path (str/PathLike) -> file or directory; bytes-like -> plain SHA-256 (``file``); binary file
    object -> ``file``; DataFrame -> ``dataframe``; Series -> ``dataframe`` of
    ``series.to_frame()`` (its name is the column label); ndarray / torch Tensor -> ``array``;
    scikit-learn estimator, torch Module or state_dict -> model; other Mapping -> ``params``.

    Raises:
        InputError: For anything else, listing what is supported.
    """
    if isinstance(obj, str | os.PathLike):
        return hash_path(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return Digest("file", hashlib.sha256(obj).digest())
    if isinstance(obj, io.IOBase) or (hasattr(obj, "read") and hasattr(obj, "seek")):
        return hash_file(obj)
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(obj, pd.DataFrame):
        return hash_dataframe(obj)
    if pd is not None and isinstance(obj, pd.Series):  # e.g. the labels, y_train
        return hash_dataframe(obj.to_frame())
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        return hash_array(obj)
    torch = _torch()
    if torch is not None and isinstance(obj, torch.Tensor):
        return _tensor_digest(obj, "tensor")
    if (
        _is_estimator(obj)
        or _is_state_dict(obj)
        or (torch is not None and isinstance(obj, torch.nn.Module))
    ):
        return hash_model(obj)
    if isinstance(obj, Mapping):
        return hash_params(obj)
    raise InputError(
        f"cannot hash a {type(obj).__module__}.{type(obj).__qualname__}; "
        f"supported: {_SUPPORTED}",
        fix="convert it to a supported type, or call hash_params()/hash_bytes() explicitly",
    )


hash_any: Callable[[Any], Digest] = digest_of

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_IGNORE",
    "DOMAIN_TAGS",
    "JSON_SCHEMES",
    "JSON_SCHEME_V1",
    "JSON_SCHEME_V2",
    "PARAMS_SCHEMES",
    "PARAMS_SCHEME_V1",
    "PARAMS_SCHEME_V2",
    "SCHEME",
    "Digest",
    "DirectoryDigest",
    "DirectoryEntry",
    "canonical_json",
    "dataframe_column_digests",
    "digest_of",
    "hash_any",
    "hash_array",
    "hash_bytes",
    "hash_dataframe",
    "hash_directory",
    "hash_file",
    "hash_json",
    "hash_model",
    "hash_params",
    "hash_path",
    "jcs_json",
    "json_encoder",
    "json_tag",
    "params_scheme",
]
