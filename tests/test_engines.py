"""The rendered example fleet is accepted by the real engines: kustomize, the Flux CRD schemas, the charts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from beskar.catalog import catalog
from beskar.check.schemas import crd_versions, knows, schema_errors
from beskar.check.values import first_unknown, unknown_paths
from beskar.operations.demo import write_demo

SITES = ("prod-brno", "prod-ostrava")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """The example as `beskar demo` leaves it: its tree holds each site's SOPS-encrypted Secret too."""
    root = tmp_path_factory.mktemp("engines") / "fleet"
    write_demo(root)
    assert all((root / f"apps/{site}/03-openstack/00-common-encryptedsecret.yaml").is_file() for site in SITES)
    return root


def documents(root: Path):
    for path in sorted(root.glob("clusters/**/*.yaml")) + sorted(root.glob("apps/**/*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path.relative_to(root).as_posix(), document


def kustomize_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("clusters/*/kustomization.yaml")) + sorted(
        p.parent for p in root.glob("apps/*/*/kustomization.yaml"))


def test_kubectl_kustomize_builds_every_cluster_and_layer(rendered):
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize v5) is required; .ci/run installs it"
    directories = kustomize_dirs(rendered)
    assert len(directories) == len(SITES) * 6  # clusters/<site> + 5 layers each
    for directory in directories:
        built = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True)
        assert built.returncode == 0, f"{directory}: {built.stderr}"
        objects = [d for d in yaml.safe_load_all(built.stdout) if d]
        listed = yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]
        on_disk = sorted(p.name for p in directory.iterdir() if p.name != "kustomization.yaml")
        assert sorted(listed) == on_disk, f"{directory}: kustomization.yaml must list every file"
        assert objects, f"{directory} built to nothing"


def test_every_flux_object_validates_against_its_crd_schema(rendered):
    checked = 0
    kinds = set()
    for path, document in documents(rendered):
        if document.get("apiVersion", "").startswith("kustomize.config.k8s.io"):
            continue
        if "fluxcd.io" in document["apiVersion"]:
            assert knows(document), f"{path}: no schema for {document['apiVersion']} {document['kind']}"
            assert not crd_versions()[(document["apiVersion"], document["kind"])].deprecated
            assert schema_errors(document) == [], path
            checked += 1
            kinds.add(document["kind"])
    assert kinds == {"GitRepository", "HelmRepository", "Kustomization", "HelmRelease"}
    assert checked > 40


def test_schema_validation_catches_a_broken_object(rendered):
    _, release = next((p, d) for p, d in documents(rendered) if d["kind"] == "HelmRelease")
    broken = {**release, "spec": {**release["spec"], "interval": 30, "dependsOn": [{"namespace": "x"}]}}
    messages = [e.message for e in schema_errors(broken)]
    assert any("'name' is a required property" in m for m in messages)
    assert any("is not of type 'string'" in m for m in messages)


def openstack_helm_releases(root: Path):
    for path, document in documents(root):
        if document["kind"] == "HelmRelease":
            chart = document["spec"].get("chart", {}).get("spec", {}).get("chart", "")
            if chart.startswith("./"):
                yield path, chart[2:], document


def test_every_values_path_exists_in_the_chart(rendered):
    releases = list(openstack_helm_releases(rendered))
    assert len(releases) > 30
    for path, chart, release in releases:
        assert unknown_paths(catalog(), chart, release["spec"]["values"]) == [], path
        for entry in release["spec"].get("valuesFrom", []):
            target = tuple(entry["targetPath"].split("."))
            missing = first_unknown(catalog().values_skeleton(chart), target)
            assert missing is None or any(p.matches(missing) for p in catalog().open_values), (path, target)


def test_values_check_flags_a_path_the_chart_lacks():
    assert unknown_paths(catalog(), "nova", {"conf": {"nova": {"DEFAULT": {"x": 1}}}}) == []
    assert unknown_paths(catalog(), "nova", {"pod": {"replica": {"api": 3}}}) == ["pod.replica"]
    assert unknown_paths(catalog(), "keystone", {"images": {"tags": {"keystone_apii": "x"}}}) == [
        "images.tags.keystone_apii"]


def test_every_image_key_of_each_chart_is_pinned_and_mirrored(rendered):
    for path, chart, release in openstack_helm_releases(rendered):
        tags = release["spec"]["values"]["images"]["tags"]
        expected = set(catalog().values_skeleton(chart)["images"]["tags"])
        assert set(tags) == expected, path
        for key, image in tags.items():
            assert image.startswith("mirror.example.org/cache/"), (path, key, image)
            flat = image.split("/", 2)[2]
            assert "/" not in flat and "__" in flat, image


def test_credentials_only_through_values_from(rendered):
    for path, chart, release in openstack_helm_releases(rendered):
        for leaf in _leaves(release["spec"]["values"]):
            key = leaf[-1]
            assert key not in ("password", "memcache_secret_key", "erlang_cookie", "private_key"), (path, leaf)


def _leaves(values, prefix=()):
    if isinstance(values, dict):
        for key, child in values.items():
            yield from _leaves(child, prefix + (str(key),))
    else:
        yield prefix
