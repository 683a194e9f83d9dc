"""A site's image lock, sites/<site>/images.lock.yaml: the digest of every image in its mirror, and when."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import yaml

from beskar import tree
from beskar.fleet.documents import read_document
from beskar.problems import InputError, Origin, Problem

LOCK_FILE = "images.lock.yaml"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEADER = ("# Written by `beskar images lock`: the digest of each image the site pulls, as its mirror held it,\n"
           "# and when it was taken. `beskar render` pins these digests (tag@sha256:...); re-run the lock to move.\n")


@dataclass(frozen=True)
class LockedImage:
    digest: str  # sha256:...
    taken: str  # ISO 8601 UTC time the digest was read from the mirror
    line: int = 0  # where the lock file names it (0: not read from a file)


@dataclass(frozen=True)
class ImageLock:
    """Upstream image reference (registry/path:tag) -> its locked digest."""

    images: Mapping[str, LockedImage]
    file: str

    def digests(self) -> dict[str, str]:
        return {image: locked.digest for image, locked in self.images.items()}

    def oldest(self) -> str | None:
        return min((locked.taken for locked in self.images.values()), default=None)


def lock_path(site: str) -> str:
    return f"sites/{site}/{LOCK_FILE}"


def read_image_lock(root: Path, site: str) -> ImageLock | None:
    """The site's lock, or None when it has none; a malformed lock raises InputError with its line."""
    relative = lock_path(site)
    if not (root / relative).is_file():
        return None
    data, positions = read_document(root, relative, f"site:{site}")
    top = positions.get((), Origin(relative, 1, 1, f"site:{site}"))
    if not isinstance(data, dict) or not isinstance(data.get("images", {}), dict):
        raise InputError([Problem("an image lock is a mapping `images: {IMAGE: {digest, taken}}`", top,
                                  hint="re-create it with `beskar images lock`")])
    problems = []
    images: dict[str, LockedImage] = {}
    for image, entry in (data.get("images") or {}).items():
        where = positions.get(("images", image), top)
        digest = entry.get("digest") if isinstance(entry, dict) else None
        taken = entry.get("taken") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            problems.append(Problem(f"image {image}: digest must be sha256:<64 hex digits>, not {digest!r}", where))
        elif not isinstance(taken, str):
            problems.append(Problem(f"image {image}: `taken` must be the time the digest was read", where))
        else:
            images[str(image)] = LockedImage(digest, taken, where.line)
    if problems:
        raise InputError(problems)
    return ImageLock(dict(sorted(images.items())), relative)


def lock_bytes(images: Mapping[str, LockedImage]) -> bytes:
    body = {"images": {image: {"digest": locked.digest, "taken": locked.taken}
                       for image, locked in sorted(images.items())}}
    return (_HEADER + yaml.safe_dump(body, sort_keys=False, default_flow_style=False, width=200)).encode()


def write_image_lock(root: Path, site: str, images: Mapping[str, LockedImage]) -> str:
    """Write the lock atomically; returns its path relative to the fleet root."""
    relative = lock_path(site)
    tree.write_file(root / relative, lock_bytes(images))
    return relative
