"""Layering documents (global, profile, site) into one, keeping every leaf's provenance."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from beskar.fleet.documents import KeyPath, Positions, named_list
from beskar.problems import Origin


@dataclass(frozen=True)
class Setting:
    """One layer setting a value: where, and what it set (None for a deletion by `null`)."""

    origin: Origin
    value: Any
    deleted: bool = False

    def __reduce__(self):
        # A layered site is sent back by the worker that compiled it: a thousand of these each, as their fields.
        return Setting, (self.origin, self.value, self.deleted)


# Every path of the merged document, with the settings that produced it, oldest first.
Provenance = dict[KeyPath, list[Setting]]


_SCALARS = (str, int, float, bool, type(None))


def _copied(value: Any) -> Any:
    """A deep copy of a parsed document's value: maps, lists and scalars copied without deepcopy's memo (a
    document has no shared parts and no cycles; a third of layering's time went to deepcopy)."""
    kind = type(value)
    if kind is dict:
        return {key: _copied(item) for key, item in value.items()}
    if kind is list:
        return [_copied(item) for item in value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)


def _leaf(value: Any) -> Any:
    if isinstance(value, dict):
        return "<mapping>"
    if isinstance(value, list):
        return "<list>"
    return value


def _record(provenance: Provenance, positions: Positions, path: KeyPath, value: Any) -> None:
    """Add the settings of one layer's subtree at `path`."""
    origin = positions.get(path)
    if origin is not None:
        provenance.setdefault(path, []).append(Setting(origin, _leaf(value), deleted=value is None))
    if isinstance(value, dict):
        for key, child in value.items():
            _record(provenance, positions, path + (key,), child)
    elif isinstance(value, list):
        keys = [item["name"] for item in value] if named_list(value) else range(len(value))
        for key, child in zip(keys, value):
            _record(provenance, positions, path + (key,), child)


def _forget(provenance: Provenance, path: KeyPath) -> None:
    """Drop the provenance of everything strictly below `path` (it was replaced)."""
    depth = len(path)
    for key in [k for k in provenance if len(k) > depth and k[:depth] == path]:
        del provenance[key]


def _merge(base: Any, overlay: Any, path: KeyPath, positions: Positions, provenance: Provenance) -> Any:
    if isinstance(base, dict) and isinstance(overlay, dict):
        origin = positions.get(path)
        if origin is not None and path:
            provenance.setdefault(path, []).append(Setting(origin, "<mapping>"))
        merged = dict(base)
        for key, value in overlay.items():
            child = path + (key,)
            if value is None:
                if key in merged:
                    del merged[key]
                    _forget(provenance, child)
                provenance.setdefault(child, []).append(Setting(positions[child], None, deleted=True))
            elif key in merged:
                merged[key] = _merge(merged[key], value, child, positions, provenance)
            else:
                merged[key] = _copied(value)
                _record(provenance, positions, child, value)
        return merged
    if isinstance(base, list) and isinstance(overlay, list) and named_list(base) and named_list(overlay):
        provenance.setdefault(path, []).append(Setting(positions[path], "<list>"))
        by_name = {item["name"]: item for item in base}
        order = [item["name"] for item in base]
        for item in overlay:
            name = item["name"]
            if name in by_name:
                by_name[name] = _merge(by_name[name], item, path + (name,), positions, provenance)
            else:
                by_name[name] = _copied(item)
                order.append(name)
                _record(provenance, positions, path + (name,), item)
        return [by_name[name] for name in order]
    # Scalars, and lists that are not both named, replace what was below.
    if isinstance(base, (dict, list)):
        _forget(provenance, path)
    _record(provenance, positions, path, overlay)
    return _copied(overlay)


def _strip_nulls(value: Any) -> Any:
    """A null in the first layer that sets a key also means 'not set'."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def merge_layers(layers: list[tuple[Any, Positions]]) -> tuple[dict[str, Any], Provenance]:
    """Merge documents lowest layer first: maps deeply, named lists by name, other values replace.

    An explicit `null` deletes what lower layers set. Returns the merged document and
    the provenance of each of its paths.
    """
    merged: Any = {}
    provenance: Provenance = {}
    for data, positions in layers:
        merged = _merge(merged, data if data is not None else {}, (), positions, provenance)
    return _strip_nulls(merged), provenance
