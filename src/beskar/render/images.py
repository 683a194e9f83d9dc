"""Image references rewritten through a site's mirror registry, as operators' mirrors flatten them."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from beskar.catalog.chart_images import ChartImage, DigestForm, ImageLayout

# Mirror layouts: `flat` joins the upstream registry and path with `__` into one repository name
# (mirror/cache/quay.io__airshipit__nova), `nested` keeps them as path (mirror/cache/quay.io/airshipit/nova).
FLAT = "flat"
NESTED = "nested"


def split_image(image: str) -> tuple[str, str, str]:
    """(registry, path, tag) of `registry/path:tag`; the registry defaults to docker.io."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        name, tag = image, "latest"
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest, tag
    return "docker.io", name if "/" in name else f"library/{name}", tag


def mirror_repository(registry: str, path: str, mirror: str, layout: str = FLAT) -> str:
    """The mirror's repository for an upstream one."""
    name = "__".join([registry, *path.split("/")]) if layout == FLAT else f"{registry}/{path}"
    return f"{mirror.rstrip('/')}/{name}"


def mirror_image(image: str, mirror: str | None, layout: str = FLAT) -> str:
    """`quay.io/airshipit/nova:2025.1-ubuntu_noble` -> `MIRROR/quay.io__airshipit__nova:2025.1-ubuntu_noble`."""
    if not mirror:
        return image
    image, at, digest = image.partition("@")
    registry, path, tag = split_image(image)
    return f"{mirror_repository(registry, path, mirror, layout)}:{tag}{at}{digest}"


def upstream_image(image: str, mirror: str | None, layout: str = FLAT) -> str | None:
    """The upstream reference a mirror reference stands for (the flattening reversed); None when the image is
    not from the mirror. Upstream references are spelled in full: `docker.io/library/busybox:1.31.1`."""
    image, at, digest = image.partition("@")
    if not mirror:
        registry, path, tag = split_image(image)
        return f"{registry}/{path}:{tag}{at}{digest}"
    prefix = mirror.rstrip("/") + "/"
    if not image.startswith(prefix):
        return None
    name, _, tag = image[len(prefix):].rpartition(":")
    if not name or "/" in tag:
        name, tag = image[len(prefix):], "latest"
    if layout == FLAT:
        if "/" in name or "__" not in name:
            return None
        name = name.replace("__", "/")
    registry, path, tag = split_image(f"{name}:{tag}")
    return f"{registry}/{path}:{tag}{at}{digest}"


def canonical_image(image: str) -> str:
    """`busybox` -> `docker.io/library/busybox:latest`: one spelling per image, to compare and look up."""
    image, at, digest = image.partition("@")
    registry, path, tag = split_image(image)
    if registry == "docker.io" and "/" not in path:  # docker.io/busybox is docker.io/library/busybox
        path = f"library/{path}"
    return f"{registry}/{path}:{tag}{at}{digest}"


def pinned(image: str, locks: Mapping[str, str], mirror: str | None, layout: str = FLAT) -> str:
    """The image with the digest the site's lock holds for it (looked up by its upstream reference)."""
    if "@" in image:
        return image
    upstream = upstream_image(image, mirror, layout)
    digest = locks.get(upstream) if upstream else None
    return f"{image}@{digest}" if digest else image


def chart_image_values(images: tuple[ChartImage, ...], mirror: str | None, layout: str,
                       locks: Mapping[str, str]) -> dict[str, Any]:
    """The values that send each image setting of a chart through the mirror, each in the chart's own layout,
    with the locked digest pinned where the site's lock has one."""
    values: dict[str, Any] = {}
    for image in images:
        registry, path, tag = split_image(image.upstream)
        digest = locks.get(f"{registry}/{path}:{tag}")
        if mirror:
            repository = mirror_repository(registry, path, mirror, layout)
        else:
            repository = f"{registry}/{path}"
        if image.layout == ImageLayout.REFERENCE:
            setting: Any = f"{repository}:{tag}{'@' + digest if digest else ''}"
            if not mirror and not digest:
                continue
        else:
            if not mirror and not digest:
                continue
            if image.layout == ImageLayout.REGISTRY:
                mirror_registry, _, name = repository.partition("/")
                setting = {"registry": mirror_registry, "repository": name}
            else:
                setting = {"repository": repository}
            if digest and image.digest_key:
                setting["tag"] = tag
                setting[image.digest_key] = digest.removeprefix("sha256:") if image.digest_form == DigestForm.HEX \
                    else digest
            elif digest:
                setting["tag"] = f"{tag}@{digest}"
        _put(values, image.values, setting)
    return values


def _put(values: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = values
    for key in parents:
        node = node.setdefault(key, {})
    if isinstance(value, dict) and isinstance(node.get(leaf), dict):
        node[leaf].update(value)
    else:
        node[leaf] = value


def images_of(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path, image) of every image an object names: `image:` strings, `{repository, tag}` maps (Helm charts),
    and openstack-helm's `images.tags.<job>`; in the object's order."""
    # Depth first with a stack of iterators, not a generator per level: a release's values are thousands of nodes.
    stack: list[tuple[tuple[Any, ...], bool, Iterator[tuple[Any, Any]]]] = []  # (path, a mapping?, children)
    if isinstance(data, (dict, list)):
        stack.append((path, isinstance(data, dict), iter(data.items()) if isinstance(data, dict) else enumerate(data)))
    while stack:
        path, mapping, children = stack[-1]
        for key, value in children:
            if isinstance(value, str):
                if mapping and (key == "image" or path[-2:] == ("images", "tags")) and value.strip():
                    yield path + (key,), value.strip()
            elif isinstance(value, dict):
                if key == "image" and isinstance(value.get("repository"), str):
                    here = path + (key,)
                    tag = value.get("tag")
                    registry = value.get("registry")
                    image = value["repository"] if not isinstance(registry, str) or not registry \
                        else f"{registry}/{value['repository']}"
                    if isinstance(tag, (str, int, float)) and str(tag):
                        yield here + ("tag",), f"{image}:{tag}"
                    elif not isinstance(value.get("digest"), str):
                        yield here + ("repository",), image + ":"  # no tag: the chart decides (appVersion)
                    continue
                stack.append((path + (key,), True, iter(value.items())))
                break
            elif isinstance(value, list):
                stack.append((path + (key,), False, enumerate(value)))
                break
        else:
            stack.pop()


def tag_of(image: str) -> str | None:
    """The tag of an image reference, or None when it has none (a digest counts as pinned)."""
    if "@" in image:
        return "@digest"
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return None
    return tag or None

