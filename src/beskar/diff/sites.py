"""One site's diff between two revisions: model, rendered files, objects and risk flags, or why it could not be made."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping
from beskar.catalog import catalog
from beskar.diff.changes import Failure, Flag, ImageChange, Manifest, ObjectKey, Risk, SiteDiff, Status
from beskar.diff.images import diff_images, image_context, image_uses
from beskar.diff.models import diff_models
from beskar.diff.objects import diff_objects
from beskar.diff.risks import NodeLabels, flags
from beskar.diff.trees import diff_trees
from beskar.fleet import LayeredSite
from beskar.model import Site
from beskar.tree import Tree


@dataclass(frozen=True)
class SiteSide:
    """A site as one revision compiles, renders and (when built) builds it."""

    site: Site
    layered: LayeredSite
    tree: Tree
    manifests: tuple[Manifest, ...]
    nodes: NodeLabels = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()  # releases that did not build; their objects are not compared
    built: bool = False
    charts: Mapping[str, str] = field(default_factory=dict)  # release -> chart version it was built from


@dataclass(frozen=True)
class Broken:
    """A revision in which the site does not compile at all."""

    failures: tuple[Failure, ...]


Compiled = SiteSide | Broken | None  # None: the revision has no such site


def diff_site(name: str, base: Compiled, head: Compiled, *, everything: bool = False, salt: str = "") -> SiteDiff:
    """What the change does to one site. A revision that fails is reported as failed, never as every object
    removed or added."""
    broken = [f for side in (base, head) if isinstance(side, Broken) for f in side.failures]
    if broken:
        return SiteDiff(name, Status.FAILED, failures=tuple(broken))
    assert not isinstance(base, Broken) and not isinstance(head, Broken)
    if base is None and head is None:
        return SiteDiff(name, Status.UNCHANGED)
    model = diff_models((base.site, base.layered) if base else None, (head.site, head.layered) if head else None)
    files = diff_trees(base.tree if base else None, head.tree if head else None)
    failures = tuple(f for side in (base, head) if side for f in side.failures)
    failed = {f.release for f in failures if f.release}
    before = tuple(m for m in (base.manifests if base else ()) if m.release not in failed)
    after = tuple(m for m in (head.manifests if head else ()) if m.release not in failed)
    objects = diff_objects(before, after, everything=everything, salt=f"{salt}/{name}")
    risks = flags(objects, before, after, head.nodes if head else {})
    if base and head:
        risks += _chart_moves(base.charts, head.charts)
    images = _images(base, before, head, after)
    if failures:
        status = Status.FAILED
    elif base is None:
        status = Status.ADDED
    elif head is None:
        status = Status.REMOVED
    else:
        status = Status.CHANGED if model or files or objects or images else Status.UNCHANGED
    built = bool(head.built if head else base.built)
    return SiteDiff(name, status, tuple(model), tuple(files), tuple(objects), tuple(risks), failures, built,
                    tuple(images))


def _images(base: SiteSide | None, before: tuple[Manifest, ...], head: SiteSide | None,
            after: tuple[Manifest, ...]) -> list[ImageChange]:
    """The images that move, from the same objects as the object diff (the built pods, or before a build the images
    the HelmReleases' values set), each side read with its own mirror and lock."""
    knowledge = catalog().image_knowledge
    contexts = {}
    uses = {}
    for which, side, manifests in (("base", base, before), ("head", head, after)):
        if side is not None:
            contexts[which] = image_context(side.site, side.layered.image_lock)
            uses[which] = image_uses(manifests, knowledge, contexts[which], values=not side.built)
    return diff_images(uses.get("base", {}), uses.get("head", {}), contexts.get("base"), contexts.get("head"),
                       knowledge)


def _chart_moves(before: Mapping[str, str], after: Mapping[str, str]) -> list[Flag]:
    """Releases built from another chart version (a GitRepository tag moved, a version constraint resolved anew)."""
    return [Flag(Risk.CHART_VERSION, f"HelmRelease {release}", f"chart version {before[release]} -> {version}",
                 release) for release, version in sorted(after.items())
            if release in before and before[release] != version]


def unchanged(base: Compiled, head: Compiled) -> bool:
    """Both revisions compile the site to the same model and tree: nothing to build, nothing to show."""
    return (isinstance(base, SiteSide) and isinstance(head, SiteSide) and base.tree == head.tree
            and base.site == head.site and _digests(base) == _digests(head))


def _digests(side: SiteSide) -> dict[str, str]:
    """The site's locked digests: a lock that moves for an image render does not pin is still a change to show."""
    lock = side.layered.image_lock
    return lock.digests() if lock else {}



def only_releases(result: SiteDiff, releases: frozenset[str]) -> SiteDiff:
    """The part of a site's diff about some HelmReleases: their objects, their HelmRelease objects, and what the
    layers apply themselves (the Secret they read, Namespaces); other releases' objects are left out."""
    def wanted(release: str, key: ObjectKey) -> bool:
        if release:
            return release in releases
        return key.kind != "HelmRelease" or key.name in releases

    objects = tuple(o for o in result.objects if wanted(o.release, o.key))
    keys = {str(o.key) for o in objects}
    risks = tuple(f for f in result.flags if f.subject in keys or f.release in releases)
    failures = tuple(f for f in result.failures if not f.release or f.release in releases)
    images = tuple(replace(i, uses=uses) for i in result.images
                   if (uses := tuple(u for u in i.uses if u.release in releases)))
    status = result.status if objects or failures or images or result.status is not Status.CHANGED \
        else Status.UNCHANGED
    return replace(result, status=status, objects=objects, flags=risks, failures=failures, images=images)
