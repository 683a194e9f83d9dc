"""YAML fleet files read into plain data, with the position of every key and list item."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

import yaml

from beskar.problems import InputError, Origin, Problem

_IMPLICIT_TAGS: dict[tuple[type, str, tuple[bool, bool]], str] = {}


class CachedResolver:
    """PyYAML's safe implicit typing (`true`, `1.5`, `~` ...) remembered per scalar text.

    The composer asks it once per scalar, in Python even with libyaml, and a fleet repeats
    the same keys and values thousands of times. Safe loaders have no path resolvers, so the
    answer depends only on the text: the cache cannot change it.
    """

    def resolve(self, kind, value, implicit):
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (type(self), value, implicit)
        tag = _IMPLICIT_TAGS.get(key)
        if tag is None:
            if len(_IMPLICIT_TAGS) > 1 << 17:  # bounded: a long-lived process reads many fleets
                _IMPLICIT_TAGS.clear()
            tag = _IMPLICIT_TAGS[key] = super().resolve(kind, value, implicit)
        return tag


class _Loader(CachedResolver, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


# A path into a document: mapping keys, and for lists either the item's `name`
# (lists of named items, which layering merges by name) or its index.
KeyPath = tuple[Any, ...]
Positions = dict[KeyPath, Origin]


class _Scalars(yaml.constructor.SafeConstructor):
    """Constructs scalars only; mappings and sequences are walked by `_Builder`."""


def named_list(items: list[Any]) -> bool:
    """A list layering merges by name: every item is a mapping with a scalar `name`."""
    return bool(items) and all(
        isinstance(item, dict) and isinstance(item.get("name"), (str, int)) for item in items
    )


class _Builder:
    def __init__(self, file: str, layer: str):
        self.file = file
        self.layer = layer
        self.positions: Positions = {}
        self.problems: list[Problem] = []
        self.scalars = _Scalars()

    def origin(self, node: yaml.Node) -> Origin:
        mark = node.start_mark
        return Origin(self.file, mark.line + 1, mark.column + 1, self.layer)

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return self.sequence(node, path)
        return self.scalars.construct_object(node)

    def mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        self.scalars.flatten_mapping(node)  # YAML merge keys (<<) go first; the mapping's own keys override them
        merged = len(node.value) - own
        result: dict[Any, Any] = {}
        seen: dict[Any, Origin] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.build(key_node, path)
            where = self.origin(key_node)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                self.problems.append(Problem("mapping keys must be plain scalars", where))
                continue
            if index >= merged:
                if key in seen:
                    self.problems.append(
                        Problem(f"duplicate key {key!r} (first set at line {seen[key].line})", where))
                    continue
                seen[key] = where
            if key in result:  # a merged-in key overridden by a later merge source or by the mapping itself
                self._forget(path + (key,))
            self.positions[path + (key,)] = where
            result[key] = self.build(value_node, path + (key,))
        return result

    def _forget(self, path: KeyPath) -> None:
        depth = len(path)
        for key in [k for k in self.positions if k[:depth] == path]:
            del self.positions[key]

    def sequence(self, node: yaml.SequenceNode, path: KeyPath) -> list[Any]:
        # The list's own positions are collected apart, so renaming them by item name looks at them only
        # (not at every position of the file: that made files with many named lists quadratic).
        outer, self.positions = self.positions, {}
        try:
            items = [self.build(child, path + (index,)) for index, child in enumerate(node.value)]
            if named_list(items):
                self._rekey_by_name(node, path, items)
            else:
                for index, child in enumerate(node.value):
                    self.positions.setdefault(path + (index,), self.origin(child))
            inner = self.positions
        finally:
            self.positions = outer
        outer.update(inner)
        return items

    def _rekey_by_name(self, node: yaml.SequenceNode, path: KeyPath, items: list[Any]) -> None:
        """Positions below a named list are addressed by item name, as layering merges them."""
        depth = len(path)
        names: dict[Any, Origin] = {}
        renamed: dict[int, Any] = {}
        for index, (child, item) in enumerate(zip(node.value, items)):
            name = item["name"]
            if name in names:
                self.problems.append(
                    Problem(f"duplicate item name {name!r} (first at line {names[name].line})", self.origin(child)))
            names[name] = self.origin(child)
            renamed[index] = name
        # Rename all at once: an item's index may equal another item's (integer) name.
        moved: Positions = {}
        for key in [k for k in self.positions if len(k) > depth and k[:depth] == path]:
            if isinstance(key[depth], int) and key[depth] in renamed:
                moved[path + (renamed[key[depth]],) + key[depth + 1:]] = self.positions.pop(key)
        self.positions.update(moved)
        for index, name in renamed.items():
            self.positions[path + (name,)] = self.origin(node.value[index])


def parse_document(text: str, file: str, layer: str) -> tuple[Any, Positions]:
    """Parse one YAML document; problems (syntax, duplicate keys) raise InputError with positions."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = Origin(file, mark.line + 1, mark.column + 1, layer) if mark else None
        start = error.context_mark  # e.g. an unclosed quote: the problem is at the end, the cause where it opened
        since = f"started at line {start.line + 1}," if start and mark and start.line != mark.line else None
        message = " ".join(part for part in (error.context, since, error.problem) if part)
        raise InputError([Problem(f"YAML syntax error: {message}", where)]) from None
    except yaml.YAMLError as error:
        raise InputError([Problem(f"YAML error: {error}", Origin(file, 1, 1, layer))]) from None
    if node is None:
        return {}, {(): Origin(file, 1, 1, layer)}
    builder = _Builder(file, layer)
    try:
        data = builder.build(node, ())
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark
        where = Origin(file, mark.line + 1, mark.column + 1, layer) if mark else None
        raise InputError([Problem(f"YAML error: {error.problem}", where)]) from None
    if builder.problems:
        raise InputError(builder.problems)
    builder.positions[()] = builder.origin(node)
    return data, builder.positions


def read_document(root: FsPath, relative: str, layer: str) -> tuple[Any, Positions]:
    """Read and parse a fleet file given relative to the fleet root."""
    path = root / relative
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError([Problem(f"not UTF-8 text: {error.reason}", Origin(relative, 1, 1, layer))]) from None
    except OSError as error:
        raise InputError([Problem(f"cannot read file: {error.strerror}", Origin(relative, 1, 1, layer))]) from None
    return parse_document(text, relative, layer)
