"""Layered graph layout by grandalf's Sugiyama algorithm: named boxes and edges in, positions and routes out."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from grandalf.graphs import Edge, Vertex, graph_core
from grandalf.layouts import SugiyamaLayout

GAP = 28.0  # between components laid side by side
X_SPACE = 24.0
Y_SPACE = 46.0


@dataclass(frozen=True)
class Box:
    """A laid-out vertex: its name and its rectangle (top-left corner)."""

    name: str
    x: float
    y: float
    width: float
    height: float

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


@dataclass(frozen=True)
class Route:
    """A laid-out edge, as a polyline from its source box's bottom to its target box's top."""

    source: str
    target: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    routes: tuple[Route, ...]
    width: float
    height: float


class _View:
    """What grandalf reads and writes on a vertex or an edge."""

    def __init__(self, width: float = 0.0, height: float = 0.0) -> None:
        self.w, self.h = width, height
        self.xy: tuple[float, float] = (0.0, 0.0)
        self.path: list[tuple[float, float]] = []

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.path = list(points)


def layered(sizes: tuple[tuple[str, float, float], ...], edges: tuple[tuple[str, str], ...]) -> Layout:
    """Boxes (name, width, height) ranked top to bottom along the edges (source above target).

    Same input, same layout: the vertices go in as given and grandalf's heuristics are deterministic; a
    fleet of like sites repeats the same graph, so layouts are cached.
    """
    return _layered(tuple(sizes), tuple(sorted(set(edges))))


@lru_cache(maxsize=512)
def _layered(sizes: tuple[tuple[str, float, float], ...], edges: tuple[tuple[str, str], ...]) -> Layout:
    boxes: dict[str, Box] = {}
    routes: list[Route] = []
    left = 0.0
    height = 0.0
    # Components in the order of their first vertex, so that the picture follows the input's order.
    for component in _components(sizes, edges):
        sugiyama = SugiyamaLayout(component)
        sugiyama.xspace, sugiyama.yspace = X_SPACE, Y_SPACE
        sugiyama.init_all()
        sugiyama.draw(3)
        placed = {v.data: v.view for v in component.sV}
        # Bounds over the boxes and the bends of long edges, which grandalf may route outside the boxes.
        bends = [point for edge in component.sE for point in edge.view.path[1:-1]]
        min_x = min([view.xy[0] - view.w / 2 for view in placed.values()] + [x for x, _ in bends])
        min_y = min([view.xy[1] - view.h / 2 for view in placed.values()] + [y for _, y in bends])
        max_x = max([view.xy[0] + view.w / 2 for view in placed.values()] + [x for x, _ in bends])
        for name, view in placed.items():
            boxes[name] = Box(name, round(view.xy[0] - view.w / 2 - min_x + left, 1),
                              round(view.xy[1] - view.h / 2 - min_y, 1), view.w, view.h)
            height = max(height, boxes[name].y + view.h)
        for edge in component.sE:
            source, target = edge.v[0].data, edge.v[1].data
            inner = [(round(x - min_x + left, 1), round(y - min_y, 1)) for x, y in edge.view.path[1:-1]]
            routes.append(Route(source, target, tuple(_ends(boxes[source], boxes[target], inner))))
        left += max_x - min_x + GAP
    return Layout(boxes, tuple(sorted(routes, key=lambda r: (r.source, r.target))), max(left - GAP, 0.0), height)


def _components(sizes: tuple[tuple[str, float, float], ...],
                edges: tuple[tuple[str, str], ...]) -> list[graph_core]:
    """The connected components, each built from its vertices and edges in input order.

    grandalf's own ``Graph`` gathers a component's edges in a ``set`` of objects hashed by address, so their order,
    and with it the picture, would change from run to run.
    """
    names = [name for name, _, _ in sizes]
    named = set(names)
    known = [(a, b) for a, b in edges if a in named and b in named and a != b]
    group = {name: name for name in names}

    def root(name: str) -> str:
        while group[name] != name:
            group[name] = group[group[name]]
            name = group[name]
        return name

    for source, target in known:
        group[root(target)] = root(source)
    members: dict[str, list[tuple[str, float, float]]] = {}
    for size in sizes:
        members.setdefault(root(size[0]), []).append(size)
    components = []
    for sized in members.values():
        vertices = {}
        for name, width, height in sized:
            vertices[name] = Vertex(name)
            vertices[name].view = _View(width, height)
        component_edges = []
        for source, target in known:
            if source in vertices:
                edge = Edge(vertices[source], vertices[target])
                edge.view = _View()
                component_edges.append(edge)
        components.append(graph_core(list(vertices.values()), component_edges))
    return components


def _ends(source: Box, target: Box, inner: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The route leaves the source at its bottom (or top, for an edge grandalf turned round) and meets the target
    at the side facing it."""
    sx, sy = source.center
    tx, ty = target.center
    down = ty >= sy
    start = (sx, source.y + source.height) if down else (sx, source.y)
    end = (tx, target.y) if down else (tx, target.y + target.height)
    return [start, *inner, end]
