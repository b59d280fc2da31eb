"""The one key-by-key diff of two mappings (internal; no stability promise).

Example:
    >>> mapping_changes({"a": 1, "b": 2}, {"b": 3, "c": 4})
    [('a', 1, None), ('b', 2, 3), ('c', None, 4)]
    >>> mapping_diff("column", {"x": "0" * 64}, {"x": "1" * 64, "y": "2" * 64})
    ["column 'x' changed 000000000000 -> 111111111111", "column 'y' added"]

`mapping_changes` is the diff; `mapping_diff` words it as note lines (a stage's columns, params,
metrics or tags, in verification) and `algo_tracer.verify.drift` words it as `Drift`s (packages
and lock files). Pure: imports nothing of algo_tracer, so `algo_tracer.stages` and `verify` can
both use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["MAX_LINES", "mapping_changes", "mapping_diff"]

#: Default number of note lines `mapping_diff` returns.
MAX_LINES = 8


def mapping_changes[V](old: Mapping[str, V], new: Mapping[str, V]
                       ) -> list[tuple[str, V | None, V | None]]:
    """``(key, old value, new value)`` for each key whose value differs, sorted by key.

    A key missing on one side (or mapped to None there) has None on that side: added when the
    old value is None, removed when the new one is.
    """
    changes: list[tuple[str, V | None, V | None]] = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a != b:
            changes.append((key, a, b))
    return changes


def mapping_diff(what: str, old: Mapping[str, Any], new: Mapping[str, Any], *,
                 show: Callable[[Any], str] = lambda digest: digest[:12],
                 verb: str = "changed ", limit: int | None = MAX_LINES) -> list[str]:
    """Sorted lines naming each key added, removed or changed between two mappings."""
    lines = []
    for key, a, b in mapping_changes(old, new):
        if a is None or b is None:
            lines.append(f"{what} {key!r} {'added' if a is None else 'removed'}")
        else:
            lines.append(f"{what} {key!r} {verb}{show(a)} -> {show(b)}")
    return lines[:limit]
