"""The image layer of `beskar diff` on plain object lists: which images move, come and go between two revisions,
by upstream reference, tag and digest (the reference's or the lock's), and which workloads pull them."""
from __future__ import annotations

from beskar.catalog import catalog
from beskar.diff import Change, Manifest
from beskar.diff.images import ImageContext, diff_images, image_uses, workloads
from beskar.diff.report import as_json, image_line, version_text
from beskar.diff.changes import FleetDiff, Revision, SiteDiff, Status

MIRROR = "mirror.example.org/cache"
KNOWLEDGE = catalog().image_knowledge
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def _deployment(name: str, release: str, **containers: str) -> Manifest:
    return Manifest("03-openstack", release, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "openstack"},
        "spec": {"template": {"spec": {"containers": [{"name": c, "image": i} for c, i in containers.items()]}}}})


def _job(name: str, release: str, image: str) -> Manifest:
    return Manifest("03-openstack", release, {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "openstack"},
        "spec": {"template": {"spec": {"initContainers": [{"name": "init", "image": image}],
                                       "containers": [{"name": name, "image": image}]}}}})


def _mirrored(upstream: str) -> str:
    registry, _, rest = upstream.partition("/")
    return f"{MIRROR}/{registry}__{rest.replace('/', '__')}"


NOVA_1 = _mirrored("quay.io/airshipit/nova:2025.1-ubuntu_noble")
NOVA_2 = _mirrored("quay.io/airshipit/nova:2025.2-ubuntu_noble")
CLIENT_1 = _mirrored("quay.io/airshipit/openstack-client:2025.1-ubuntu_noble")


def _diff(before: list[Manifest], after: list[Manifest], base: ImageContext = ImageContext(MIRROR),
          head: ImageContext = ImageContext(MIRROR), values: bool = False):
    return diff_images(image_uses(before, KNOWLEDGE, base, values=values),
                       image_uses(after, KNOWLEDGE, head, values=values), base, head, KNOWLEDGE)


def test_a_tag_that_moves_is_one_change_with_the_workloads_that_pull_it():
    before = [_deployment("nova-api", "nova", api=NOVA_1), _job("nova-db-sync", "nova", NOVA_1)]
    after = [_deployment("nova-api", "nova", api=NOVA_2), _job("nova-db-sync", "nova", NOVA_2)]
    [change] = _diff(before, after)
    assert change.change is Change.CHANGED and change.repository == "quay.io/airshipit/nova"
    assert (change.old.tag, change.new.tag) == ("2025.1-ubuntu_noble", "2025.2-ubuntu_noble")
    assert change.new.upstream == "quay.io/airshipit/nova:2025.2-ubuntu_noble" and change.new.mirrored
    assert change.new.reference == NOVA_2 and change.new.digest is None and change.new.mutable
    assert workloads(change) == ["Deployment openstack/nova-api", "Job openstack/nova-db-sync"]
    assert sorted(u.where for u in change.uses) == ["containers[api]", "containers[nova-db-sync]",
                                                    "initContainers[init]"]


def test_an_image_already_pulled_is_no_change_for_a_new_user_and_a_new_one_is_added():
    before = [_deployment("nova-api", "nova", api=NOVA_1)]
    after = [_deployment("nova-api", "nova", api=NOVA_1), _job("nova-db-sync", "nova", NOVA_1),
             _job("designate-db-sync", "designate", CLIENT_1)]
    [added] = _diff(before, after)
    assert added.change is Change.ADDED and added.old is None
    assert added.repository == "quay.io/airshipit/openstack-client"
    assert workloads(added) == ["Job openstack/designate-db-sync"]
    [removed] = _diff(after, before)
    assert removed.change is Change.REMOVED and removed.new is None and removed.old.reference == CLIENT_1


def test_one_repository_with_two_tags_moves_tag_by_tag():
    management = _mirrored("docker.io/rabbitmq:3.13-management")
    before = [_deployment("rabbitmq", "rabbitmq", server=_mirrored("docker.io/rabbitmq:3.13"), ui=management)]
    after = [_deployment("rabbitmq", "rabbitmq", server=_mirrored("docker.io/rabbitmq:4.3.5"),
                         ui=_mirrored("docker.io/rabbitmq:4.3.5-management"))]
    changes = _diff(before, after)
    assert [(c.old.tag, c.new.tag) for c in changes] == [("3.13", "4.3.5"), ("3.13-management", "4.3.5-management")]
    assert not changes[0].new.mutable and changes[0].old.mutable  # a semver tag is taken as immutable


