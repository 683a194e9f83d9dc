"""The value objects of a diff: what changed in a site's model, its rendered files and its objects, and why it matters."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from beskar.build.images import ImageUse
from beskar.build.objects import ObjectKey  # an object's identity in a cluster: (kind, namespace, name)
from beskar.problems import Origin


class Change(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"


class Manifest(NamedTuple):
    """One object of a revision's site and where it comes from (layer directory, HelmRelease or "")."""

    layer: str
    release: str
    body: dict[str, Any]

    @property
    def key(self) -> ObjectKey:
        metadata = self.body.get("metadata") or {}
        return ObjectKey(str(self.body.get("kind", "")), str(metadata.get("namespace") or ""),
                         str(metadata.get("name", "")))


@dataclass(frozen=True)
class ValueChange:
    """A typed model value that differs, with the place (file:line, layer) that set it in each revision."""

    path: str
    change: Change
    old: Any
    new: Any
    base: Origin | None
    head: Origin | None


@dataclass(frozen=True)
class FieldChange:
    """A leaf (or a whole subtree added or removed) of a document that differs; secret values are digests."""

    path: str
    change: Change
    old: Any = None
    new: Any = None
    secret: bool = False


@dataclass(frozen=True)
class TextChange:
    """A configuration file inside a value (nova.conf in a ConfigMap, user-data in a plan), diffed by line."""

    path: str
    format: str  # ini, yaml, json, text
    lines: tuple[str, ...]  # "-old", "+new", "[section]" or "@@ ..." context lines


@dataclass(frozen=True)
class ObjectChange:
    key: ObjectKey
    layer: str
    release: str
    change: Change
    fields: tuple[FieldChange, ...] = ()
    texts: tuple[TextChange, ...] = ()
    folded: int = 0  # noise changes (chart version labels) left out; --all shows them


class Area(StrEnum):
    """Which engine reads a rendered file."""

    FLUX = "flux"
    KUBESPRAY = "kubespray"
    HOSTS = "hosts"
    MAAS = "maas"


@dataclass(frozen=True)
class FileChange:
    path: str
    area: Area
    change: Change
    fields: tuple[FieldChange, ...] = ()
    texts: tuple[TextChange, ...] = ()


class Risk(StrEnum):
    RESTART = "restart"  # the pod template changed: pods are replaced
    JOB_RERUN = "job-rerun"  # a Job is immutable: Flux replaces it and it runs again
    IMMUTABLE = "immutable-field"  # Kubernetes refuses the change (StatefulSet claims, selectors)
    PRUNED = "pruned"  # Flux deletes the object
    CRD = "crd-changed"
    SERVICE_SELECTOR = "service-selector"
    IMAGE_RELEASE = "image-release"  # an image moves to another OpenStack release
    PDB_TIGHTENED = "pdb-tightened"
    CHART_VERSION = "chart-version"
    SECRET_READERS = "secret-readers"  # a Secret key changed: the HelmReleases reading it upgrade


@dataclass(frozen=True)
class Flag:
    risk: Risk
    subject: str  # "DaemonSet openstack/nova-compute-c2" or a HelmRelease
    message: str
    release: str = ""
    nodes: int | None = None  # how many nodes a DaemonSet's restart reaches


@dataclass(frozen=True)
class ImageVersion:
    """An image as one revision's objects name it, and what it stands for upstream."""

    reference: str  # as the objects name it (the mirror's copy when the site has a mirror)
    upstream: str  # registry/path:tag it stands for (the flattening reversed); the reference itself if not mirrored
    mirrored: bool  # pulled from the site's mirror
    tag: str | None  # None: no tag (the chart's default, unknown before it is built)
    digest: str | None  # sha256:..., from the reference or else from the site's images.lock.yaml
    pinned: bool  # the reference carries the digest; False with a digest: only the lock has it, pods pull by tag
    mutable: bool  # the tag may point at other content tomorrow


@dataclass(frozen=True)
class ImageChange:
    """An image the site pulls that moves (tag or digest), appears or goes, and the workloads that pull it."""

    change: Change
    repository: str  # upstream registry/path, without tag
    old: ImageVersion | None
    new: ImageVersion | None
    uses: tuple[ImageUse, ...]  # the uses that moved (changed), or every use (added, removed)


class Side(StrEnum):
    BASE = "base"
    HEAD = "head"


@dataclass(frozen=True)
class Failure:
    """A revision in which the site (or one of its releases) could not be compiled or built."""

    side: Side
    message: str
    place: str = ""  # file:line
    release: str = ""


class Status(StrEnum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"
    FAILED = "failed"


@dataclass(frozen=True)
class SiteDiff:
    site: str
    status: Status
    model: tuple[ValueChange, ...] = ()
    files: tuple[FileChange, ...] = ()
    objects: tuple[ObjectChange, ...] = ()
    flags: tuple[Flag, ...] = ()
    failures: tuple[Failure, ...] = ()
    built: bool = False  # objects come from `beskar build` (else from the rendered Flux tree)
    images: tuple[ImageChange, ...] = ()

    def count(self, change: Change) -> int:
        return sum(1 for o in self.objects if o.change is change)

    @property
    def restarts(self) -> tuple[Flag, ...]:
        return tuple(f for f in self.flags if f.risk is Risk.RESTART)


@dataclass(frozen=True)
class Revision:
    name: str  # as the user gave it ("origin/main", "working tree")
    commit: str  # the commit it resolved to ("" for the working tree)


@dataclass(frozen=True)
class FleetDiff:
    base: Revision
    head: Revision
    sites: tuple[SiteDiff, ...] = field(default_factory=tuple)

    @property
    def different(self) -> bool:
        return any(s.status is not Status.UNCHANGED for s in self.sites)

    @property
    def failed(self) -> bool:
        return any(s.failures for s in self.sites)
