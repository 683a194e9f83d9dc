"""A HelmRelease's values as helm-controller composes them: each valuesFrom entry in order, then spec.values.

helm-controller merges the valuesFrom entries in their order and the inline `spec.values` last, on top
(chartutil.ChartValuesFromReferences); Helm then coalesces the result over the chart's defaults. A
`targetPath` sets one value with Helm's `--set` parser (strvals.ParseInto; quoted values stay strings).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

DEFAULT_VALUES_KEY = "values.yaml"
_INTEGER = re.compile(r"^-?[1-9][0-9]*$")


class ValuesError(Exception):
    """A valuesFrom entry that helm-controller would refuse; `where` is its path in the HelmRelease."""

    def __init__(self, message: str, where: tuple[Any, ...]):
        super().__init__(message)
        self.message = message
        self.where = where


@dataclass(frozen=True)
class ValuesSource:
    """The data of a ConfigMap or Secret that valuesFrom may read (Secret data already decoded)."""

    kind: str
    namespace: str
    name: str
    data: Mapping[str, str]


def merge_maps(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Flux's transform.MergeMaps: maps merge recursively, anything else on top replaces."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_maps(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def compose_values(spec: Mapping[str, Any], namespace: str,
                   sources: Mapping[tuple[str, str, str], ValuesSource]) -> dict[str, Any]:
    """The user-supplied values of a HelmRelease (before Helm coalesces the chart's defaults)."""
    result: dict[str, Any] = {}
    entries = spec.get("valuesFrom") or []
    for index, entry in enumerate(entries):
        where = ("spec", "valuesFrom", index)
        kind, name = str(entry.get("kind", "")), str(entry.get("name", ""))
        key = str(entry.get("valuesKey") or DEFAULT_VALUES_KEY)
        source = sources.get((kind, namespace, name))
        if source is None:
            if entry.get("optional"):
                continue
            raise ValuesError(f"valuesFrom: {kind} {namespace}/{name} is not created by this site", where + ("name",))
        if key not in source.data:
            raise ValuesError(f"valuesFrom: {kind} {namespace}/{name} has no key {key!r}", where + ("valuesKey",))
        raw = source.data[key]
        target = entry.get("targetPath")
        if target:
            try:
                set_path(result, str(target), raw)
            except ValueError as error:
                raise ValuesError(f"valuesFrom targetPath {target!r}: {error}", where + ("targetPath",)) from None
            continue
        try:
            parsed = yaml.safe_load(raw) if raw.strip() else {}
        except yaml.YAMLError as error:
            raise ValuesError(f"valuesFrom: key {key!r} of {kind} {namespace}/{name} is not YAML: {error}",
                              where + ("valuesKey",)) from None
        if not isinstance(parsed, dict):
            raise ValuesError(f"valuesFrom: key {key!r} of {kind} {namespace}/{name} is not a map of values",
                              where + ("valuesKey",))
        result = merge_maps(result, parsed)
    inline = spec.get("values")
    if isinstance(inline, Mapping):
        result = merge_maps(result, inline)
    return result


def set_path(values: dict[str, Any], path: str, raw: str) -> None:
    """Flux's ReplacePathValue: `path=raw` through strvals; single- or double-quoted values stay strings."""
    quoted = len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\""
    if quoted:
        raw = raw.strip("'\"")
    _parse_into(values, f"{path}={raw}", as_string=quoted)


def _parse_into(values: dict[str, Any], text: str, as_string: bool) -> None:
    """strvals: `key.path[0]=value[,key=value...]`, backslash escapes, `{a,b}` lists."""
    position = 0
    while position < len(text):
        key, position, stop = _until(text, position, "=,", keep_escapes=True)
        if stop != "=":
            raise ValueError(f"key {key!r} has no value")
        if not as_string and text.startswith("{", position):
            inner, position, stop = _until(text, position + 1, "}")
            value: Any = [_typed(item) for item in _split(inner)]
            if position < len(text) and text[position] == ",":
                position += 1
        else:
            raw, position, _ = _until(text, position, ",")
            value = raw if as_string else _typed(raw)
        _assign(values, _keys(key), value)


def _until(text: str, position: int, stops: str, keep_escapes: bool = False) -> tuple[str, int, str | None]:
    out = []
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text):
            out.append(text[position:position + 2] if keep_escapes else text[position + 1])
            position += 2
            continue
        if char in stops:
            return "".join(out), position + 1, char
        out.append(char)
        position += 1
    return "".join(out), position, None


def _split(text: str) -> list[str]:
    items, position = [], 0
    while position <= len(text):
        item, position, stop = _until(text, position, ",")
        items.append(item)
        if stop is None:
            break
    return items


def _typed(raw: str) -> Any:
    lowered = raw.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if lowered == "null":
        return None
    if raw == "0":
        return 0
    if _INTEGER.match(raw) and -(2 ** 63) <= int(raw) < 2 ** 63:
        return int(raw)
    return raw


def _keys(key: str) -> list[Any]:
    """`a.b[0].c` -> ["a", "b", 0, "c"]; `a\\.b` is the one key "a.b"."""
    parts: list[Any] = []
    for escaped in re.split(r"(?<!\\)\.", key):
        segment = re.sub(r"\\(.)", r"\1", escaped)
        match = re.match(r"^([^\[]*)((?:\[\d+\])*)$", segment)
        if not match or (not match.group(1) and not match.group(2)):
            raise ValueError(f"key {key!r} is not a dotted path")
        if match.group(1):
            parts.append(match.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return parts


def _assign(node: Any, keys: list[Any], value: Any) -> None:
    head, rest = keys[0], keys[1:]
    if isinstance(head, int):
        if not isinstance(node, list):
            raise ValueError(f"index [{head}] of something that is not a list")
        while len(node) <= head:
            node.append(None)
        if not rest:
            node[head] = value
            return
        if not isinstance(node[head], (dict, list)):
            node[head] = [] if isinstance(rest[0], int) else {}
        _assign(node[head], rest, value)
        return
    if not rest:
        node[head] = value
        return
    child = node.get(head)
    wanted = list if isinstance(rest[0], int) else dict
    if not isinstance(child, wanted):
        child = node[head] = wanted()
    _assign(child, rest, value)
