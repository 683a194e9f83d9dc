"""YAML files of any Flux repository as data, keeping every key's line: multi-document, anchors and merge keys."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from beskar.fleet.documents import MAX_DEPTH, CachedResolver, Expansion, compose
from beskar.memory import paused_gc
from beskar.fleet.documents import Flaw as Unreadable


class _Loader(CachedResolver, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


_MERGE = "tag:yaml.org,2002:merge"
_constructor = yaml.constructor.SafeConstructor()
# YAML -> JSON as Kubernetes reads it: timestamps and binary stay strings.
_SCALARS = {
    "tag:yaml.org,2002:null": lambda node: None,
    "tag:yaml.org,2002:bool": _constructor.construct_yaml_bool,
    "tag:yaml.org,2002:int": _constructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _constructor.construct_yaml_float,
}
_DIRECTIVE = re.compile(r"#\s*beskar:\s*disable\s*=\s*([A-Za-z0-9_/*.,\- ]+)")

Path = tuple[Any, ...]




@dataclass(frozen=True)
class Flaw:
    """Why a file (or part of it) cannot be read as YAML: message and 1-based line."""

    message: str
    line: int


@dataclass
class Document:
    """One YAML document of a file: its data and its node tree (for the line of any path)."""

    file: str
    index: int
    data: Any
    node: yaml.Node | None

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1 if self.node is not None else 1

    def find(self, path: Path) -> yaml.Node | None:
        """The node at exactly `path`, or None when the document does not have it."""
        node = self.node
        for key in path:
            node = _child(node, key)
            if node is None:
                return None
        return node

    def line_of(self, path: Path) -> int:
        """The line of `path`, or of its nearest ancestor the document has (for a mapping key: the key's line)."""
        node, line = self.node, self.line
        for key in path:
            if isinstance(node, yaml.MappingNode):
                pair = _pair(node, key)
                if pair is None:
                    return line
                line, node = pair[0].start_mark.line + 1, pair[1]
            else:
                node = _child(node, key)
                if node is None:
                    return line
                line = node.start_mark.line + 1
        return line


def _pair(node: yaml.MappingNode, key: Any) -> tuple[yaml.Node, yaml.Node] | None:
    # Indexed once per mapping: a scan per lookup made placing every finding of a mapping with n keys O(n^2)
    # (`check` of a service whose raw `values` has 16k keys took minutes).
    index = node.__dict__.get("_pairs_by_key")
    if index is None:
        index = {}
        for key_node, value_node in node.value:  # the mapping's own (last) key wins over merged ones
            if isinstance(key_node, yaml.ScalarNode):
                index[key_node.value] = (key_node, value_node)
        node.__dict__["_pairs_by_key"] = index
    return index.get(str(key))


def _child(node: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        pair = _pair(node, key)
        return pair[1] if pair else None
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


@dataclass
class YamlFile:
    """A YAML file: its documents (empty ones dropped), or the flaw that stopped reading it."""

    path: str
    text: str
    documents: list[Document] = field(default_factory=list)
    flaws: list[Flaw] = field(default_factory=list)


class _Builder:
    def __init__(self, text: str) -> None:
        self.flaws: list[Flaw] = []
        self.expansion = Expansion(text)

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        if isinstance(node, yaml.ScalarNode):
            self.expansion.budget -= 1
            convert = _SCALARS.get(node.tag)
            return node.value if convert is None else convert(node)
        self.expansion.enter(node, depth)
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(child, depth + 1) for child in node.value]
            return self.mapping(node, depth)
        finally:
            self.expansion.leave(node)

    def mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        own = sum(1 for key, _ in node.value if key.tag != _MERGE)
        if own != len(node.value):
            _constructor.flatten_mapping(node)  # merged keys first; the mapping's own keys override them
        merged = len(node.value) - own
        result: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for index, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode):
                self.flaws.append(Flaw("mapping keys must be plain scalars", key_node.start_mark.line + 1))
                continue
            key = key_node.value
            if index >= merged:
                if key in seen:
                    self.flaws.append(Flaw(f"duplicate key {key!r} (first at line {seen[key]})",
                                           key_node.start_mark.line + 1))
                seen[key] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, depth + 1)
        return result


class _RedefiningLoader(CachedResolver, yaml.SafeLoader):
    """YAML 1.2 lets an anchor be defined again; later aliases mean the latest. Go's YAML (kustomize, Flux)
    reads such files, PyYAML's composer refuses them."""

    def compose_node(self, parent: Any, index: Any) -> yaml.Node:
        if not self.check_event(yaml.AliasEvent):
            anchor = self.peek_event().anchor
            if anchor is not None:
                self.anchors.pop(anchor, None)
        return super().compose_node(parent, index)


def _compose(text: str) -> list[yaml.Node]:
    """The one reader's nodes (fleet.documents.compose, with its limits); a file that redefines an anchor is
    read again as Go's YAML reads it (only then: the pure-Python composer is the slower one)."""
    with paused_gc():
        try:
            return compose(text, _Loader)
        except Unreadable as unreadable:
            if "duplicate anchor" not in unreadable.message:
                raise
            return compose(text, _RedefiningLoader)


