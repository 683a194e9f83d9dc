"""Tree rules on container images: from the site's mirror, pinned tags, one OpenStack release per cluster."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any, Iterator

from beskar.catalog import catalog
from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.check.repository import FluxRepository
from beskar.check.resources import Resource
from beskar.check.rules_tree_schema import applied
from beskar.render.images import images_of, mirror_image, tag_of


def _cluster_images(repository: FluxRepository) -> list[tuple[str | None, Resource, tuple[Any, ...], str]]:
    """(cluster, object, path, image) of every image each cluster applies; found once for the three image rules."""
    return repository.derived("cluster images", _find_images)


def _find_images(repository: FluxRepository) -> list[tuple[str | None, Resource, tuple[Any, ...], str]]:
    return [(site, resource, path, image) for site, resource in applied(repository)
            for path, image in images_of(resource.data)]


@rule("tree/image-registry", Severity.ERROR, Scope.TREE,
      "Every image comes from the site's mirror registry, when the site has one (lint: --mirror).")
def image_registries(repository: FluxRepository) -> Iterator[Finding]:
    for site, resource, path, image in _cluster_images(repository):
        mirror = repository.options.facts(site or ".").mirror
        if mirror and not image.startswith(mirror.rstrip("/") + "/"):
            yield report("tree/image-registry", f"{resource.label()}: image {image} is not from the mirror {mirror}",
                         **resource.at(path), site=site,
                         hint=f"mirror it and use {mirror_image(image.rstrip(':'), mirror)}")


@rule("tree/image-tag", Severity.WARNING, Scope.TREE,
      "Every image names a pinned tag or digest (not `latest`, not missing).")
def image_tags(repository: FluxRepository) -> Iterator[Finding]:
    for site, resource, path, image in _cluster_images(repository):
        if image.endswith(":") and path[-1] == "repository":
            continue  # a chart's {repository, tag} without tag falls back to the chart's appVersion
        tag = tag_of(image)
        if tag is None or tag == "latest":
            what = "has no tag (so it is :latest)" if tag is None else "uses the tag latest"
            yield report("tree/image-tag", f"{resource.label()}: image {image} {what}", **resource.at(path),
                         site=site, hint="pin a version tag or a digest, so that every node runs the same image")


def release_of(image: str) -> str | None:
    """The OpenStack release an image's tag names: `2025.1-ubuntu_noble`, or by codename `wallaby-ubuntu_focal`."""
    tag = tag_of(image) or ""
    return catalog().release_of_tag(tag) or (None if _pinned(image) else catalog().release_of_codename_tag(tag))


@lru_cache(maxsize=1)
def _pinned_images() -> frozenset[tuple[str, str]]:
    """(image name, tag) of every image the catalog pins for a release it deploys: upstream pins some old
    ones on purpose (neutron's SR-IOV agent is `stein-18.04-sriov` in every release)."""
    found = set()
    for release in catalog().releases.values():
        for distro in release.distros:
            for images in catalog().images(release.name, distro).values():
                for image in images.values():
                    name, _, tag = str(image).rpartition(":")
                    found.add((name.rpartition("/")[2].rpartition("__")[2], tag))
    return frozenset(found)


def _pinned(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return (name.rpartition("/")[2].rpartition("__")[2], tag) in _pinned_images()


@rule("tree/image-release-mix", Severity.WARNING, Scope.TREE,
      "All OpenStack images of a cluster are of one release (the site's, when known; mid-upgrade, the target's too).")
def image_release_mix(repository: FluxRepository) -> Iterator[Finding]:
    by_cluster: dict[str | None, list[tuple[Resource, tuple[Any, ...], str, str]]] = {}
    for site, resource, path, image in _cluster_images(repository):
        release = release_of(image)
        if release is not None:
            by_cluster.setdefault(site, []).append((resource, path, image, release))
    for site, images in sorted(by_cluster.items(), key=lambda item: item[0] or ""):
        expected = repository.options.facts(site or ".").release
        counts = Counter(release for *_, release in images)
        if expected is None:
            if len(counts) < 2:
                continue
            expected = max(sorted(counts), key=lambda r: counts[r])  # the majority; ties: the older
        where = f"the site's release is {expected}" if repository.options.facts(site or ".").release \
            else f"{counts[expected]} other images are {expected}"
        upgrading_to = repository.options.facts(site or ".").upgrading_to
        for resource, path, image, release in images:
            if release != expected and release != upgrading_to:
                yield report("tree/image-release-mix",
                             f"{resource.label()}: image {image} is OpenStack {release}; {where}",
                             **resource.at(path), site=site,
                             hint="an image left behind by an upgrade? use the tag of the site's release")
