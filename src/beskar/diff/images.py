"""Image changes of a site between two revisions: each image a workload pulls, by upstream reference, tag and digest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from beskar.build.images import ImageSource, ImageUse, site_images
from beskar.catalog.chart_images import ImageKnowledge
from beskar.diff.changes import Change, ImageChange, ImageVersion, Manifest
from beskar.diff.structure import dotted
from beskar.fleet.image_lock import ImageLock
from beskar.model import Site
from beskar.render.images import FLAT, canonical_image, images_of, split_image, upstream_image


@dataclass(frozen=True)
class ImageContext:
    """What one revision says about a site's images beyond its objects: its mirror and its lock."""

    mirror: str | None
    layout: str = FLAT
    locks: Mapping[str, str] | None = None  # upstream registry/path:tag -> digest (images.lock.yaml)


def image_context(site: Site, lock: ImageLock | None) -> ImageContext:
    mirror = site.mirror
    return ImageContext(mirror.registry if mirror else None, mirror.layout if mirror else FLAT,
                        lock.digests() if lock else {})


@dataclass(frozen=True)
class _Object:
    """A manifest as `build.images.site_images` reads an object."""

    release: str
    kind: str
    namespace: str
    name: str
    body: dict[str, Any]


def image_uses(manifests: Iterable[Manifest], knowledge: ImageKnowledge, context: ImageContext, *,
               values: bool = False) -> dict[ImageUse, str]:
    """Every use of an image among the objects (pods and operator resources, as `beskar images` lists them) and
    the reference it pulls; with `values`, also the images HelmReleases set in their values (the rendered tree,
    whose pods are not built yet)."""
    objects = [_Object(m.release, m.key.kind, m.key.namespace, m.key.name, m.body) for m in manifests]
    found = site_images(objects, knowledge, context.mirror, context.layout)
    uses = {use: image.image for image in found for use in image.uses}
    if values:
        for item in objects:
            if item.kind != "HelmRelease":
                continue
            spec = item.body.get("spec") if isinstance(item.body.get("spec"), dict) else {}
            label = "/".join(part for part in (item.kind, item.namespace, item.name) if part)
            for path, image in images_of(spec.get("values") or {}, ("spec", "values")):
                uses[ImageUse(item.name, label, dotted(path), ImageSource.VALUES)] = image
    return uses


def image_version(reference: str, context: ImageContext, knowledge: ImageKnowledge) -> ImageVersion:
    """The reference's upstream image, tag and digest (the reference's own, else the lock's for its upstream)."""
    bare, _, digest = reference.partition("@")
    tagless = bare.endswith(":")  # a chart's {repository} without a tag: the chart's default tag
    named = bare[:-1] if tagless else bare
    upstream = upstream_image(named, context.mirror, context.layout)
    mirrored = bool(context.mirror) and upstream is not None
    upstream = upstream if mirrored and upstream else canonical_image(named)
    registry, path, tag = split_image(upstream)
    if tagless:
        upstream = f"{registry}/{path}"
    locked = None if digest or tagless else (context.locks or {}).get(upstream)
    return ImageVersion(reference, upstream, mirrored, None if tagless else tag, digest or locked,
                        bool(digest), knowledge.tag_is_mutable(reference))


def repository_of(version: ImageVersion) -> str:
    """The upstream registry/path, without tag."""
    if version.tag is None:
        return version.upstream  # already without one
    registry, path, _ = split_image(version.upstream)
    return f"{registry}/{path}"


def diff_images(before: Mapping[ImageUse, str], after: Mapping[ImageUse, str], base: ImageContext | None,
                head: ImageContext | None, knowledge: ImageKnowledge) -> list[ImageChange]:
    """The images that move between the revisions, grouped by (old, new) over the uses that pull them.

    A use whose image's reference or digest differs is a change of that image; an image only one revision pulls is
    added or removed. A workload that starts or stops pulling an image the other revision pulls as well is no image
    change (the objects show it)."""
    old_versions = {use: image_version(image, base, knowledge) for use, image in before.items()} if base else {}
    new_versions = {use: image_version(image, head, knowledge) for use, image in after.items()} if head else {}
    pulled_before = set(old_versions.values())
    pulled_after = set(new_versions.values())
    groups: dict[tuple[ImageVersion | None, ImageVersion | None], list[ImageUse]] = {}
    for use in sorted(set(old_versions) | set(new_versions)):
        old, new = old_versions.get(use), new_versions.get(use)
        if old == new or (new is None and old in pulled_after) or (old is None and new in pulled_before):
            continue
        groups.setdefault((old, new), []).append(use)
    moved_from = {old for old, new in groups if old is not None and new is not None}
    moved_to = {new for old, new in groups if old is not None and new is not None}
    changes = []
    for (old, new), uses in groups.items():
        if new is None and old in moved_from:
            continue  # the image moved for its other uses; these stopped pulling it (the objects show why)
        if old is None and new in moved_to:
            continue  # another workload pulls the image an image moved to
        change = Change.CHANGED if old and new else Change.ADDED if new else Change.REMOVED
        shown = new or old
        assert shown is not None
        changes.append(ImageChange(change, repository_of(shown), old, new, tuple(uses)))
    return sorted(changes, key=lambda c: (c.repository, c.old.reference if c.old else "",
                                          c.new.reference if c.new else ""))


def subject(use: ImageUse) -> str:
    """`Deployment openstack/nova-api`, as objects and flags are named in a diff."""
    kind, _, rest = use.object.partition("/")
    return f"{kind} {rest}" if rest else kind


# What a reviewer looks for first among an image's users: the pods that run all the time, then the ones that run once.
_KIND_ORDER = {"DaemonSet": 0, "Deployment": 0, "StatefulSet": 0, "ReplicaSet": 1, "Pod": 1, "CronJob": 2, "Job": 2}


def workloads(change: ImageChange) -> list[str]:
    """The objects that pull the image, each once: long-running workloads first, then Jobs and CronJobs, then the
    rest (HelmReleases before a build, operator resources), each group by name."""
    names = {subject(use) for use in change.uses}
    return sorted(names, key=lambda name: (_KIND_ORDER.get(name.partition(" ")[0], 3), name))
