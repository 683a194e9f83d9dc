"""What the pictures show, read from the typed site and the tree it renders: releases, layers, images, links."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from beskar.catalog import Catalog
from beskar.render.images import images_of, tag_of
from beskar.model import Site
from beskar.model.links import NodeLinks, site_links
from beskar.render.site import RenderedSite

SOURCE_KINDS = ("GitRepository", "HelmRepository", "OCIRepository")


@dataclass(frozen=True)
class ImageUse:
    """One image a HelmRelease pins, at a values path (e.g. images.tags.nova_api)."""

    image: str
    path: str


@dataclass(frozen=True)
class Release:
    """A rendered HelmRelease: where it is, what chart at what ref, which images, and what it waits for."""

    name: str
    namespace: str
    layer: str  # the Flux Kustomization that applies it
    file: str
    chart: str
    chart_ref: str  # the git tag, chart version or OCI tag the chart comes at
    images: tuple[ImageUse, ...]
    depends_on: tuple[str, ...]
    image_tag: str | None  # the tag most of its images use, None if it pins no image


CHART_TAG = "chart's"  # the values name an image's repository only: the chart picks the tag (its appVersion)


def _main_tag(images: tuple[ImageUse, ...]) -> str | None:
    """The tag most images use (ties: the first in name order); a repository-only pin counts only when it is all
    there is, as CHART_TAG (it is not `latest`: the chart fills in its own tag)."""
    tagged = [use.image for use in images if not use.image.endswith(":")]
    if images and not tagged:
        return CHART_TAG
    counts = Counter(tag_of(image) or "latest" for image in tagged)
    return max(sorted(counts), key=lambda tag: counts[tag]) if counts else None


@dataclass(frozen=True)
class FluxLayer:
    """A Flux Kustomization of the site: one layer of apps/<site>/, applied after the layers it depends on."""

    name: str
    directory: str
    file: str
    depends_on: tuple[str, ...]
    releases: tuple[str, ...]


@dataclass(frozen=True)
class SiteFacts:
    name: str
    profile: str | None
    release: str
    distro: str
    releases: tuple[Release, ...]
    layers: tuple[FluxLayer, ...]
    links: dict[str, NodeLinks]  # node -> its NICs, bonds, VLANs and bridges with their effective MTUs

    def release_named(self, name: str) -> Release | None:
        return next((r for r in self.releases if r.name == name), None)


def _documents(rendered: RenderedSite, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    return [(path, document) for path in sorted(rendered.tree.files) if path.startswith(prefix)
            for document in rendered.tree.files[path] if isinstance(document, dict)]


def _source_ref(source: dict[str, Any]) -> str:
    spec = source.get("spec") or {}
    ref = spec.get("ref") or {}
    for key in ("tag", "semver", "commit", "branch", "name"):
        if ref.get(key):
            return str(ref[key])
    return spec.get("url", "")


def _chart(spec: dict[str, Any], sources: dict[tuple[str, str], dict[str, Any]]) -> tuple[str, str]:
    """(chart, ref) of a HelmRelease: the chart's name and the version, tag or branch it is fetched at."""
    if "chartRef" in spec:
        reference = spec["chartRef"]
        source = sources.get((reference.get("kind", ""), reference.get("name", "")), {})
        name = str(reference.get("name", ""))
        return name, _source_ref(source) if source else "?"
    chart = ((spec.get("chart") or {}).get("spec")) or {}
    name = str(chart.get("chart", "")).removeprefix("./")
    source_ref = chart.get("sourceRef") or {}
    if source_ref.get("kind") == "GitRepository":
        source = sources.get(("GitRepository", source_ref.get("name", "")))
        return name, _source_ref(source) if source else "?"
    return name, str(chart.get("version") or "*")


def site_facts(site: Site, rendered: RenderedSite, catalog: Catalog) -> SiteFacts:
    """The site's releases and layers as rendered (so the report shows what Flux is given, not a second guess)."""
    clusters = _documents(rendered, f"clusters/{site.name}/")
    sources = {(d.get("kind", ""), (d.get("metadata") or {}).get("name", "")): d
               for _, d in clusters if d.get("kind") in SOURCE_KINDS}
    kustomizations = [(path, d) for path, d in clusters if d.get("kind") == "Kustomization"
                      and str(d.get("apiVersion", "")).startswith("kustomize.toolkit.fluxcd.io/")]
    by_directory = {str((d.get("spec") or {}).get("path", "")).removeprefix("./"): (path, d)
                    for path, d in kustomizations}
    releases: list[Release] = []
    members: dict[str, list[str]] = {}
    for path, document in _documents(rendered, f"apps/{site.name}/"):
        if document.get("kind") != "HelmRelease":
            continue
        directory = path.rsplit("/", 1)[0]
        layer = (by_directory.get(directory) or ("", {}))[1]
        layer_name = str((layer.get("metadata") or {}).get("name", directory.rsplit("/", 1)[-1]))
        metadata = document.get("metadata") or {}
        spec = document.get("spec") or {}
        chart, ref = _chart(spec, sources)
        images = tuple(sorted({ImageUse(image, ".".join(map(str, where)))
                               for where, image in images_of(spec.get("values") or {})},
                              key=lambda use: (use.path, use.image)))
        name = str(metadata.get("name", ""))
        releases.append(Release(name, str(metadata.get("namespace", "")), layer_name, path, chart, ref, images,
                                tuple(str(d.get("name")) for d in spec.get("dependsOn") or []), _main_tag(images)))
        members.setdefault(layer_name, []).append(name)
    layers = tuple(FluxLayer(str(d["metadata"]["name"]), str((d.get("spec") or {}).get("path", "")).removeprefix("./"),
                             path, tuple(str(x.get("name")) for x in (d.get("spec") or {}).get("dependsOn") or []),
                             tuple(members.get(str(d["metadata"]["name"]), ())))
                   for path, d in kustomizations)
    return SiteFacts(site.name, site.profile, site.openstack.release, site.openstack.distro, tuple(releases),
                     _ordered_layers(layers), site_links(site, catalog))


def _ordered_layers(layers: tuple[FluxLayer, ...]) -> tuple[FluxLayer, ...]:
    """Layers in the order Flux applies them (dependencies first; ties by directory)."""
    done: list[FluxLayer] = []
    left = sorted(layers, key=lambda layer: layer.directory)
    while left:
        ready = [layer for layer in left if all(d in {x.name for x in done} or d not in {x.name for x in layers}
                                                 for d in layer.depends_on)] or left[:1]
        done.append(ready[0])
        left.remove(ready[0])
    return tuple(done)