def test_a_digest_pinned_in_the_reference_moves_with_the_same_tag():
    changes = _diff([_deployment("nova-api", "nova", api=f"{NOVA_1}@{DIGEST_A}")],
                    [_deployment("nova-api", "nova", api=f"{NOVA_1}@{DIGEST_B}")])
    [change] = changes
    assert change.old.tag == change.new.tag == "2025.1-ubuntu_noble"
    assert (change.old.digest, change.new.digest) == (DIGEST_A, DIGEST_B)
    assert change.new.pinned and not change.new.mutable
    assert change.new.upstream == "quay.io/airshipit/nova:2025.1-ubuntu_noble"  # the digest is reported apart
    assert version_text(change.new) == "2025.1-ubuntu_noble@sha256:bbbbbbbbbbbb"


def test_a_lock_that_moves_for_an_unpinned_reference_is_a_change_of_its_digest():
    objects = [_deployment("nova-api", "nova", api=NOVA_1)]
    lock = {"quay.io/airshipit/nova:2025.1-ubuntu_noble": DIGEST_A}
    [change] = _diff(objects, objects, ImageContext(MIRROR, locks=lock),
                     ImageContext(MIRROR, locks={"quay.io/airshipit/nova:2025.1-ubuntu_noble": DIGEST_B}))
    assert change.old.reference == change.new.reference == NOVA_1
    assert change.new.digest == DIGEST_B and not change.new.pinned and change.new.mutable  # pods pull by tag
    assert version_text(change.new).endswith("(lock)")
    assert _diff(objects, objects, ImageContext(MIRROR, locks=lock), ImageContext(MIRROR, locks=lock)) == []


def test_an_image_not_from_the_mirror_is_named_as_itself():
    [change] = _diff([], [_deployment("grafana", "monitoring", grafana="grafana/grafana:11.1.0")])
    assert change.repository == "docker.io/grafana/grafana" and not change.new.mirrored
    assert change.new.upstream == "docker.io/grafana/grafana:11.1.0"
    assert "(not from the mirror)" in image_line(change)


def test_before_a_build_the_images_helm_releases_set_in_their_values():
    def release(tag: str, controller: dict) -> Manifest:
        return Manifest("03-openstack", "", {
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "nova", "namespace": "openstack"},
            "spec": {"values": {"images": {"tags": {"nova_api": _mirrored(f"quay.io/airshipit/nova:{tag}")}},
                                "controller": {"image": controller}}}})
    tagless = {"registry": "mirror.example.org", "repository": "cache/registry.k8s.io__ingress-nginx__controller"}
    changes = _diff([release("2025.1-ubuntu_noble", tagless)], [release("2025.2-ubuntu_noble", tagless)],
                    values=True)
    [change] = changes
    assert [(u.release, u.object, u.where, u.source.value) for u in change.uses] == [
        ("nova", "HelmRelease/openstack/nova", "spec.values.images.tags.nova_api", "values")]
    added = _diff([], [release("2025.1-ubuntu_noble", tagless)], values=True)
    controller = next(c for c in added if "ingress-nginx" in c.repository)
    assert controller.new.tag is None and controller.repository == "registry.k8s.io/ingress-nginx/controller"
    assert version_text(controller.new) == "(chart default tag)"
    assert _diff([release("2025.1-ubuntu_noble", tagless)], [release("2025.2-ubuntu_noble", tagless)]) == []


def test_json_holds_every_field_of_an_image_change():
    [change] = _diff([_deployment("nova-api", "nova", api=NOVA_1)],
                     [_deployment("nova-api", "nova", api=f"{NOVA_2}@{DIGEST_A}")])
    site = SiteDiff("prod-brno", Status.CHANGED, images=(change,))
    report = as_json(FleetDiff(Revision("a", ""), Revision("b", ""), (site,)))
    assert report["summary"][0]["images"] == {"added": 0, "changed": 1, "removed": 0}
    [image] = report["sites"][0]["images"]
    assert image["change"] == "changed" and image["repository"] == "quay.io/airshipit/nova"
    assert image["new"] == {"reference": f"{NOVA_2}@{DIGEST_A}", "upstream": "quay.io/airshipit/nova:2025.2-ubuntu_noble",
                            "mirrored": True, "tag": "2025.2-ubuntu_noble", "digest": DIGEST_A, "pinned": True,
                            "mutable": False}
    assert image["old"]["digest"] is None and image["workloads"] == ["Deployment openstack/nova-api"]
    assert image["uses"] == [{"release": "nova", "subject": "Deployment openstack/nova-api",
                              "where": "containers[api]", "source": "pod"}]
