"""scikit-learn estimators and torch models / state_dicts (both imported lazily).

Private module: import from `algo_tracer.hashing`; names here carry no stability promise.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from typing import Any

from algo_tracer.errors import InputError
from algo_tracer.hashing._core import (
    DOMAIN_TAGS,
    Digest,
    _lp,
    _tagged,
    _u64,
    canonical_json,
    hash_bytes,
)
from algo_tracer.hashing._files import hash_path
from algo_tracer.hashing._tables import _header, _is_null, _write_ndarray, hash_array

# --------------------------------------------------------------------------- models


def _qualname(obj: Any) -> str:
    qualname = getattr(obj, "__qualname__", type(obj).__qualname__)
    return f"{getattr(obj, '__module__', '?')}.{qualname}"


def _is_estimator(obj: Any) -> bool:
    return (
        not isinstance(obj, type)
        and callable(getattr(obj, "get_params", None))
        and hasattr(obj, "fit")
    )


def _describe_estimator(est: Any, where: str, stack: set[int]) -> dict[str, Any]:
    if id(est) in stack:
        raise InputError(f"{where}: estimator refers to itself", fix="break the cycle")
    stack.add(id(est))
    params = est.get_params(deep=False)
    fitted = {
        k: v
        for k, v in getattr(est, "__dict__", {}).items()
        if k.endswith("_") and not k.startswith("_")
    }
    desc = {
        "class": f"{type(est).__module__}.{type(est).__qualname__}",
        "params": {k: _model_value(v, f"{where}.{k}", stack) for k, v in params.items()},
        "fitted": {k: _model_value(v, f"{where}.{k}", stack) for k, v in fitted.items()},
    }
    stack.discard(id(est))
    return desc


def _model_value(v: Any, where: str, stack: set[int]) -> Any:
    """Map a parameter or fitted attribute onto canonical-JSON values (arrays by digest)."""
    if v is None or isinstance(v, str | bool):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return (
            float(v)
            if math.isfinite(v)
            else {"$float": "nan" if v != v else "inf" if v > 0 else "-inf"}
        )
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(v, np.ma.MaskedArray):
            fill = {"O": None, "U": "", "S": b""}.get(v.dtype.kind, 0)
            data = np.ma.getdata(v.filled(fill))
            mask = np.ma.getmaskarray(v)
            return {"$masked": [_model_value(data, where, stack), hash_array(mask).hex]}
        if isinstance(v, np.ndarray):
            if v.dtype.kind == "O" and not all(map(_is_plain, v.flat)):
                items = [_model_value(x, f"{where}[{i}]", stack) for i, x in enumerate(v.flat)]
                return {"$objects": [list(v.shape), items]}
            if v.dtype.names:
                return {
                    "$struct": [
                        [n, hash_array(np.ascontiguousarray(v[n])).hex] for n in v.dtype.names
                    ]
                }
            h = _tagged(DOMAIN_TAGS["array"])
            _write_ndarray(h, v, where)
            return {"$array": h.hexdigest()}
        if isinstance(v, np.bool_ | np.integer | np.floating):
            return _model_value(v.item(), where, stack)
        if isinstance(v, np.dtype):
            return {"$dtype": str(v)}
        if isinstance(v, np.generic):
            return {"$array": hash_array(np.asarray(v)).hex}
        if isinstance(v, np.random.RandomState | np.random.Generator):
            # Recorded by its current state (seeded generators hash reproducibly).
            rng = v.get_state(legacy=False) if isinstance(v, np.random.RandomState) else None
            rng = rng if rng is not None else v.bit_generator.state
            return {"$rng": [_qualname(type(v)), _model_value(rng, where, stack)]}
    if isinstance(v, Mapping | list | tuple):
        if id(v) in stack:
            raise InputError(
                f"{where}: circular reference",
                fix="save the model (joblib/skops) and hash the file with hash_model(path)",
            )
        stack.add(id(v))
        if isinstance(v, Mapping):
            if all(isinstance(k, str) and not k.startswith("$") for k in v):
                out: Any = {k: _model_value(x, f"{where}.{k}", stack) for k, x in v.items()}
            else:
                pairs = [
                    [
                        _model_value(k, f"{where} key", stack),
                        _model_value(x, f"{where}[{k!r}]", stack),
                    ]
                    for k, x in v.items()
                ]
                out = {"$map": sorted(pairs, key=lambda p: canonical_json(p[0]))}
        else:
            out = [_model_value(x, f"{where}[{i}]", stack) for i, x in enumerate(v)]
        stack.discard(id(v))
        return out
    if _is_estimator(v):
        return {"$estimator": _describe_estimator(v, where, stack)}
    if isinstance(v, type):
        return {"$type": _qualname(v)}
    if callable(v) and (hasattr(v, "__qualname__") or type(v).__name__ == "ufunc"):
        # Functions, builtins, ufuncs, numpy dispatchers: recorded by qualified name.
        module = getattr(v, "__module__", None) or type(v).__module__
        name = f"{module}.{getattr(v, '__qualname__', None) or getattr(v, '__name__', '?')}"
        if "<lambda>" in name or "<locals>" in name or name.endswith(".?"):
            raise InputError(
                f"{where}: {name} is a lambda or local function and cannot be identified by name",
                fix="use a module-level function, or save the model (joblib.dump) and trace "
                "the file: exp.trace_model(\"model.joblib\")",
            )
        return {"$callable": name}
    module = type(v).__module__
    if module.startswith("scipy.sparse") and hasattr(v, "tocsr"):
        csr = v.tocsr(copy=True)
        csr.sum_duplicates()
        csr.sort_indices()
        parts = [csr.data, csr.indices.astype("<i8"), csr.indptr.astype("<i8")]
        return {"$sparse": [list(csr.shape), *(hash_array(p).hex for p in parts)]}
    if module.startswith("sklearn.neighbors.") and hasattr(v, "get_arrays"):
        # KD/ball trees: the arrays only; their pickled state also holds query counters
        # that change on every predict() and would make the digest drift with use.
        arrays = [_model_value(a, where, stack) for a in v.get_arrays()]
        return {"$object": [f"{module}.{type(v).__qualname__}", arrays]}
    if module.split(".")[0] in ("sklearn", "scipy"):
        # Library objects (tree structures, loss objects, splines): their pickle recipe,
        # i.e. constructor arguments and state, which is exactly what a saved model holds.
        reduced = v.__reduce_ex__(4)
        if isinstance(reduced, tuple) and len(reduced) >= 2:
            name = f"{module}.{type(v).__qualname__}"
            return {"$object": [name, _model_value(list(reduced[1:3]), where, stack)]}
    raise InputError(
        f"{where}: value of type {module}.{type(v).__qualname__} has no canonical encoding",
        fix="save the model (joblib/skops/torch.save) and hash the file with hash_model(path)",
    )


def _is_plain(v: Any) -> bool:
    """True for values the tagged object encoding takes (str, bytes, bool, int, float, null)."""
    np = sys.modules.get("numpy")
    plain = (str, bytes, bool, int, float) + ((np.bool_, np.integer, np.floating) if np else ())
    return isinstance(v, plain) or _is_null(v)


def _torch() -> Any:
    return sys.modules.get("torch")


def _tensor_digest(t: Any, where: str) -> Digest:
    torch = _torch()
    t = t.detach()
    if t.is_sparse or getattr(t, "is_quantized", False):
        raise InputError(
            f"{where}: sparse and quantized tensors are not supported",
            fix="call .to_dense() / .dequantize()",
        )
    t = t.cpu().resolve_conj().resolve_neg().contiguous()
    try:
        arr = t.numpy()
    except TypeError:  # bfloat16, float8, ...: no numpy equivalent, hash the raw bytes
        h = _tagged(DOMAIN_TAGS["array"])
        _header(h, "torch:" + str(t.dtype).removeprefix("torch."), tuple(int(d) for d in t.shape))
        h.update(t.reshape(-1).view(torch.uint8).numpy())
        return Digest("array", h.digest())
    return hash_array(arr)


def _hash_state_dict(state: Mapping[str, Any]) -> Digest:
    torch = _torch()
    items = []
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise InputError(
                f"state_dict entry {key!r} is a {type(value).__name__}, not a tensor",
                fix="hash tensors only, or save with torch.save and hash the file",
            )
        items.append((key.encode("utf-8"), _tensor_digest(value, f"state_dict[{key!r}]")))
    items.sort(key=lambda kv: kv[0])
    h = _tagged(DOMAIN_TAGS["torch-state-dict"])
    h.update(_u64(len(items)))
    for raw_key, d in items:
        h.update(_lp(raw_key) + d.value)
    return Digest("torch-state-dict", h.digest())


def _is_state_dict(obj: Any) -> bool:
    """A mapping holding tensors (any non-tensor entry is then refused by name)."""
    torch = _torch()
    return (
        torch is not None
        and isinstance(obj, Mapping)
        and any(isinstance(v, torch.Tensor) for v in obj.values())
    )


def hash_model(model: Any) -> Digest:
    """Digest of a model: saved files, a scikit-learn estimator, or PyTorch state.

    * path -> `hash_path` (``file`` or ``directory`` digest of the saved model);
    * scikit-learn estimator -> ``sklearn-model``: canonical JSON of class path, ``get_params``
      and the fitted attributes (public names ending in ``_``), arrays replaced by their digests;
    * torch ``nn.Module`` or ``state_dict`` -> ``torch-state-dict``: tensors sorted by key.

    Raises:
        InputError: If the model holds values with no canonical encoding (the message names the
            attribute; hashing the saved file is always possible).
    """
    if isinstance(model, str | os.PathLike):
        return hash_path(model)
    torch = _torch()
    if torch is not None and isinstance(model, torch.nn.Module):
        return _hash_state_dict(model.state_dict())
    if _is_state_dict(model):
        return _hash_state_dict(model)
    if _is_estimator(model):
        desc = _describe_estimator(model, type(model).__name__, set())
        return hash_bytes(DOMAIN_TAGS["sklearn-model"], canonical_json(desc), kind="sklearn-model")
    raise InputError(
        f"cannot hash a {type(model).__module__}.{type(model).__qualname__} as a model",
        fix="pass a saved model path, a scikit-learn estimator, or a torch Module/state_dict",
    )
