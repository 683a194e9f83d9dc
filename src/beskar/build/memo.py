"""A site's whole build as stored bytes, given back as it was while nothing it was built from changed."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator, Sequence, overload

from beskar.build import payloads
from beskar.build.objects import BuiltObject, ChartIdentity, ReleaseBuild, SiteBuild
from beskar.memory import paused_gc

MEMO_FORMAT = 4  # bump when what a stored site build holds changes (4: render rows as orjson writes them)


def memo_key(*parts: Any) -> str:
    """The digest of everything a site's build depends on, in order (key order of mappings counts)."""
    return hashlib.sha256(json.dumps([MEMO_FORMAT, *parts], separators=(",", ":"), ensure_ascii=False,
                                     default=str).encode()).hexdigest()


def _object(item: BuiltObject) -> list[Any]:
    return [item.layer, item.release, item.api_version, item.kind, item.namespace, item.name, item.template,
            item.body]


def _built(site: str, row: list[Any]) -> BuiltObject:
    layer, release, api_version, kind, namespace, name, template, body = row
    return BuiltObject(site, layer, release, api_version, kind, namespace, name, body, template)


def _rendered(site: str, layer: str, release: str, cluster_scoped: bool, row: list[Any]) -> BuiltObject:
    """A release's object from its render's row: a namespaced object's body names its namespace (the build set it)."""
    template, body = row
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    return BuiltObject(site, layer, release, str(body.get("apiVersion")), str(body.get("kind")),
                       "" if cluster_scoped else str(metadata.get("namespace")), str(metadata.get("name", "")), body,
                       template)


class StoredObjects(Sequence[BuiltObject]):
    """A stored release's objects, read from the stored bytes when first asked for: a build that nothing changed
    hands back its sites without reading their objects (a 50-site fleet stores 260 MB of them), and a caller that
    looks at one site or one release reads only those."""

    __slots__ = ("_site", "_payload", "_count", "_items", "_release")

    def __init__(self, site: str, payload: bytes | memoryview, count: int,
                 release: tuple[str, str, frozenset[int]] | None = None):
        """release: (layer, release, indexes of cluster-scoped objects) when the rows are a render's
        [template, body] (the other fields are read off the body), else the rows are whole objects."""
        self._site, self._payload, self._count, self._release = site, payload, count, release
        self._items: tuple[BuiltObject, ...] | None = None

    def _loaded(self) -> tuple[BuiltObject, ...]:
        if self._items is None:
            # The bytes stay: other releases of the site point into the same buffer, and two threads may read at once.
            with paused_gc():
                # A render's rows are the render cache's bytes (build/payloads.py); whole objects, json's own.
                rows = json.loads(bytes(self._payload)) if self._release is None else payloads.decode(self._payload)
                if self._release is None:
                    items = tuple(_built(self._site, row) for row in rows)
                else:
                    layer, release, scoped = self._release
                    items = tuple(_rendered(self._site, layer, release, index in scoped, row)
                                  for index, row in enumerate(rows))
            if len(items) != self._count:
                raise ValueError(f"a stored build of site {self._site} holds {len(items)} objects, not {self._count}")
            self._items = items
        return self._items

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> BuiltObject: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[BuiltObject, ...]: ...
    def __getitem__(self, index: int | slice) -> BuiltObject | tuple[BuiltObject, ...]:
        return self._loaded()[index]

    def __iter__(self) -> Iterator[BuiltObject]:
        return iter(self._loaded())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, StoredObjects)):
            return self._loaded() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._loaded())

    def __repr__(self) -> str:
        return f"StoredObjects({self._site!r}, {self._count} objects)"


def site_record(build: SiteBuild) -> tuple[dict[str, Any], bytes]:
    """A build without failures (a failure is built again, so that its message is today's) as a header and the
    objects' bytes the header points into: [offset, length, count] for the layer's and each release's objects."""
    if build.failures:
        raise ValueError(f"site {build.site} has failures: it is not stored")
    segments: list[bytes] = []
    offset = 0

    def stored(objects: Sequence[BuiltObject], rows: bytes | None = None) -> list[int]:
        nonlocal offset
        data = rows if rows is not None else json.dumps([_object(o) for o in objects], separators=(",", ":"),
                                                        ensure_ascii=False).encode()
        segments.append(data)
        offset += len(data)
        return [offset - len(data), len(data), len(objects)]

    layer_objects = stored(build.layer_objects)
    releases = []
    for release in build.releases:
        chart = release.chart
        releases.append({
            "layer": release.layer, "release": release.release, "namespace": release.namespace,
            "target_namespace": release.target_namespace, "file": release.file, "line": release.line,
            "chart": None if chart is None else [chart.source_kind, chart.source_name, chart.url, chart.chart,
                                                 chart.version, chart.revision, chart.digest],
            "values_digest": release.values_digest, "placeholders": release.placeholders,
            "objects": stored(release.objects, release.rows),
            **({} if release.rows is None else
               {"rows": "render", "scoped": [i for i, o in enumerate(release.objects) if not o.namespace]})})
    header = {"site": build.site, "kubernetes": build.kubernetes_version, "layer_objects": layer_objects,
              "releases": releases}
    return header, b"".join(segments)


def site_from_record(header: dict[str, Any], objects: bytes | memoryview) -> SiteBuild:
    """The build a header and its objects' bytes hold; the objects are read when asked for."""
    site = str(header["site"])
    view = memoryview(objects)

    def stored(where: list[int], release: dict[str, Any] | None = None) -> StoredObjects:
        offset, length, count = (int(n) for n in where)
        if offset < 0 or offset + length > len(view):
            raise ValueError(f"a stored build of site {site} points past its end")
        rows = None
        if release is not None and release.get("rows") == "render":
            rows = (str(release["layer"]), str(release["release"]), frozenset(int(i) for i in release["scoped"]))
        return StoredObjects(site, view[offset:offset + length], count, rows)

    releases = tuple(
        ReleaseBuild(site, r["layer"], r["release"], r["namespace"], r["target_namespace"], r["file"], int(r["line"]),
                     None if r["chart"] is None else ChartIdentity(*r["chart"]), r["values_digest"],
                     stored(r["objects"], r), None, bool(r["placeholders"]))  # type: ignore[arg-type]
        for r in header["releases"])
    return SiteBuild(site, str(header["kubernetes"]), stored(header["layer_objects"]), releases)  # type: ignore[arg-type]
