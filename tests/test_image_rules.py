"""The pure parts of `beskar images`: the inventory of built objects, the mirror planner, the image lock file, the
check rules over operator images, digests and lock age."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml

from beskar.build import BuiltObject, ReleaseBuild, SiteBuild
from beskar.build.images import ImageSource, site_images
from beskar.catalog import catalog
from beskar.check.build import BuiltSite
from beskar.check.rules_build_images import operator_image_mirror, unlocked_images
from beskar.clients.mirroring import repository_and_reference
from beskar.fleet.image_lock import LockedImage, lock_bytes, read_image_lock
from beskar.plan.mirroring import plan_mirror, wanted_image
from beskar.problems import InputError

MIRROR = "mirror.example.org/cache"
DIGEST = "sha256:" + "cd" * 32


def _object(release: str, kind: str, name: str, body: dict) -> BuiltObject:
    return BuiltObject("s1", "02-ceph", release, "v1", kind, "rook-ceph", name, {"kind": kind, **body})


def _build(*objects: BuiltObject, locked: bool = True) -> BuiltSite:
    releases = tuple(ReleaseBuild("s1", "02-ceph", name, "rook-ceph", "rook-ceph", f"apps/s1/02-ceph/{name}.yaml",
                                  3, None, "", tuple(o for o in objects if o.release == name))
                     for name in sorted({o.release for o in objects}))
    return BuiltSite(SiteBuild("s1", "v1.32.5", (), releases), mirror=MIRROR, locked=locked)


def _deployment(image: str, args: list[str] = ()) -> dict:
    return {"spec": {"template": {"spec": {"initContainers": [{"name": "init", "image": image}],
                                           "containers": [{"name": "main", "image": image, "args": list(args)}]}}}}


CEPH_UPSTREAM = _object("rook-ceph-cluster", "CephCluster", "rook-ceph",
                        {"spec": {"cephVersion": {"image": "quay.io/ceph/ceph:v19.2.3"}}})
CSI = _object("rook-ceph", "ConfigMap", "rook-ceph-operator-config", {"data": {
    "ROOK_CSI_CEPH_IMAGE": f"{MIRROR}/quay.io__cephcsi__cephcsi:v3.14.2",
    "ROOK_CSIADDONS_IMAGE": "quay.io/csiaddons/k8s-sidecar:v0.12.0",  # addons are off: not started
    "ROOK_CSI_IMAGE_PULL_POLICY": "IfNotPresent"}})
OPERATOR = _object("kube-prometheus-stack", "Deployment", "operator", _deployment(
    f"{MIRROR}/quay.io__prometheus-operator__prometheus-operator:v0.83.0@{DIGEST}",
    ["--prometheus-config-reloader=quay.io/prometheus-operator/prometheus-config-reloader:v0.83.0"]))


def test_inventory_unites_pod_images_and_the_images_operators_start():
    images = {i.image: i for i in site_images([CEPH_UPSTREAM, CSI, OPERATOR], catalog().image_knowledge, MIRROR)}
    assert sorted(images) == sorted([
        "quay.io/ceph/ceph:v19.2.3", f"{MIRROR}/quay.io__cephcsi__cephcsi:v3.14.2",
        f"{MIRROR}/quay.io__prometheus-operator__prometheus-operator:v0.83.0@{DIGEST}",
        "quay.io/prometheus-operator/prometheus-config-reloader:v0.83.0"])
    operator = images[f"{MIRROR}/quay.io__prometheus-operator__prometheus-operator:v0.83.0@{DIGEST}"]
    assert [u.where for u in operator.uses] == ["containers[main]", "initContainers[init]"]
    assert operator.upstream == f"quay.io/prometheus-operator/prometheus-operator:v0.83.0@{DIGEST}"
    assert not operator.mutable
    ceph = images["quay.io/ceph/ceph:v19.2.3"]
    assert ceph.upstream is None and ceph.uses[0].source is ImageSource.OPERATOR
    assert images[f"{MIRROR}/quay.io__cephcsi__cephcsi:v3.14.2"].uses[0].where == "data.ROOK_CSI_CEPH_IMAGE"


def test_operator_images_from_upstream_are_errors_at_their_release():
    findings = list(operator_image_mirror(_build(CEPH_UPSTREAM, CSI, OPERATOR)))
    assert sorted((f.file, f.line) for f in findings) == [
        ("apps/s1/02-ceph/kube-prometheus-stack.yaml", 3), ("apps/s1/02-ceph/rook-ceph-cluster.yaml", 3)]
    assert any("quay.io/ceph/ceph:v19.2.3" in f.message and "spec.cephVersion.image" in f.message for f in findings)
    clean = _object("rook-ceph-cluster", "CephCluster", "rook-ceph",
                    {"spec": {"cephVersion": {"image": f"{MIRROR}/quay.io__ceph__ceph:v19.2.3"}}})
    assert list(operator_image_mirror(_build(clean, CSI))) == []


def test_unlocked_images_are_reported_per_release():
    findings = list(unlocked_images(_build(CEPH_UPSTREAM, CSI, OPERATOR)))
    by_file = {f.file: f.message for f in findings}
    assert "1 image(s)" in by_file["apps/s1/02-ceph/rook-ceph.yaml"]
    assert "prometheus-config-reloader" in by_file["apps/s1/02-ceph/kube-prometheus-stack.yaml"]
    assert "prometheus-operator:v0.83.0" not in by_file["apps/s1/02-ceph/kube-prometheus-stack.yaml"]  # pinned


def test_a_site_without_an_image_lock_is_not_told_of_unlocked_images():
    assert list(unlocked_images(_build(CEPH_UPSTREAM, CSI, OPERATOR, locked=False))) == []


def test_mirror_plan_copies_exactly_what_is_missing_or_has_another_digest():
    nova = wanted_image(f"{MIRROR}/quay.io__airshipit__nova:2025.1", "quay.io/airshipit/nova:2025.1", ["b", "a"])
    pinned = wanted_image(f"{MIRROR}/quay.io__x__y:1@{DIGEST}", f"quay.io/x/y:1@{DIGEST}", ["c"],
                          {"quay.io": "cache.local:5000/quay"})
    there = wanted_image(f"{MIRROR}/quay.io__x__z:1", "quay.io/x/z:1", ["d"])
    assert pinned.source == f"cache.local:5000/quay/x/y@{DIGEST}"  # by digest, from the remapped registry
    assert pinned.destination == f"{MIRROR}/quay.io__x__y:1" and nova.users == ("a", "b")
    plan = plan_mirror([there, pinned, nova, nova], {there.destination: DIGEST, pinned.destination: "sha256:" + "0" * 64})
    assert [c.image for c in plan.copies] == [nova, pinned]
    assert plan.present == (there,) and plan.stale == (pinned,)
    assert plan_mirror([nova], {nova.destination: DIGEST}).copies == ()


def test_references_split_into_repository_and_tag_or_digest():
    assert repository_and_reference(f"{MIRROR}/quay.io__x__y:1") == ("mirror.example.org", "cache/quay.io__x__y", "1")
    assert repository_and_reference(f"127.0.0.1:5000/a/b:1@{DIGEST}") == ("127.0.0.1:5000", "a/b", DIGEST)


def test_lock_file_round_trip_and_bad_input(tmp_path):
    site = tmp_path / "sites" / "s1"
    site.mkdir(parents=True)
    images = {"quay.io/x/y:1": LockedImage(DIGEST, "2026-01-02T03:04:05Z")}
    (site / "images.lock.yaml").write_bytes(lock_bytes(images))
    lock = read_image_lock(tmp_path, "s1")
    assert lock.digests() == {"quay.io/x/y:1": DIGEST} and lock.images["quay.io/x/y:1"].line == 4
    (site / "images.lock.yaml").write_text("images:\n  quay.io/x/y:1: {digest: sha256:nope, taken: x}\n")
    with pytest.raises(InputError) as error:
        read_image_lock(tmp_path, "s1")
    problem = error.value.problems[0]
    assert (problem.origin.file, problem.origin.line) == ("sites/s1/images.lock.yaml", 2)
    assert "sha256:<64 hex digits>" in problem.message
    assert read_image_lock(tmp_path, "other") is None


def test_old_lock_warns(demo_fleet, run_beskar):
    old = (datetime.now(timezone.utc) - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (demo_fleet / "sites" / "prod-brno" / "images.lock.yaml").write_bytes(lock_bytes({
        "quay.io/airshipit/nova:2025.1-ubuntu_noble": LockedImage(DIGEST, old)}))
    assert run_beskar("render", cwd=demo_fleet).returncode == 0
    result = run_beskar("check", "--format", "json", cwd=demo_fleet)
    assert "model/image-lock-age" in result.stdout and "sites/prod-brno/images.lock.yaml" in result.stdout
    nova = (demo_fleet / "apps" / "prod-brno" / "03-openstack" / "13-nova.yaml").read_text()
    assert f"quay.io__airshipit__nova:2025.1-ubuntu_noble@{DIGEST}" in nova


def test_render_refuses_a_broken_lock_at_its_line_and_writes_nothing(demo_fleet, run_beskar):
    lock = demo_fleet / "sites" / "prod-brno" / "images.lock.yaml"
    lock.write_text("images:\n  quay.io/airshipit/nova:2025.1-ubuntu_noble: {digest: 'sha256:12', taken: x}\n")
    nova = demo_fleet / "apps" / "prod-brno" / "03-openstack" / "13-nova.yaml"
    before = nova.read_bytes()
    result = run_beskar("render", cwd=demo_fleet)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "sites/prod-brno/images.lock.yaml:2:3: image quay.io/airshipit/nova:2025.1-ubuntu_noble: digest must be" \
        in result.stderr
    assert nova.read_bytes() == before


def test_skopeo_sync_yaml_for_a_nested_mirror():
    from beskar.build.images import SiteImage
    from beskar.cli.images import _skopeo
    from beskar.operations.images import Inventory

    inventory = Inventory("s1", "m.example.org/cache", "nested", (
        SiteImage("m.example.org/cache/quay.io/x/y:1", "quay.io/x/y:1", True, ()),
        SiteImage(f"m.example.org/cache/registry.k8s.io/a/b:v1@{DIGEST}", f"registry.k8s.io/a/b:v1@{DIGEST}",
                  False, ())))
    text = _skopeo([inventory])
    assert text.splitlines()[0] == "# s1: skopeo sync --all --scoped --src yaml --dest docker THIS_FILE " \
                                   "m.example.org/cache"
    assert yaml.safe_load(text) == {"quay.io": {"images": {"x/y": ["1"]}},
                                    "registry.k8s.io": {"images": {"a/b": [DIGEST]}}}
