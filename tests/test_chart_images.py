"""The catalog's chart image settings (catalog/data/chart_images.yaml) against the real charts, and what render
writes from them: every image of every upstream chart through the mirror, in the chart's own layout, digests pinned."""
from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
import yaml

from beskar.catalog import catalog
from beskar.catalog.chart_images import ImageLayout
from beskar.render.images import (canonical_image, chart_image_values, mirror_image, pinned, split_image,
                                  upstream_image)

REFERENCE = Path(os.environ.get("BESKAR_REFERENCE") or Path(__file__).resolve().parents[2] / "shared" / "reference")
REPOSITORY = REFERENCE / "charts" / "helm-repository"
DIGEST = "sha256:" + "ab" * 32
# Subcharts whose templates default an empty tag to `v<appVersion>` (the others: `<appVersion>`).
_V_PREFIXED = {"kube-state-metrics", "prometheus-node-exporter"}


def _chart_files(chart: str, version: str) -> tuple[dict[str, dict], dict[str, dict]]:
    """(values, Chart.yaml) of the packaged chart and each of its subcharts, by subchart name ('' the chart)."""
    archive = REPOSITORY / f"{chart}-{version}.tgz"
    if not archive.is_file():
        pytest.skip(f"reference charts not found at {REPOSITORY}")
    values: dict[str, dict] = {}
    metadata: dict[str, dict] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if parts[-1] not in ("values.yaml", "Chart.yaml"):
                continue
            if len(parts) == 2:
                sub = ""
            elif len(parts) == 4 and parts[1] == "charts":
                sub = parts[2]
            else:
                continue
            data = yaml.safe_load(tar.extractfile(member).read()) or {}
            (values if parts[-1] == "values.yaml" else metadata)[sub] = data
    return values, metadata


def _lookup(data: dict, dotted: str):
    node = data
    for key in dotted.split("."):
        assert isinstance(node, dict) and key in node, f"{dotted}: no key {key!r}"
        node = node[key]
    return node


def _has(data: dict, dotted: str) -> bool:
    try:
        _lookup(data, dotted)
    except AssertionError:
        return False
    return True


def _split(values: dict, setting: str) -> tuple[str, str]:
    """(subchart, path in its values) of a setting: the chart's own values first, then a subchart's."""
    head, _, rest = setting.partition(".")
    if head in values and not _has(values[""], setting):
        return head, rest
    return "", setting


def _chart_default(values: dict, metadata: dict, setting: str, layout: ImageLayout) -> str:
    """The image a chart's template makes of one setting's defaults (tag empty: the appVersion)."""
    sub, rest = _split(values, setting)
    node = _lookup(values[sub], rest)
    if layout == ImageLayout.REFERENCE:
        return node or _lookup(values[sub], "cephClusterSpec.cephVersion.image")  # toolbox: "defaults to the Ceph image"
    app_version = str(metadata[sub]["appVersion"])
    if layout == ImageLayout.REGISTRY:
        tag = node.get("tag") or (f"v{app_version}" if sub in _V_PREFIXED else app_version)
        return f"{node['registry']}/{node['repository']}:{tag}"
    repository = node.get("repository") or f"{values[sub]['global']['image']['registry']}/{node['image']}"
    return f"{repository}:{node.get('tag') or app_version}"


@pytest.mark.parametrize("chart", sorted(catalog().image_knowledge.charts))
def test_each_image_setting_is_the_chart_key_with_its_default_image(chart):
    knowledge = catalog().image_knowledge
    values, metadata = _chart_files(chart, knowledge.chart_versions[chart])
    assert str(metadata[""]["version"]) == knowledge.chart_versions[chart]
    for image in knowledge.charts[chart]:
        default = _chart_default(values, metadata, image.values, image.layout)
        assert canonical_image(default) == image.upstream, image.values
        if image.digest_key:
            sub, rest = _split(values, image.values)
            node = _lookup(values[sub], rest)
            assert image.digest_key in node, f"{image.values} has no {image.digest_key}"


def test_every_image_map_of_the_charts_values_is_in_the_catalog():
    """Nothing a chart can pull is missed: every map with a `repository` (and each string `image`) is listed."""
    knowledge = catalog().image_knowledge
    for chart, images in knowledge.charts.items():
        values, _ = _chart_files(chart, knowledge.chart_versions[chart])
        listed = {image.values for image in images}
        found = set()

        def walk(node, path):
            if isinstance(node, dict):
                if isinstance(node.get("repository"), str) or isinstance(node.get("image"), str) and "tag" in node:
                    found.add(".".join(path))
                    return
                if isinstance(node.get("image"), str):
                    found.add(".".join(path + ("image",)))
                for key, value in node.items():
                    walk(value, path + (str(key),))

        for sub, data in values.items():
            walk(data, (sub,) if sub else ())
        found.discard("crds.upgradeJob.image.kubectl")  # tag "" means the cluster's Kubernetes version: not pinnable
        assert found <= listed, f"{chart}: image settings missing from chart_images.yaml: {sorted(found - listed)}"


