"""Checks of the vendored catalog data (src/beskar/catalog/data) and its derivation from the reference snapshot."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "beskar" / "catalog" / "data"
SCRIPT = ROOT / "tools" / "derive_catalog.py"
REFERENCE = Path(os.environ.get("BESKAR_REFERENCE") or Path(__file__).resolve().parents[2] / "shared" / "reference")

RELEASES = ["2024.1-ubuntu_jammy", "2024.2-ubuntu_jammy", "2025.1-ubuntu_jammy",
            "2025.1-ubuntu_noble", "2025.2-ubuntu_noble", "2026.1-ubuntu_noble"]
IMAGE_RE = re.compile(r"^[a-z0-9.\-]+(:[0-9]+)?/[^:@\s]+:[^:\s]+$")
AIRSHIP_RELEASE_TAG = re.compile(r"^quay\.io/airshipit/[^:]+:(\d{4}\.\d)-ubuntu_[a-z]+")


def load_yaml(path: Path):
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=yaml.CSafeLoader)


def images(name: str) -> dict:
    return load_yaml(DATA / "images" / f"{name}.yaml")


def crd_index() -> list[dict]:
    return json.loads((DATA / "crds" / "index.json").read_text(encoding="utf-8"))


def index_entry(kind: str, version: str) -> dict | None:
    return next((e for e in crd_index() if e["kind"] == kind and e["version"] == version), None)


@pytest.fixture(scope="module")
def reference() -> Path:
    if not (REFERENCE / "openstack-helm").is_dir() or not (REFERENCE / "flux-crds").is_dir():
        pytest.skip(f"reference data not found at {REFERENCE} (set BESKAR_REFERENCE to the reference directory)")
    return REFERENCE


# --- checks of the vendored files alone (no reference directory needed) -------------------------------

def test_images_file_set():
    assert sorted(p.stem for p in (DATA / "images").glob("*.yaml")) == sorted(RELEASES)


@pytest.mark.parametrize("name", RELEASES)
def test_images_file_parses_and_is_well_formed(name):
    text = (DATA / "images" / f"{name}.yaml").read_text(encoding="utf-8")
    assert re.match(r"# Derived by tools/derive_catalog\.py from openstack-helm [0-9a-f]{40} \(Apache-2\.0\)", text)
    doc = yaml.load(text, Loader=yaml.CSafeLoader)
    assert f"{doc['release']}-{doc['distro']}" == name
    assert isinstance(doc["release"], str)
    assert doc["charts"] and all(doc["charts"].values())
    for chart, tags in doc["charts"].items():
        for key, image in tags.items():
            assert isinstance(image, str) and IMAGE_RE.match(image), (chart, key, image)
            assert not image.endswith("_loci"), (chart, key, image)


@pytest.mark.parametrize("name", RELEASES)
def test_images_do_not_mix_openstack_releases(name):
    doc = images(name)
    for chart, tags in doc["charts"].items():
        for key, image in tags.items():
            match = AIRSHIP_RELEASE_TAG.match(image)
            assert not match or match.group(1) == doc["release"], (chart, key, image)


def test_2025_1_files_carry_no_other_release_tag():
    for name in ("2025.1-ubuntu_jammy", "2025.1-ubuntu_noble"):
        for chart, tags in images(name)["charts"].items():
            for image in tags.values():
                assert not re.match(r"quay\.io/airshipit/[^:]+:(2024\.|2025\.2|2026\.1)", image), (name, chart, image)


def test_chart_lists_agree():
    values = sorted(p.stem for p in (DATA / "values").glob("*.json") if p.name not in ("charts.json", "labels.json"))
    meta = json.loads((DATA / "values" / "charts.json").read_text(encoding="utf-8"))
    assert "helm-toolkit" not in values
    assert sorted(meta) == values
    for name in RELEASES:
        assert sorted(images(name)["charts"]) == values, name
    assert all(set(v) == {"version", "appVersion"} for v in meta.values())


def test_json_files_are_compact_and_sorted():
    for path in sorted((DATA / "values").glob("*.json")) + sorted((DATA / "crds").glob("*_*.json")):
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True) + "\n", path.name


def test_crd_index_lists_required_versions():
    index = crd_index()
    assert index == sorted(index, key=lambda e: (e["group"], e["kind"], e["version"]))
    for kind, version in [("HelmRelease", "v2"), ("Kustomization", "v1"), ("GitRepository", "v1"), ("HelmRepository", "v1")]:
        entry = index_entry(kind, version)
        assert entry and entry["served"] and not entry["deprecated"], (kind, version)
    assert index_entry("OCIRepository", "v1") or index_entry("OCIRepository", "v1beta2")
    for entry in index:
        assert set(entry) == {"group", "kind", "version", "served", "storage", "deprecated", "deprecationWarning", "file"}
        assert entry["file"] == f"{entry['group']}_{entry['kind']}_{entry['version']}.json"
        schema = json.loads((DATA / "crds" / entry["file"]).read_text(encoding="utf-8"))
        assert schema["type"] == "object" and "spec" in schema["properties"], entry["file"]
        assert bool(entry["deprecated"]) == bool(entry["deprecationWarning"]), entry["file"]


def test_helmrelease_v2beta1_marked_deprecated():
    entry = index_entry("HelmRelease", "v2beta1")
    if entry is None:
        pytest.skip("HelmRelease v2beta1 is not in the vendored CRD set")
    assert entry["deprecated"] is True and "v2beta1" in entry["deprecationWarning"]
    assert entry["storage"] is False


# --- checks against the reference snapshot ---------------------------------------------------------------

def test_vendored_data_matches_fresh_derivation(reference, tmp_path):
    subprocess.run([sys.executable, str(SCRIPT), "--reference", str(reference), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    fresh = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    vendored = {p.relative_to(DATA).as_posix() for sub in ("images", "values", "crds")
                for p in (DATA / sub).rglob("*") if p.is_file()} | {"SOURCE.md"}
    assert fresh == vendored
    stale = sorted(rel for rel in fresh if (tmp_path / rel).read_bytes() != (DATA / rel).read_bytes())
    assert not stale, f"vendored catalog is stale, re-run tools/derive_catalog.py: {stale}"


def test_nova_api_2025_1_noble_is_the_override(reference):
    override = load_yaml(reference / "openstack-helm/nova/values_overrides/2025.1-ubuntu_noble.yaml")
    assert images("2025.1-ubuntu_noble")["charts"]["nova"]["nova_api"] == override["images"]["tags"]["nova_api"]


def test_every_values_tag_key_in_every_images_file(reference):
    osh = reference / "openstack-helm"
    for chart_dir in sorted(p for p in osh.iterdir() if p.is_dir() and p.name != "helm-toolkit"):
        keys = {k for k, v in load_yaml(chart_dir / "values.yaml")["images"]["tags"].items() if v}
        for name in RELEASES:
            missing = keys - set(images(name)["charts"][chart_dir.name])
            assert not missing, (name, chart_dir.name, missing)


def test_override_values_win_including_extra_keys(reference):
    osh = reference / "openstack-helm"
    for name in RELEASES:
        for path in sorted(osh.glob(f"*/values_overrides/{name}.yaml")) + sorted(osh.glob(f"*/values_overrides/historical/{name}.yaml")):
            chart = path.parts[len(osh.parts)]
            for key, image in load_yaml(path)["images"]["tags"].items():
                assert images(name)["charts"][chart][key] == image, (name, chart, key)
    # keystone_bootstrap exists only in the overrides, not in keystone/values.yaml
    assert "keystone_bootstrap" in images("2025.1-ubuntu_noble")["charts"]["keystone"]


def test_historical_and_distro_overrides(reference):
    osh = reference / "openstack-helm"
    hist = load_yaml(osh / "barbican/values_overrides/historical/2024.1-ubuntu_jammy.yaml")["images"]["tags"]
    assert images("2024.1-ubuntu_jammy")["charts"]["barbican"]["barbican_api"] == hist["barbican_api"]
    for distro, name in (("ubuntu_jammy", "2025.1-ubuntu_jammy"), ("ubuntu_noble", "2025.2-ubuntu_noble")):
        ovs = load_yaml(osh / f"openvswitch/values_overrides/{distro}.yaml")["images"]["tags"]
        assert images(name)["charts"]["openvswitch"]["openvswitch_vswitchd"] == ovs["openvswitch_vswitchd"]


def test_rewrite_rule_for_unpinned_charts(reference):
    osh = reference / "openstack-helm"
    designate = load_yaml(osh / "designate/values.yaml")["images"]["tags"]
    memcached = load_yaml(osh / "memcached/values.yaml")["images"]["tags"]
    doc = images("2025.1-ubuntu_jammy")
    repo = designate["designate_api"].rsplit(":", 1)[0]
    assert doc["charts"]["designate"]["designate_api"] == f"{repo}:2025.1-ubuntu_jammy"
    assert doc["charts"]["designate"]["rabbit_init"] == designate["rabbit_init"]
    assert doc["charts"]["memcached"] == {k: v for k, v in memcached.items() if v}
    assert "designate" in (DATA / "images" / "2025.1-ubuntu_jammy.yaml").read_text(encoding="utf-8").split("\ncharts:")[0]


def test_values_skeletons(reference):
    osh = reference / "openstack-helm"
    nova = json.loads((DATA / "values" / "nova.json").read_text(encoding="utf-8"))
    values = load_yaml(osh / "nova/values.yaml")
    default = nova["conf"]["nova"]["DEFAULT"]
    assert set(default) == set(values["conf"]["nova"]["DEFAULT"])
    assert all(v is None or isinstance(v, dict) for v in default.values())
    assert set(nova["images"]["tags"]) == set(values["images"]["tags"])
    assert set(nova) == set(values)
    meta = json.loads((DATA / "values" / "charts.json").read_text(encoding="utf-8"))
    for chart, entry in meta.items():
        chart_yaml = load_yaml(osh / chart / "Chart.yaml")
        assert entry == {"version": str(chart_yaml["version"]), "appVersion": str(chart_yaml["appVersion"])}


def test_crd_schemas_and_flags_match_the_crds(reference):
    flux = reference / "flux-crds"
    declared = {}
    for path in sorted((flux / "flux-v2.6-multiversion").glob("*.yaml")) + sorted(flux.glob("*.yaml")):
        for crd in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader):
            if crd:
                for ver in crd["spec"]["versions"]:
                    declared[(crd["spec"]["group"], crd["spec"]["names"]["kind"], ver["name"])] = ver
    index = crd_index()
    assert {(e["group"], e["kind"], e["version"]) for e in index} == set(declared)
    for entry in index:
        ver = declared[(entry["group"], entry["kind"], entry["version"])]
        assert entry["served"] == ver["served"] and entry["storage"] == ver["storage"]
        assert entry["deprecated"] == bool(ver.get("deprecated")), entry["file"]
        assert entry["deprecationWarning"] == ver.get("deprecationWarning"), entry["file"]
        schema = json.loads((DATA / "crds" / entry["file"]).read_text(encoding="utf-8"))
        assert schema == ver["schema"]["openAPIV3Schema"], entry["file"]
    hr = json.loads((DATA / "crds" / "helm.toolkit.fluxcd.io_HelmRelease_v2.json").read_text(encoding="utf-8"))
    assert "valuesFrom" in hr["properties"]["spec"]["properties"]
