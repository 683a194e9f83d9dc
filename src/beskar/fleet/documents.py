"""YAML read with positions and within limits: fleet files into plain data with the position of every key and list
item; the same reader (`compose`, `Expansion`, `read_regular_file`) under the tree checks' and the SOPS files'
builders."""

from __future__ import annotations

import os
import stat
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


MAX_FILE_BYTES = 8 << 20  # no fleet file, manifest or SOPS file is that big; a bigger one is a mistake or an attack
MAX_DEPTH = 200  # nesting levels of mappings and lists (the example's deepest is 12)
MIN_EXPANSION = 200_000  # values a document may build, at least; else one per byte of text (aliases can't grow it)
SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{kind}" for kind in ("str", "int", "float", "bool", "null", "timestamp"))


class Flaw(Exception):
    """Why YAML cannot be read: a message and the 1-based line and column of the node at fault."""

    def __init__(self, message: str, line: int = 1, column: int = 1):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column

    @classmethod
    def at(cls, message: str, node: yaml.Node) -> Flaw:
        return cls(message, node.start_mark.line + 1, node.start_mark.column + 1)


class Expansion:
    """The limits of one YAML text while a builder walks its nodes: aliases may not make it grow past its own
    size (an alias bomb), refer to themselves (`&a [*a]`), or nest deeper than MAX_DEPTH."""

    def __init__(self, text: str):
        self.budget = max(MIN_EXPANSION, len(text))
        self.open: set[int] = set()

    def enter(self, node: yaml.Node, depth: int) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise Flaw.at("YAML aliases expand this file beyond its size (an alias bomb?)", node)
        if depth > MAX_DEPTH:
            raise Flaw.at(f"YAML nested deeper than {MAX_DEPTH} levels", node)
        if id(node) in self.open:
            raise Flaw.at("YAML alias refers to the node that contains it (a recursive alias)", node)
        self.open.add(id(node))

    def leave(self, node: yaml.Node) -> None:
        self.open.discard(id(node))


def compose(text: str, loader: type = _Loader) -> list[yaml.Node]:
    """Every document's node tree (None for an empty one); syntax errors become a Flaw at their place."""
    try:
        return list(yaml.compose_all(text, Loader=loader))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        start = error.context_mark  # e.g. an unclosed quote: the problem is at the end, the cause where it opened
        since = f"started at line {start.line + 1}," if start and mark and start.line != mark.line else None
        message = " ".join(part for part in (error.context, since, error.problem) if part)
        raise Flaw(f"YAML syntax error: {message}", *((mark.line + 1, mark.column + 1) if mark else ())) from None
    except yaml.reader.ReaderError as error:  # a control character: placed where it is, not at 1:1
        before = text[:error.position]
        line, column = before.count("\n") + 1, error.position - (before.rfind("\n") + 1) + 1
        raise Flaw(f"YAML error: {error.reason} (character {error.character!r})", line, column) from None
    except yaml.YAMLError as error:
        raise Flaw(f"YAML error: {error}") from None
    except RecursionError:
        raise Flaw(f"YAML nested deeper than {MAX_DEPTH} levels") from None


def scalar_value(constructor: yaml.constructor.SafeConstructor, node: yaml.ScalarNode) -> Any:
    """A scalar as YAML 1.1 types it; a tag that cannot hold its text (`!!int brno`) or is unknown is a Flaw."""
    if node.tag not in SCALAR_TAGS and node.tag != "tag:yaml.org,2002:binary":
        raise Flaw.at(f"unsupported YAML tag {node.tag}", node)
    try:
        return constructor.construct_object(node)
    except (ValueError, TypeError, AttributeError, OverflowError, yaml.YAMLError):
        kind = node.tag.rsplit(":", 1)[-1]
        raise Flaw.at(f"{node.value!r} is not a valid {kind} (tag {node.tag})", node) from None


def read_regular_file(path: FsPath, limit: int = MAX_FILE_BYTES) -> bytes:
    """A regular file's bytes, never blocking (a FIFO or device in its place is refused, not read) and at most
    `limit` bytes; OSError for what cannot be read, ValueError (a reason for people) for what is not a file."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise ValueError("a directory, not a file")
        if not stat.S_ISREG(status.st_mode):
            raise ValueError("not a regular file (a FIFO, socket or device)")
        if status.st_size > limit:
            raise ValueError(f"{status.st_size} bytes, more than the {limit >> 20} MiB Beskar reads")
        chunks, size = [], 0
        while chunk := os.read(descriptor, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise ValueError(f"more than the {limit >> 20} MiB Beskar reads")
        return b"".join(chunks)
    finally:
        os.close(descriptor)


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
    def __init__(self, file: str, layer: str, text: str):
        self.file = file
        self.layer = layer
        self.positions: Positions = {}
        self.problems: list[Problem] = []
        self.scalars = _Scalars()
        self.expansion = Expansion(text)

    def origin(self, node: yaml.Node) -> Origin:
        mark = node.start_mark
        return Origin(self.file, mark.line + 1, mark.column + 1, self.layer)

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.ScalarNode):
            self.expansion.budget -= 1
            return scalar_value(self.scalars, node)
        self.expansion.enter(node, len(path))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            return self.sequence(node, path)
        finally:
            self.expansion.leave(node)

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
    """Parse one YAML document; problems (syntax, duplicate keys, limits) raise InputError with positions."""
    try:
        nodes = compose(text)
        if len(nodes) > 1:
            raise Flaw.at("a fleet file holds one YAML document; this is the second", nodes[1])
        node = nodes[0] if nodes else None
        if node is None:
            return {}, {(): Origin(file, 1, 1, layer)}
        builder = _Builder(file, layer, text)
        data = builder.build(node, ())
    except Flaw as flaw:
        raise InputError([Problem(flaw.message, Origin(file, flaw.line, flaw.column, layer))]) from None
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark
        where = Origin(file, mark.line + 1, mark.column + 1, layer) if mark else Origin(file, 1, 1, layer)
        raise InputError([Problem(f"YAML error: {error.problem}", where)]) from None
    if builder.problems:
        raise InputError(builder.problems)
    builder.positions[()] = builder.origin(node)
    return data, builder.positions


def read_document(root: FsPath, relative: str, layer: str) -> tuple[Any, Positions]:
    """Read and parse a fleet file given relative to the fleet root."""
    return parse_document(read_text(root, relative, layer), relative, layer)


def read_text(root: FsPath, relative: str, layer: str) -> str:
    """A fleet file's text: a regular UTF-8 file inside the fleet, within MAX_FILE_BYTES; else an InputError there."""
    path = root / relative
    try:
        resolved = path.resolve(strict=True)
        if not resolved.is_relative_to(root.resolve()):
            raise ValueError(f"it leads outside the fleet (to {resolved})")
        data = read_regular_file(path)
    except (OSError, RuntimeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError([Problem(f"cannot read {relative}: {reason}", Origin(relative, 1, 1, layer))]) from None
    except ValueError as error:
        raise InputError([Problem(f"cannot read {relative}: {error}", Origin(relative, 1, 1, layer))]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise InputError([Problem(f"not UTF-8 text: byte 0x{data[error.start]:02x} ({error.reason})",
                                  Origin(relative, line, column, layer))]) from None
