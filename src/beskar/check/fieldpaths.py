"""Kustomize's field paths (`spec.containers.[name=app].image`, `0`, `*`) on objects as data: the one value a
replacement reads, and the fields it writes (made on the way with `options.create`), as kyaml walks them."""

from __future__ import annotations

import re
from typing import Any, Iterator

import yaml

Slot = tuple[Any, Any, tuple]  # the mapping or list holding a field, its key or index, and its path from the root


class PathError(Exception):
    """A field path kyaml cannot walk on this object (a field of a list, an index past the end ...)."""


class Created:
    """A leaf made by `options.create`: untagged, so the value written there is read as YAML reads plain text."""


CREATED = Created()


def split(path: str) -> list[str]:
    """`a.[name=x.y].b` -> [a, [name=x.y], b]: dots split, except inside brackets (kustomize's smarter splitter)."""
    parts, current, depth = [], "", 0
    for character in path:
        if character == "." and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"[": 1, "]": -1}.get(character, 0)
        current += character
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _list_entry(part: str) -> tuple[str, str] | None:
    if part.startswith("[") and part.endswith("]") and "=" in part:
        field, _, value = part[1:-1].partition("=")
        return field.strip(), value.strip()
    return None


def text(value: Any) -> str:
    """A scalar as YAML writes it (the string kyaml compares and copies); "" for a mapping or a list."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (dict, list, Created)):
        return ""
    return str(value)


def lookup(data: Any, parts: list[str]) -> Any:
    """The value a replacement source reads (kyaml's Lookup: list entries match exactly); None when absent."""
    node = data
    for part in parts:
        entry = _list_entry(part)
        if isinstance(node, list) and entry is not None:
            field, wanted = entry
            matches = [item for item in node if (text(item) == wanted if not field else
                                                 isinstance(item, dict) and field in item and
                                                 text(item[field]) == wanted)]
            node = matches[0] if matches else None
        elif isinstance(node, list) and part.isdigit():
            node = node[int(part)] if int(part) < len(node) else None
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
        if node is None:
            return None
    return node


def _kind_for(next_part: str | None, value: Any) -> Any:
    """What `options.create` makes for a missing part: a list before an index or list entry, else a mapping; the
    leaf takes the shape of the value written there."""
    if next_part is None:
        return [] if isinstance(value, list) else {} if isinstance(value, dict) else CREATED
    return [] if next_part.isdigit() or next_part.startswith("[") else {}


def _shape(node: Any) -> str:
    return "mapping" if isinstance(node, dict) else "list" if isinstance(node, list) else "scalar"


def slots(holder: Any, key: Any, parts: list[str], create: bool, value: Any, trail: tuple = ()) -> Iterator[Slot]:
    """Every field `parts` reaches from holder[key] (kyaml's PathMatcher: list entries match by regular
    expression, `*` is every element), made on the way when `create`."""
    if not parts:
        yield holder, key, trail
        return
    node, part, rest = holder[key], parts[0], parts[1:]
    following = rest[0] if rest else None
    if part.isdigit():
        if not isinstance(node, list):
            raise PathError(f"wrong node kind: expected a list but got a {_shape(node)} at {part!r}")
        index = int(part)
        if index == len(node) and create:
            node.append(_kind_for(following, value))
        if index >= len(node):
            raise PathError(f"index {index} specified but only {len(node)} elements found")
        yield from slots(node, index, rest, create, value, trail + (index,))
    elif part == "*":
        if not isinstance(node, list):
            raise PathError(f"wrong node kind: expected a list but got a {_shape(node)} at '*'")
        for index in range(len(node)):
            yield from slots(node, index, rest, create, value, trail + (index,))
    elif _list_entry(part) is not None:
        yield from _entries(node, part, rest, create, value, trail)
    else:
        if not isinstance(node, dict):
            raise PathError(f"wrong node kind: expected a mapping but got a {_shape(node)} at {part!r}")
        if part not in node:
            if not create:
                return
            node[part] = _kind_for(following, value)
        yield from slots(node, part, rest, create, value, trail + (part,))


def _entries(node: Any, part: str, rest: list[str], create: bool, value: Any, trail: tuple) -> Iterator[Slot]:
    field, pattern = _list_entry(part) or ("", "")
    if not isinstance(node, list):
        raise PathError(f"wrong node kind: expected a list but got a {_shape(node)} at {part!r}")
    try:
        expression = re.compile(pattern)
    except re.error as error:
        raise PathError(f"{part!r} is not a regular expression: {error}") from None
    found = []
    for index, item in enumerate(node):
        if not field:
            if expression.search(text(item).strip()):
                found.append((node, index, trail + (index,)))  # a scalar element itself, whatever follows
        elif isinstance(item, dict) and item.get(field) is not None and expression.search(text(item[field]).strip()):
            found.extend(slots(node, index, rest, create, value, trail + (index,)))
    if not found and create:  # kyaml appends the entry the part describes, and walks on from it
        node.append(plain(pattern) if not field else {field: plain(pattern)})
        last = len(node) - 1
        found = [(node, last, trail + (last,))] if not field else \
            list(slots(node, last, rest, create, value, trail + (last,)))
    yield from found


def plain(written: str) -> Any:
    """An untagged scalar as a YAML reader takes it: numbers, booleans and null, else the string."""
    try:
        value = yaml.safe_load(written) if written.strip() else None
    except yaml.YAMLError:
        return written
    return value if isinstance(value, (bool, int, float)) or (value is None and written.strip()) else written


def typed(target: Any, written: str) -> Any:
    """`written` in the type the target field already has (kyaml keeps the field's tag and copies the text);
    raises PathError when that text is not of that type."""
    if isinstance(target, Created):
        return plain(written)
    if isinstance(target, str):
        return written
    value = plain(written)
    if isinstance(target, bool) and isinstance(value, bool):
        return value
    if isinstance(target, int) and not isinstance(target, bool) and isinstance(value, int) \
            and not isinstance(value, bool):
        return value
    if isinstance(target, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    kind = "null" if target is None else type(target).__name__
    raise PathError(f"the field holds a {kind}, and {written!r} is not one")
