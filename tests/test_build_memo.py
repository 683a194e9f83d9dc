"""Stored site builds: what is stored is what comes back, objects read only when asked for, corruption detected."""

from __future__ import annotations

from pathlib import Path

import pytest

from beskar.build.memo import StoredObjects, site_from_record, site_record
from beskar.build.objects import BuildFailure, BuiltObject, ChartIdentity, FailureKind, ReleaseBuild, SiteBuild
from beskar.clients import charts
from beskar.operations.sitememo import SiteMemo


def _object(layer: str, release: str, kind: str, name: str, body: dict) -> BuiltObject:
    return BuiltObject("prod-brno", layer, release, "v1", kind, "openstack", name, body, f"templates/{name}.yaml")


def _site_build() -> SiteBuild:
    chart = ChartIdentity("GitRepository", "openstack-helm", "https://example.org/osh.git", "nova", "2026.1.0",
                          "0" * 40, "f" * 64)
    nova = ReleaseBuild("prod-brno", "openstack", "nova", "openstack", "openstack", "apps/prod-brno/nova.yaml", 7,
                        chart, "a" * 64,
                        (_object("openstack", "nova", "ConfigMap", "nova-etc", {"data": {"nova.conf": "[DEFAULT]\n"}}),
                         _object("openstack", "nova", "DaemonSet", "nova-compute", {"spec": {"ü": [1, 2.5, None]}})))
    empty = ReleaseBuild("prod-brno", "openstack", "placement", "openstack", "openstack", "apps/prod-brno/p.yaml",
                         3, chart, "b" * 64, ())
    layer = (_object("cluster", "", "Namespace", "openstack", {"metadata": {"name": "openstack"}}),)
    return SiteBuild("prod-brno", "1.32.0", layer, (nova, empty))


def test_a_stored_build_is_the_build():
    build = _site_build()
    header, objects = site_record(build)
    stored = site_from_record(header, objects)
    assert stored == build and build == stored
    assert hash(stored.release("nova")) == hash(build.release("nova"))
    assert [len(r.objects) for r in stored.releases] == [2, 0]
    assert list(stored.objects()) == list(build.objects())
    assert stored.release("nova").objects[1].body == {"spec": {"ü": [1, 2.5, None]}}
    assert stored.find("ConfigMap", "openstack", "nova-etc").site == "prod-brno"


def test_stored_objects_are_read_when_first_asked_for():
    header, objects = site_record(_site_build())
    buffer = bytearray(objects)
    stored = site_from_record(header, buffer)
    nova = stored.release("nova").objects
    assert isinstance(nova, StoredObjects) and len(nova) == 2  # counted without reading
    first = header["releases"][0]["objects"]
    buffer[first[0]:first[0] + first[1]] = b" " * first[1]  # what was not read yet is read from the buffer
    with pytest.raises(ValueError):
        list(nova)
    layer = list(stored.layer_objects)
    assert [o.name for o in layer] == ["openstack"]


def test_a_record_that_points_past_its_objects_is_refused():
    header, objects = site_record(_site_build())
    with pytest.raises(ValueError, match="points past its end"):
        site_from_record(header, objects[:-5])


@pytest.fixture
def memo(tmp_path: Path) -> SiteMemo:
    return SiteMemo(charts.ChartCache(tmp_path / "cache"))


def test_the_memo_gives_back_what_it_stored_by_site_key_and_by_input_key(memo: SiteMemo):
    build = _site_build()
    assert memo.put("ab" * 32, [], build)
    memo.point("cd" * 32, "ab" * 32)
    assert memo.get("ab" * 32) == build
    assert memo.get("cd" * 32) == build
    assert memo.get("ef" * 32) is None
    found = memo.get_many({"by site": "ab" * 32, "by inputs": "cd" * 32, "never stored": "ef" * 32}, jobs=2)
    assert found == {"by site": build, "by inputs": build}


@pytest.mark.parametrize("damage", ["flip a byte of an object", "truncate", "flip the digest", "empty"])
def test_a_corrupt_stored_build_is_not_given_back(memo: SiteMemo, damage: str):
    key = "ab" * 32
    assert memo.put(key, [], _site_build())
    path = memo._path(key)
    data = bytearray(path.read_bytes())
    if damage == "flip a byte of an object":
        data[data.index(b"nova-compute")] ^= 1
    elif damage == "truncate":
        del data[-40:]
    elif damage == "flip the digest":
        data[0] = ord("0") if data[0] != ord("0") else ord("1")
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    assert memo.get(key) is None
    memo.point("cd" * 32, key)
    assert memo.get("cd" * 32) is None  # an input key leads to the same corrupt entry: built again too
    good = "ef" * 32
    assert memo.put(good, [], _site_build())
    assert list(memo.get_many({"corrupt": key, "sound": good}, jobs=2)) == ["sound"]


def test_a_build_with_a_failure_is_not_stored():
    build = _site_build()
    failed = ReleaseBuild("prod-brno", "openstack", "glance", "openstack", "openstack", "apps/prod-brno/g.yaml", 2,
                          None, "", (), BuildFailure("prod-brno", "openstack", "glance", FailureKind.TEMPLATE,
                                                     "apps/prod-brno/g.yaml", 2, "boom"))
    with pytest.raises(ValueError, match="has failures"):
        site_record(SiteBuild(build.site, build.kubernetes_version, build.layer_objects, (*build.releases, failed)))


def test_a_release_stored_with_its_render_rows_keeps_those_bytes_and_reads_back_the_same_objects():
    """A release built from a stored render carries the render's [template, body] rows: the stored build takes
    those bytes as they are, and reads each object's fields back off its body, a cluster-scoped object's body that
    names a namespace included."""
    import json
    bodies = [("templates/role.yaml", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                        "metadata": {"name": "nova-reader", "namespace": "openstack"}}),
              ("templates/etc.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": "nova-etc", "namespace": "openstack"}, "data": {"a": "ü"}})]
    rows = json.dumps([[t, b] for t, b in bodies], separators=(",", ":"), ensure_ascii=False).encode()
    objects = (BuiltObject("prod-brno", "openstack", "nova", "rbac.authorization.k8s.io/v1", "ClusterRole", "",
                           "nova-reader", bodies[0][1], bodies[0][0]),
               BuiltObject("prod-brno", "openstack", "nova", "v1", "ConfigMap", "openstack", "nova-etc",
                           bodies[1][1], bodies[1][0]))
    base = _site_build()
    nova = ReleaseBuild("prod-brno", "openstack", "nova", "openstack", "openstack", "apps/prod-brno/nova.yaml", 7,
                        None, "a" * 64, objects, rows=rows)
    build = SiteBuild(base.site, base.kubernetes_version, base.layer_objects, (nova, *base.releases[1:]))
    header, stored_bytes = site_record(build)
    where = header["releases"][0]["objects"]
    assert stored_bytes[where[0]:where[0] + where[1]] == rows
    stored = site_from_record(header, stored_bytes)
    assert stored == build and list(stored.objects()) == list(build.objects())
    assert [(o.kind, o.namespace) for o in stored.release("nova").objects] == [("ClusterRole", ""),
                                                                               ("ConfigMap", "openstack")]
    # Without rows the objects are encoded whole, as before.
    header, _ = site_record(base)
    assert all("rows" not in release for release in header["releases"])
