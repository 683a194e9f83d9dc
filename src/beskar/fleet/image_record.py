"""What `beskar images verify` found last, sites/<site>/images.verified.yaml: each image in the mirror or not, its
digest, and when it was looked at (the report shows it; unlike the lock, nothing is pinned from it)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Mapping

import yaml

from beskar import tree
from beskar.fleet.documents import read_document
from beskar.problems import InputError, Origin, Problem

RECORD_FILE = "images.verified.yaml"
_HEADER = ("# Written by `beskar images verify`: whether each image the site pulls was in its mirror, with its digest,\n"
           "# and when it was looked at. `beskar report` shows it; the next verify replaces it.\n")


class Presence(StrEnum):
    PRESENT = "present"
    MISSING = "missing"  # from the mirror, but the mirror lacks it (or lacks the digest the objects pin)
    NOT_MIRRORED = "not mirrored"  # the objects pull it from elsewhere: not looked for in the mirror


@dataclass(frozen=True)
class VerifiedImage:
    presence: Presence
    checked: str  # ISO 8601 UTC time of the look
    upstream: str | None = None
    digest: str | None = None  # sha256:..., when present
    releases: tuple[str, ...] = ()  # the HelmReleases whose objects pull it


@dataclass(frozen=True)
class VerifyRecord:
    """Image reference as the site's objects pull it -> what verify found."""

    mirror: str | None
    images: Mapping[str, VerifiedImage]
    file: str


def record_path(site: str) -> str:
    return f"sites/{site}/{RECORD_FILE}"


def read_verify_record(root: Path, site: str) -> VerifyRecord | None:
    """The site's last verify, or None when verify has not run; a malformed record raises InputError with its line."""
    relative = record_path(site)
    if not (root / relative).is_file():
        return None
    data, positions = read_document(root, relative, f"site:{site}")
    top = positions.get((), Origin(relative, 1, 1, f"site:{site}"))
    hint = "it is written by `beskar images verify`: run it again (or delete the file)"
    if not isinstance(data, dict) or not isinstance(data.get("images") or {}, dict):
        raise InputError([Problem("a verify record is a mapping `images: {IMAGE: {state, checked, ...}}`", top,
                                  hint=hint)])
    problems, images = [], {}
    states = ", ".join(p.value for p in Presence)
    for image, entry in (data.get("images") or {}).items():
        where = positions.get(("images", image), top)
        entry = entry if isinstance(entry, dict) else {}
        state, checked, digest = entry.get("state"), entry.get("checked"), entry.get("digest")
        releases = entry.get("releases") or []
        if state not in {p.value for p in Presence}:
            problems.append(Problem(f"image {image}: state must be one of {states}, not {state!r}", where, hint=hint))
        elif not isinstance(checked, str) or (digest is not None and not isinstance(digest, str)) \
                or not isinstance(releases, list):
            problems.append(Problem(f"image {image}: needs `checked` (a time), and `digest` and `releases` as "
                                    "verify writes them", where, hint=hint))
        else:
            upstream = entry.get("upstream")
            images[str(image)] = VerifiedImage(Presence(state), checked, str(upstream) if upstream else None, digest,
                                               tuple(map(str, releases)))
    if problems:
        raise InputError(problems)
    mirror = data.get("mirror")
    return VerifyRecord(str(mirror) if mirror else None, dict(sorted(images.items())), relative)


def record_bytes(mirror: str | None, images: Mapping[str, VerifiedImage]) -> bytes:
    body = {"mirror": mirror, "images": {image: {
        key: value for key, value in (("state", found.presence.value), ("upstream", found.upstream),
                                      ("digest", found.digest), ("checked", found.checked),
                                      ("releases", list(found.releases))) if value not in (None, [])}
        for image, found in sorted(images.items())}}
    return (_HEADER + yaml.safe_dump(body, sort_keys=False, default_flow_style=False, width=200)).encode()


def write_verify_record(root: Path, site: str, mirror: str | None, images: Mapping[str, VerifiedImage]) -> str:
    """Write the record atomically; returns its path relative to the fleet root."""
    relative = record_path(site)
    tree.write_file(root / relative, record_bytes(mirror, images))
    return relative
