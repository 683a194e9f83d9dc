"""Values paths written into an openstack-helm chart that its values.yaml does not have."""

from __future__ import annotations

from typing import Any, Iterator

from beskar.catalog import Catalog


def leaf_paths(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every path to a non-mapping value (or empty mapping) of a values document."""
    if isinstance(values, dict) and values:
        for key, child in values.items():
            yield from leaf_paths(child, prefix + (str(key),))
    else:
        yield prefix


def first_unknown(skeleton: dict[str, Any], path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The shortest prefix of `path` the chart does not have, or None when the whole path exists."""
    node: Any = skeleton
    for depth, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            return path[: depth + 1]
        node = node[key]
    return None


def unknown_paths(catalog: Catalog, chart: str, values: dict[str, Any]) -> list[str]:
    """Dotted paths of `values` that the chart has no place for (open subtrees of the catalog allowed)."""
    skeleton = catalog.values_skeleton(chart)
    unknown = set()
    for path in leaf_paths(values):
        missing = first_unknown(skeleton, path)
        if missing is None or any(p.matches(missing) for p in catalog.open_values):
            continue
        unknown.add(".".join(missing))
    return sorted(unknown)
