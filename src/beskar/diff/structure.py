"""Structural diff of two JSON-like documents: maps by key, lists of named items by name, other lists as values."""

from __future__ import annotations

import difflib
import json
from typing import Any, Iterator, NamedTuple

from beskar.diff.changes import Change

Path = tuple[Any, ...]
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


class Leaf(NamedTuple):
    path: Path
    change: Change
    old: Any
    new: Any


# Keys that name the items of a list: containers, env, volumes and ports by `name`, MAAS machines by `hostname`.
IDENTITY_KEYS = ("name", "hostname")


def identity(items: Any) -> str | None:
    """The key every item of the list is uniquely named by, if any."""
    if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in IDENTITY_KEYS:
        names = [item.get(key) for item in items]
        if all(isinstance(n, (str, int)) for n in names) and len(set(names)) == len(names):
            return key
    return None


def _common_identity(old: list[Any], new: list[Any]) -> str | None:
    if not old and not new:
        return None
    keys = {identity(items) for items in (old, new) if items}
    return keys.pop() if len(keys) == 1 and None not in keys else None


def _token(item: Any) -> str:
    return json.dumps(item, sort_keys=True, default=str)


def compare(old: Any, new: Any, path: Path = ()) -> Iterator[Leaf]:
    """Every difference between `old` and `new`, at the deepest level where they differ, in document order."""
    if old == new:
        return
    if old is MISSING:
        yield Leaf(path, Change.ADDED, MISSING, new)
    elif new is MISSING:
        yield Leaf(path, Change.REMOVED, old, MISSING)
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            yield from compare(old.get(key, MISSING), new.get(key, MISSING), path + (key,))
    elif isinstance(old, list) and isinstance(new, list) and (key := _common_identity(old, new)):
        before = {item[key]: item for item in old}
        after = {item[key]: item for item in new}
        for name in list(before) + [n for n in after if n not in before]:
            yield from compare(before.get(name, MISSING), after.get(name, MISSING), path + (Named(name),))
    elif isinstance(old, list) and isinstance(new, list) and \
            any(isinstance(item, (dict, list)) for item in old + new):
        yield from _sequence(old, new, path)
    else:
        yield Leaf(path, Change.CHANGED, old, new)


def _sequence(old: list[Any], new: list[Any], path: Path) -> Iterator[Leaf]:
    """Lists of unnamed maps (valuesFrom, tolerations): items matched by equality, the rest by position."""
    matcher = difflib.SequenceMatcher(None, [_token(i) for i in old], [_token(i) for i in new], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for offset in range(paired):
            yield from compare(old[i1 + offset], new[j1 + offset], path + (j1 + offset,))
        for index in range(i1 + paired, i2):
            yield Leaf(path + (index,), Change.REMOVED, old[index], MISSING)
        for index in range(j1 + paired, j2):
            yield Leaf(path + (index,), Change.ADDED, MISSING, new[index])


class Named(str):
    """A path step into a list item matched by name (shown as `[name]`)."""


def dotted(path: Path) -> str:
    """`spec.template.spec.containers[nova-compute].image`; keys with dots are bracketed as `["a.b"]`."""
    text = ""
    for step in path:
        if isinstance(step, Named):
            text += f"[{step}]"
        elif isinstance(step, int):
            text += f"[{step}]"
        elif "." in str(step) or not str(step):
            text += f'["{step}"]'
        else:
            text += ("." if text else "") + str(step)
    return text

