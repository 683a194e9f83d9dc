"""Structural diff of two JSON-like documents: maps by key, lists of named items by name, other lists as values."""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

from beskar.diff.changes import Change

Path = tuple[Any, ...]
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


class Leaf(NamedTuple):
    path: Path
    change: Change
    old: Any
    new: Any


def _named(items: Any) -> bool:
    """A list whose items Kubernetes (and layering) match by `name`: containers, env, volumes, ports."""
    if not isinstance(items, list) or not items:
        return False
    names = [item.get("name") for item in items if isinstance(item, dict)]
    return len(names) == len(items) and all(isinstance(n, (str, int)) for n in names) and len(set(names)) == len(names)


def _matchable(old: Any, new: Any) -> bool:
    return (_named(old) or old == []) and (_named(new) or new == []) and (old or new)


def compare(old: Any, new: Any, path: Path = ()) -> Iterator[Leaf]:
    """Every difference between `old` and `new`, deepest first-differing level, in document order."""
    if old == new:
        return
    if old is MISSING:
        yield Leaf(path, Change.ADDED, MISSING, new)
    elif new is MISSING:
        yield Leaf(path, Change.REMOVED, old, MISSING)
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            yield from compare(old.get(key, MISSING), new.get(key, MISSING), path + (key,))
    elif isinstance(old, list) and isinstance(new, list) and _matchable(old, new):
        before = {item["name"]: item for item in old}
        after = {item["name"]: item for item in new}
        for name in list(before) + [n for n in after if n not in before]:
            yield from compare(before.get(name, MISSING), after.get(name, MISSING), path + (Named(name),))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and \
            any(isinstance(item, (dict, list)) for item in old + new):
        for position, (before_item, after_item) in enumerate(zip(old, new)):
            yield from compare(before_item, after_item, path + (position,))
    else:
        yield Leaf(path, Change.CHANGED, old, new)


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


def get(document: Any, path: Path, default: Any = None) -> Any:
    """The value at a path `compare` gave (named steps pick the list item by name)."""
    value = document
    for step in path:
        if isinstance(step, Named) and isinstance(value, list):
            value = next((i for i in value if isinstance(i, dict) and i.get("name") == str(step)), MISSING)
        elif isinstance(value, dict):
            value = value.get(step, MISSING)
        elif isinstance(value, list) and isinstance(step, int) and step < len(value):
            value = value[step]
        else:
            value = MISSING
        if value is MISSING:
            return default
    return value
