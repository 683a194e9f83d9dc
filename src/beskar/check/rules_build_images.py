"""Build rules over the images the site's operators start (Ceph daemons, CSI drivers, Prometheus, Alertmanager)
and over digests: every image of the final objects from the mirror, and pinned by the site's image lock."""

from __future__ import annotations

from typing import Iterator

from beskar.build.images import ImageSource, site_images
from beskar.catalog import catalog
from beskar.check.build import BuiltSite
from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.render.images import upstream_image


def _images(built: BuiltSite):
    return site_images(built.build.objects(), catalog().image_knowledge, built.mirror)


@rule("build/image-operator-mirror", Severity.ERROR, Scope.BUILD,
      "every image an operator is configured to start (a CephCluster's cephVersion.image, Rook's CSI images, "
      "Prometheus and Alertmanager images, the config reloader) comes through the site's mirror")
def operator_image_mirror(built: BuiltSite) -> Iterator[Finding]:
    if not built.mirror:
        return
    for image in _images(built):
        if upstream_image(image.image, built.mirror) is not None \
                or any(image.image.startswith(prefix) for prefix in built.allowed_images):
            continue
        for use in image.uses:
            if use.source is not ImageSource.OPERATOR:
                continue
            release = built.releases.get(use.release)
            file, line = (release.file, release.line) if release is not None else (None, None)
            yield report("build/image-operator-mirror",
                         f"{use.object} {use.where} makes its operator start {image.image}, not from the mirror "
                         f"{built.mirror}", file=file, line=line, site=built.site,
                         hint="the node pulls it at run time: set the chart's image value through the mirror "
                              "(catalog chart_images.yaml knows the keys)")


@rule("build/image-unlocked", Severity.WARNING, Scope.BUILD,
      "every image of the final objects is pinned by digest (`beskar images lock` writes sites/<site>/"
      "images.lock.yaml, render pins tag@sha256:...), so a moved tag cannot change a running cloud")
def unlocked_images(built: BuiltSite) -> Iterator[Finding]:
    if not built.locked:  # a site that locks nothing yet chose tags; the lock's own rules start once it has one
        return
    by_release: dict[str, list[str]] = {}
    for image in _images(built):
        if "@sha256:" in image.image:
            continue
        for release in image.releases or ("",):
            by_release.setdefault(release, []).append(image.upstream or image.image)
    for name, images in sorted(by_release.items()):
        release = built.releases.get(name)
        file, line = (release.file, release.line) if release is not None else (None, None)
        shown = ", ".join(images[:3]) + (f" and {len(images) - 3} more" if len(images) > 3 else "")
        yield report("build/image-unlocked",
                     f"HelmRelease {name or '-'} pulls {len(images)} image(s) not pinned by the site's image lock: "
                     f"{shown}", file=file, line=line, site=built.site,
                     hint="`beskar images verify --site SITE` then `beskar images lock --site SITE` and render")
