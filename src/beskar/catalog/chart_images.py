"""Where each upstream chart sets its images, which objects name the images operators start, and mutable tags."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ImageLayout(StrEnum):
    REPOSITORY = "repository"  # {repository: registry/path, tag}
    REGISTRY = "registry"  # {registry, repository: path, tag}
    REFERENCE = "reference"  # "registry/path:tag"


class DigestForm(StrEnum):
    HEX = "hex"  # the template writes `@sha256:` before the value
    FULL = "full"  # the value is `sha256:...`


@dataclass(frozen=True)
class ChartImage:
    """One image setting of a chart's values."""

    values: str  # dotted path of the setting
    layout: ImageLayout
    upstream: str  # the image the chart pulls by default, tag resolved
    digest_key: str | None = None
    digest_form: DigestForm = DigestForm.FULL


@dataclass(frozen=True)
class OperatorImage:
    """Where a rendered object names an image an operator starts at run time."""

    kind: str
    why: str
    name: str | None = None
    path: str | None = None  # dotted, fnmatch patterns per key
    args: str | None = None  # a container argument PREFIX<image>


@dataclass(frozen=True)
class ImageKnowledge:
    charts: dict[str, tuple[ChartImage, ...]]
    chart_versions: dict[str, str]
    operators: tuple[OperatorImage, ...]
    immutable_tags: tuple[re.Pattern[str], ...]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> ImageKnowledge:
        charts: dict[str, tuple[ChartImage, ...]] = {}
        for chart, body in data["charts"].items():
            images = []
            for entry in body["images"]:
                digest = entry.get("digest") or {}
                images.append(ChartImage(entry["values"], ImageLayout(entry["layout"]), entry["upstream"],
                                         digest.get("key"), DigestForm(digest.get("form", "full"))))
            charts[chart] = tuple(images)
        return cls(
            charts=charts,
            chart_versions={chart: str(body["version"]) for chart, body in data["charts"].items()},
            operators=tuple(OperatorImage(**entry) for entry in data["operators"]),
            immutable_tags=tuple(re.compile(pattern) for pattern in data["immutable_tags"]),
        )

    def tag_is_mutable(self, image: str) -> bool:
        """Whether the reference may point at other content tomorrow: no digest and no build-specific tag."""
        if "@sha256:" in image:
            return False
        name, _, tag = image.rpartition(":")
        if not name or "/" in tag:
            return True
        return not any(pattern.search(tag) for pattern in self.immutable_tags)
