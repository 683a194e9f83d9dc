"""YAML as sops reads and writes it: go-yaml v3 scalar typing, leaf positions, and sops-style emission."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

from beskar.fleet.documents import Expansion, Flaw, compose
from beskar.problems import InputError, Origin, Problem

# A path into a document: mapping keys and list indices.
Path = tuple[Any, ...]

_PLAIN = "!beskar-plain"  # stands for "a plain scalar without a tag": resolved below by go-yaml's rules


class _Resolver(yaml.resolver.BaseResolver):
    """Leaves plain untagged scalars unresolved so that go-yaml's typing rules apply, not PyYAML's YAML 1.1."""

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)


# `yaml.CParser` is not exported at the top level (only the C loaders are): it lives in yaml.cyaml.
_CParser = getattr(yaml.cyaml, "CParser", None) if yaml.__with_libyaml__ else None
if _CParser is not None:  # libyaml: 15x faster on large files, with the same marks
    class _Loader(_CParser, yaml.constructor.SafeConstructor, _Resolver):  # type: ignore[misc]
        def __init__(self, stream):
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            _Resolver.__init__(self)
else:  # pragma: no cover
    class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,  # type: ignore[no-redef]
                  yaml.constructor.SafeConstructor, _Resolver):
        def __init__(self, stream):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            _Resolver.__init__(self)

_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = {"", "~", "null", "Null", "NULL"}
_SPECIAL_FLOATS = {".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
                   ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf,
                   "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
                   "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf}
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re.compile(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]*|0[bB][01]+|[1-9][0-9]*)$")
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def resolve_plain(text: str) -> Any:
    """The value go-yaml v3 gives an untagged plain scalar when decoding into interface{} (as sops does)."""
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _NULLS:
        return None
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    first = text[0]
    if first == ".":
        return _go_parse_float(text, text)
    if not (first.isdigit() or first in "+-"):
        return text
    # Timestamps (YYYY-...) decode to strings in go-yaml v3; they never parse as numbers below either.
    plain = text.replace("_", "")
    number = _go_parse_int(plain)
    if number is not None:
        if _INT64[0] <= number <= _INT64[1]:
            return number
        if 0 <= number < 2 ** 64:  # go-yaml makes it a uint64, a type sops cannot walk
            return _Unsupported(text, "an integer beyond int64")
    if _YAML_FLOAT.match(plain):
        return _go_parse_float(plain, text)
    return text


def _go_parse_int(plain: str) -> int | None:
    """strconv.ParseInt(s, 0, 64) and the 0b/0o forms go-yaml accepts, without the range check."""
    if not plain or not _GO_INT.match(plain):
        return None
    sign = -1 if plain[0] == "-" else 1
    body = plain.lstrip("+-")
    lowered = body.lower()
    if lowered.startswith("0x"):
        return sign * int(body[2:], 16)
    if lowered.startswith("0b"):
        return sign * int(body[2:], 2)
    if lowered.startswith("0o"):
        return sign * int(body[2:], 8) if len(body) > 2 else None
    if len(body) > 1 and body[0] == "0":
        return sign * int(body[1:], 8)  # Go's base 0 reads a leading 0 as octal
    return sign * int(body)


def _go_parse_float(plain: str, original: str) -> Any:
    try:
        return float(plain)
    except ValueError:
        return original


@dataclass(frozen=True)
class _Unsupported:
    text: str
    why: str


@dataclass
class Parsed:
    """One or more YAML documents as plain data, with the line of every key and list item."""

    documents: list[Any]
    lines: dict[tuple[int, Path], int]
    file: str

    def origin(self, document: int, path: Path) -> Origin:
        for depth in range(len(path), -1, -1):
            line = self.lines.get((document, tuple(path[:depth])))
            if line is not None:
                return Origin(self.file, line, 1, "secrets")
        return Origin(self.file, 1, 1, "secrets")


class _Builder(yaml.constructor.SafeConstructor):
    """go-yaml's typing over the shared reader's nodes and limits (`beskar.fleet.documents`)."""

    def __init__(self, file: str, text: str):
        super().__init__()
        self.file = file
        self.expansion = Expansion(text)
        self.lines: dict[tuple[int, Path], int] = {}
        self.document = 0

    def fail(self, node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        raise InputError([Problem(message, Origin(self.file, mark.line + 1, mark.column + 1, "secrets"))])

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.lines[(self.document, path)] = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            self.expansion.budget -= 1
            value = self.scalar(node)
            if isinstance(value, _Unsupported):
                self.fail(node, f"{value.text!r} is {value.why}, which sops cannot hold")
            return value
        self.expansion.enter(node, len(path))
        try:
            return self.collection(node, path)
        finally:
            self.expansion.leave(node)

    def collection(self, node: yaml.Node, path: Path) -> Any:
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or (key_node.tag == _PLAIN and key_node.value == "<<"):
                    self.fail(key_node, "YAML merge keys (<<) are not supported in SOPS files")
                key = self.scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, str):
                    self.fail(key_node, "mapping keys must be strings (sops accepts no other key type)")
                if key in result:
                    self.fail(key_node, f"duplicate key {key!r}")
                result[key] = self.build(value_node, path + (key,))
                self.lines[(self.document, path + (key,))] = key_node.start_mark.line + 1
            return result
        return [self.build(child, path + (index,)) for index, child in enumerate(node.value)]

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _PLAIN:
            return resolve_plain(node.value)
        if node.tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
                        "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"):
            if node.tag == "tag:yaml.org,2002:str":
                return node.value
            try:
                return self.construct_object(node)
            except (ValueError, TypeError, AttributeError, OverflowError, yaml.YAMLError):
                self.fail(node, f"{node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]} (tag {node.tag})")
        self.fail(node, f"unsupported YAML tag {node.tag}")


def load_yaml(text: str, file: str) -> Parsed:
    """Every document of a YAML text, typed as go-yaml v3 (and so sops) types it."""
    builder = _Builder(file, text)
    documents = []
    try:
        for index, node in enumerate(compose(text, _Loader)):
            builder.document = index
            documents.append(builder.build(node, ()) if node is not None else None)
    except Flaw as flaw:
        raise InputError([Problem(flaw.message, Origin(file, flaw.line, flaw.column, "secrets"))]) from None
    return Parsed(documents, builder.lines, file)


def load_json(text: str, file: str) -> Parsed:
    """A JSON document; integers stay int, other numbers float (as sops' JSON store reads them)."""
    def pairs(items):
        result = {}
        for key, value in items:
            if key in result:
                raise InputError([Problem(f"duplicate key {key!r}", Origin(file, 1, 1, "secrets"))])
            result[key] = value
        return result

    try:
        document = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as error:
        raise InputError([Problem(f"JSON syntax error: {error.msg}",
                                  Origin(file, error.lineno, error.colno, "secrets"))]) from None
    return Parsed([document], {}, file)


# --- emission -------------------------------------------------------------------------------------

_YAML11_WORDS = re.compile(r"^(?i:y|yes|n|no|on|off|true|false|null|~)$")
_YAML11 = yaml.resolver.Resolver()


def _needs_quotes(text: str) -> bool:
    """Would go-yaml, or a YAML 1.1 reader such as kubectl's, read the plain text as something else?"""
    if not text or _YAML11_WORDS.match(text) or text in ("<<", "="):
        return True
    if resolve_plain(text) != text or isinstance(resolve_plain(text), _Unsupported):
        return True
    return _YAML11.resolve(yaml.ScalarNode, text, (True, False)) != "tag:yaml.org,2002:str"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    text = str(value)
    # Quote anything go-yaml or a YAML 1.1 reader (kubectl) might type as non-string, and anything
    # PyYAML would otherwise fold over several lines.
    style = '"' if _needs_quotes(text) or not text.isprintable() else None
    dumped = yaml.dump(text, Dumper=yaml.SafeDumper, default_style=style, width=1 << 30, allow_unicode=True)
    return dumped[:-5] if dumped.endswith("\n...\n") else dumped.rstrip("\n")


def _literal_ok(text: str) -> bool:
    return ("\n" in text and text == text.strip(" \t") and "\r" not in text
            and all(ch == "\n" or ch == "\t" or (ch.isprintable()) for ch in text)
            and not text.startswith("\n"))


def _literal(text: str, indent: str) -> str:
    if not text.endswith("\n"):
        chomp, body = "-", text
    else:
        chomp, body = ("+" if text.endswith("\n\n") else ""), text[:-1]
    lines = [(indent + line) if line else "" for line in body.split("\n")]
    return f"|{chomp}\n" + "\n".join(lines) + "\n"


def emit_yaml(documents: list[Any], indent: int = 4) -> str:
    """Block YAML laid out as sops (go-yaml v3, indent 4) writes it; documents separated by `---`."""
    return "---\n".join(_block(document, 0, indent) for document in documents)


def _block(value: Any, level: int, step: int) -> str:
    pad = " " * level
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for key, item in value.items():
            out.append(pad + _scalar(key) + ":" + _after_key(item, level, step))
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            inner = _block(item, level + 2, step) if isinstance(item, (dict, list)) and item else None
            if inner is not None:
                out.append(pad + "- " + inner[level + 2:])
            elif isinstance(item, (dict, list)):
                out.append(pad + ("- {}\n" if isinstance(item, dict) else "- []\n"))
            elif isinstance(item, str) and _literal_ok(item):
                out.append(pad + "- " + _literal(item, pad + " " * step))
            else:
                out.append(pad + "- " + _scalar(item) + "\n")
        return "".join(out)
    return pad + _scalar(value) + "\n"


def _after_key(item: Any, level: int, step: int) -> str:
    if isinstance(item, dict) and item:
        return "\n" + _block(item, level + step, step)
    if isinstance(item, list) and item:
        return "\n" + _block(item, level + step, step)
    if isinstance(item, dict):
        return " {}\n"
    if isinstance(item, list):
        return " []\n"
    if isinstance(item, str) and _literal_ok(item):
        # Inside a list item's mapping go-yaml indents a literal block from the dash.
        return " " + _literal(item, " " * (level + (step - 2 if level % step else step)))
    return " " + _scalar(item) + "\n"


def emit_json(document: Any) -> str:
    """JSON as sops' JSON store writes it (tab indentation)."""
    return json.dumps(document, indent="\t", ensure_ascii=False) + "\n"
