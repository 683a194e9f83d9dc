"""Values paths written into an openstack-helm chart that its values.yaml does not have."""

from __future__ import annotations

import re
from typing import Any, Iterator

from beskar.catalog import Catalog


def leaf_paths(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every path to a non-mapping value (or empty mapping) of a values document."""
    if isinstance(values, dict) and values:
        for key, child in values.items():
            yield from leaf_paths(child, prefix + (str(key),))
    else:
        yield prefix


def first_unknown(skeleton: dict[str, Any], path: tuple[str, ...],
                  passthrough: frozenset[str] = frozenset()) -> tuple[str, ...] | None:
    """The shortest prefix of `path` the chart does not have, or None when the whole path exists.

    A map the chart leaves empty (`conf.horizon.local_settings.config.raw: {}`) is one it iterates over, so
    anything below it is known; so is anything below a key in `passthrough` (a Kubernetes object).
    """
    node: Any = skeleton
    for depth, key in enumerate(path):
        if depth and (node == {} or path[depth - 1] in passthrough):
            return None
        if not isinstance(node, dict) or key not in node:
            return path[: depth + 1]
        node = node[key]
    return None


_TEMPLATED = re.compile(r"\.Values((?:\.[A-Za-z0-9_-]+)+)")


def templated_paths(values: Any) -> set[tuple[str, ...]]:
    """Values paths that string values read through `tpl` (`{{ .Values.custom.host }}`): the chart consumes
    them although its values.yaml does not name them."""
    found: set[tuple[str, ...]] = set()
    stack = [values]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and ".Values." in node:
            found.update(tuple(match.group(1)[1:].split(".")) for match in _TEMPLATED.finditer(node))
    return found


def unknown_paths(catalog: Catalog, chart: str, values: dict[str, Any]) -> list[str]:
    """Dotted paths of `values` that the chart has no place for (open subtrees of the catalog allowed)."""
    skeleton = catalog.values_skeleton(chart)
    unknown = set()
    for path in leaf_paths(values):
        missing = first_unknown(skeleton, path, catalog.passthrough_values)
        if missing is None or any(p.matches(missing) for p in catalog.open_values):
            continue
        unknown.add(".".join(missing))
    return sorted(unknown)
