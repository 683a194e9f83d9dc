"""Image references rewritten through a site's mirror registry, as operators' mirrors flatten them."""

from __future__ import annotations


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
