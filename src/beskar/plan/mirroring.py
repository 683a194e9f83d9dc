"""Mirroring planned: the images a site pulls against what its mirror holds -> the copies still to make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence


@dataclass(frozen=True, order=True)
class WantedImage:
    """An image the site pulls from its mirror, and the upstream image it is a copy of."""

    destination: str  # mirror reference, tag only (`mirror/cache/quay.io__airshipit__nova:2025.1-ubuntu_noble`)
    source: str  # where to copy from: upstream, `name@digest` when the site pins a digest
    upstream: str  # upstream reference as the site names it
    digest: str | None  # the digest the site's objects pin, if any
    users: tuple[str, ...]


@dataclass(frozen=True)
class Copy:
    image: WantedImage

    @property
    def name(self) -> str:
        return f"copy {self.image.upstream}"

    @property
    def description(self) -> str:
        return f"{self.image.source} -> {self.image.destination}"


@dataclass(frozen=True)
class MirrorPlan:
    copies: tuple[Copy, ...]  # missing from the mirror, in order
    present: tuple[WantedImage, ...]  # already there (with the pinned digest, when one is pinned)
    stale: tuple[WantedImage, ...]  # there, but with another digest than the objects pin: copied again


def plan_mirror(wanted: Sequence[WantedImage], observed: Mapping[str, str | None]) -> MirrorPlan:
    """observed: destination -> digest the mirror has (None: missing). Pure; same input, same plan."""
    copies: list[Copy] = []
    present: list[WantedImage] = []
    stale: list[WantedImage] = []
    for image in sorted(set(wanted)):
        digest = observed.get(image.destination)
        if digest is None:
            copies.append(Copy(image))
        elif image.digest is not None and digest != image.digest:
            stale.append(image)
            copies.append(Copy(image))
        else:
            present.append(image)
    return MirrorPlan(tuple(copies), tuple(present), tuple(stale))


def wanted_image(mirror_reference: str, upstream: str, users: Sequence[str],
                 sources: Mapping[str, str] | None = None) -> WantedImage:
    """What to copy for one mirror reference: tag kept on the mirror side; a pinned digest is copied by digest
    (a reference cannot carry both). `sources` remaps an upstream registry (`quay.io` -> a connected cache)."""
    destination, _, digest = mirror_reference.partition("@")
    name, _, pinned = upstream.partition("@")
    source = name.rpartition(":")[0] + "@" + pinned if pinned else name
    registry, slash, rest = source.partition("/")
    if sources and registry in sources:
        source = f"{sources[registry].rstrip('/')}/{rest}" if slash else source
    return WantedImage(destination, source, upstream, digest or None, tuple(sorted(set(users))))