def parse_yaml(path: str, text: str) -> YamlFile:
    """Parse every document of a file; syntax errors and duplicate keys become flaws with their line.

    The node trees (for positions) are not kept: a file's nodes take ten times its data's memory and most files
    never have a finding; they are read again from the text, the same way, when a line is asked for."""
    parsed = YamlFile(path, text)
    try:
        nodes, built, flaws = _read(text)
    except Unreadable as unreadable:
        parsed.flaws.append(Flaw(unreadable.message, unreadable.line))
        return parsed
    later = _ComposedLater(text, nodes=None)
    parsed.documents = [LazyDocument(path, index, data, later) for index, data in built]
    parsed.flaws.extend(flaws)
    return parsed


def _read(text: str) -> tuple[list[yaml.Node | None], list[tuple[int, Any]], list[Flaw]]:
    """Every document's nodes (merge keys flattened into them), (index, data) of those that are data, and flaws."""
    nodes = _compose(text)
    builder = _Builder(text)
    built, flaws = [], []
    for index, node in enumerate(nodes):
        if node is None:
            continue
        try:
            data = builder.build(node)
        except Unreadable as unreadable:
            flaws.append(Flaw(unreadable.message, unreadable.line))
            continue
        except (yaml.constructor.ConstructorError, ValueError) as error:
            mark = getattr(error, "problem_mark", None)
            flaws.append(Flaw(f"YAML error: {getattr(error, 'problem', error)}",
                              mark.line + 1 if mark else node.start_mark.line + 1))
            continue
        if data is not None:
            built.append((index, data))
    return nodes, built, flaws + builder.flaws


class _ComposedLater:
    """The node trees of a file, composed from its text the first time a position is asked for (most files never
    have a finding, so most are never composed): as parse_yaml composed and built them, merge keys flattened."""

    def __init__(self, text: str, nodes: list[yaml.Node | None] | None = None) -> None:
        self.text = text
        self.nodes = nodes

    def node(self, index: int) -> yaml.Node | None:
        if self.nodes is None:
            self.nodes = _read(self.text)[0]
        return self.nodes[index]


class LazyDocument(Document):
    """A document whose node is composed from its file's text only when a line is asked for. For a file the render
    has just emitted, its data is the rendered object itself (see `emitted_yaml`)."""

    def __init__(self, file: str, index: int, data: Any, later: _ComposedLater) -> None:
        self._later = later
        super().__init__(file, index, data, None)

    @property  # type: ignore[override]
    def node(self) -> yaml.Node | None:
        return self._later.node(self.index)

    @node.setter
    def node(self, value: yaml.Node | None) -> None:
        pass  # always the text's own


_PLAIN_SCALARS = (str, int, bool, float, type(None))


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether `value` is what reading its YAML back gives: string keys, lists, and scalars that keep their type
    (the tree's dumper quotes a string that would read as another type). Tuples, other key types, dates or
    objects would come back changed, so their files are parsed instead."""
    kind = type(value)
    if kind is dict:
        if depth >= MAX_DEPTH:
            return False
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    if kind is list:
        if depth >= MAX_DEPTH:
            return False
        return all(_plain(item, depth + 1) for item in value)
    return kind in _PLAIN_SCALARS and value == value  # NaN is not equal to what it reads back as


def plain_documents(documents: list[Any]) -> bool:
    """Whether emitting the documents and reading them back gives the same objects (see `_plain`)."""
    return all(_plain(document) for document in documents)


def emitted_yaml(path: str, text: str, documents: list[Any], plain: bool = False) -> YamlFile:
    """A file the render has just emitted (`text`) from `documents`, as `parse_yaml(path, text)` would read it,
    without parsing: the data are the rendered objects (shared, never to be changed), the nodes come later.
    `plain`: the caller knows the documents are plain (`plain_documents`), e.g. from the process that emitted them."""
    if not plain and not plain_documents(documents):
        return parse_yaml(path, text)
    later = _ComposedLater(text)
    return YamlFile(path, text, [LazyDocument(path, index, data, later)
                                 for index, data in enumerate(documents) if data is not None])


@dataclass(frozen=True)
class Suppressions:
    """Rules a file's comments disable: for the whole file, or (trailing comment) for one line."""

    whole_file: frozenset[str] = frozenset()
    by_line: dict[int, frozenset[str]] = field(default_factory=dict)

    def covers(self, rule: str, line: int | None) -> bool:
        from fnmatch import fnmatchcase

        patterns = self.whole_file | (self.by_line.get(line, frozenset()) if line else frozenset())
        return any(fnmatchcase(rule, pattern) for pattern in patterns)


def suppressions(text: str) -> Suppressions:
    """`# beskar: disable=RULE[,RULE]` alone on a line covers the file; after content, only that line."""
    if "beskar:" not in text:
        return Suppressions()
    whole: set[str] = set()
    by_line: dict[int, frozenset[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _DIRECTIVE.search(line)
        if not match:
            continue
        rules = frozenset(r.strip() for r in match.group(1).split(",") if r.strip())
        if line[: match.start()].strip():
            by_line[number] = rules
        else:
            whole |= rules
    return Suppressions(frozenset(whole), by_line)
