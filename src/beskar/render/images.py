"""Image references rewritten through a site's mirror registry, as operators' mirrors flatten them."""

from __future__ import annotations

import re
from typing import Any, Iterator


def split_image(image: str) -> tuple[str, str, str]:
    """(registry, path, tag) of `registry/path:tag`; the registry defaults to docker.io."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        name, tag = image, "latest"
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest, tag
    return "docker.io", name if "/" in name else f"library/{name}", tag


def mirror_image(image: str, mirror: str | None) -> str:
    """`quay.io/airshipit/nova:2025.1-ubuntu_noble` -> `MIRROR/quay.io__airshipit__nova:2025.1-ubuntu_noble`."""
    if not mirror:
        return image
    registry, path, tag = split_image(image)
    flat = "__".join([registry, *path.split("/")])
    return f"{mirror.rstrip('/')}/{flat}:{tag}"


# openstack-helm and LOCI tags: 2025.1-ubuntu_noble, 2024.2, 2025.1-ubuntu_noble-20250101
RELEASE_TAG = re.compile(r"^(\d{4}\.[12])(?:$|[-_])")


def images_of(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path, image) of every image an object names: `image:` strings, `{repository, tag}` maps (Helm charts),
    and openstack-helm's `images.tags.<job>`."""
    if isinstance(data, dict):
        for key, value in data.items():
            here = path + (key,)
            if isinstance(value, str) and (key == "image" or path[-2:] == ("images", "tags")) and value.strip():
                yield here, value.strip()
            elif key == "image" and isinstance(value, dict) and isinstance(value.get("repository"), str):
                tag = value.get("tag")
                registry = value.get("registry")
                image = value["repository"] if not isinstance(registry, str) or not registry \
                    else f"{registry}/{value['repository']}"
                if isinstance(tag, (str, int, float)) and str(tag):
                    yield here + ("tag",), f"{image}:{tag}"
                elif not isinstance(value.get("digest"), str):
                    yield here + ("repository",), image + ":"  # no tag: the chart decides (appVersion)
            else:
                yield from images_of(value, here)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from images_of(item, path + (index,))


def tag_of(image: str) -> str | None:
    """The tag of an image reference, or None when it has none (a digest counts as pinned)."""
    if "@" in image:
        return "@digest"
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return None
    return tag or None


def release_of_tag(tag: str | None) -> str | None:
    """The OpenStack release an openstack-helm or LOCI tag names (`2025.1-ubuntu_noble` -> 2025.1), if any."""
    match = RELEASE_TAG.match(tag or "")
    return match.group(1) if match else None