def test_flattening_and_its_reverse():
    mirror = "mirror.example.org/cache"
    flat = mirror_image("quay.io/airshipit/nova:2025.1-ubuntu_noble", mirror)
    assert flat == "mirror.example.org/cache/quay.io__airshipit__nova:2025.1-ubuntu_noble"
    assert upstream_image(flat, mirror) == "quay.io/airshipit/nova:2025.1-ubuntu_noble"
    nested = mirror_image("busybox:1.31.1", mirror, "nested")
    assert nested == "mirror.example.org/cache/docker.io/library/busybox:1.31.1"
    assert upstream_image(nested, mirror, "nested") == "docker.io/library/busybox:1.31.1"
    assert upstream_image("quay.io/airshipit/nova:1", mirror) is None
    assert upstream_image("mirror.example.org/cache/quay.io/airshipit/nova:1", mirror) is None  # not flat
    with_digest = mirror_image(f"registry.k8s.io/ingress-nginx/controller:v1.12.8@{DIGEST}", mirror)
    assert with_digest.endswith(f"registry.k8s.io__ingress-nginx__controller:v1.12.8@{DIGEST}")
    assert upstream_image(with_digest, mirror) == f"registry.k8s.io/ingress-nginx/controller:v1.12.8@{DIGEST}"
    assert split_image("127.0.0.1:5000/a/b:1") == ("127.0.0.1:5000", "a/b", "1")


def test_pinning_looks_up_the_upstream_reference():
    mirror = "mirror.example.org/cache"
    locks = {"quay.io/airshipit/nova:2025.1-ubuntu_noble": DIGEST}
    image = mirror_image("quay.io/airshipit/nova:2025.1-ubuntu_noble", mirror)
    assert pinned(image, locks, mirror) == f"{image}@{DIGEST}"
    assert pinned(mirror_image("quay.io/airshipit/glance:2025.1-ubuntu_noble", mirror), locks, mirror).count("@") == 0


def test_render_values_send_every_layout_through_the_mirror_and_pin_digests():
    knowledge = catalog().image_knowledge
    mirror = "mirror.example.org/cache"
    locks = {"quay.io/prometheus/prometheus:v3.4.2": DIGEST, "quay.io/ceph/ceph:v19.2.3": DIGEST,
             "quay.io/cephcsi/cephcsi:v3.14.2": DIGEST, "quay.io/prometheus/node-exporter:v1.9.1": DIGEST}
    monitoring = chart_image_values(knowledge.charts["kube-prometheus-stack"], mirror, "flat", locks)
    assert monitoring["prometheus"]["prometheusSpec"]["image"] == {
        "registry": "mirror.example.org", "repository": "cache/quay.io__prometheus__prometheus",
        "tag": "v3.4.2", "sha": "ab" * 32}
    assert monitoring["prometheus-node-exporter"]["image"]["digest"] == DIGEST
    assert monitoring["grafana"]["image"] == {"registry": "mirror.example.org",
                                              "repository": "cache/docker.io__grafana__grafana"}
    cluster = chart_image_values(knowledge.charts["rook-ceph-cluster"], mirror, "flat", locks)
    assert cluster["cephClusterSpec"]["cephVersion"]["image"] == \
        f"mirror.example.org/cache/quay.io__ceph__ceph:v19.2.3@{DIGEST}"
    operator = chart_image_values(knowledge.charts["rook-ceph"], mirror, "flat", locks)
    assert operator["csi"]["cephcsi"] == {"repository": "mirror.example.org/cache/quay.io__cephcsi__cephcsi",
                                          "tag": f"v3.14.2@{DIGEST}"}
    assert chart_image_values(knowledge.charts["rook-ceph"], None, "flat", {}) == {}


@pytest.mark.parametrize(("image", "mutable"), [
    ("quay.io/airshipit/nova:2025.1-ubuntu_noble", True), ("busybox:latest", True), ("busybox", True),
    ("quay.io/ceph/ceph:v19", True), ("quay.io/ceph/ceph:v19.2.3", False), ("x/y:1.30.3", False),
    ("quay.io/airshipit/nova:2025.1-ubuntu_noble-20250101", False), (f"quay.io/x/y:latest@{DIGEST}", False)])
def test_mutable_tags(image, mutable):
    assert catalog().image_knowledge.tag_is_mutable(image) is mutable
