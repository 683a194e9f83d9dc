"""The upgrade planner over the catalog's release graph, service order and ladders; waves, refusals, live gate."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from beskar.catalog import catalog
from beskar.catalog.upgrades import Ladder, pins_during, upgrade_knowledge, upgrade_stages
from beskar.check.schemas import schema_errors
from beskar.fleet import load_fleet
from beskar.model import type_site
from beskar.plan.upgrades import FleetSite, deployed_charts, may_start, not_ready, plan_upgrade, waves

ALL_CHARTS = frozenset(spec.chart for spec in catalog().components.values() if spec.from_openstack_helm)


def fleet_sites(root: Path) -> list[FleetSite]:
    fleet = load_fleet(root)
    return [FleetSite(name, layered.profile, type_site(layered, catalog())) for name, layered in fleet.sites.items()]


def edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_graph_has_one_step_and_slurp_edges_and_refuses_others_with_the_path():
    graph = upgrade_knowledge()
    assert graph.refusal("2025.1", "2025.2") is None
    assert graph.refusal("2025.1", "2026.1") is None and graph.edge("2025.1", "2026.1").skip_level
    assert graph.refusal("2024.1", "2025.1") is None
    why = graph.refusal("2024.2", "2026.1")
    assert "go through 2024.2 -> 2025.1 -> 2026.1" in why
    assert "does not downgrade" in graph.refusal("2025.2", "2025.1")
    assert "already runs" in graph.refusal("2025.1", "2025.1")


def test_every_supported_release_is_in_the_graph():
    releases = set(catalog().releases)
    named = {release for edge in upgrade_knowledge().edges for release in (edge.source, edge.target)}
    assert named == releases


def test_service_order_infrastructure_first_then_services_nova_computes_after_control_plane():
    names = [stage.name for stage in upgrade_stages(catalog(), "2025.1", "2025.2", "ubuntu_noble", ALL_CHARTS)]
    assert names[0] == "mariadb" and names.index("rabbitmq") < names.index("keystone")
    assert names.index("keystone") < names.index("placement") < names.index("nova") < names.index("nova-compute")
    assert names[-1] == "horizon"
    stages = {stage.name: dict(stage.pins) for stage in
              upgrade_stages(catalog(), "2025.1", "2025.2", "ubuntu_noble", ALL_CHARTS)}
    assert {key for key, _ in stages["nova-compute"]["nova"]} <= {"nova_compute", "nova_compute_ironic", "nova_compute_ssh"}
    assert "nova_compute" not in dict(stages["nova"]["nova"]) and "nova_api" in dict(stages["nova"]["nova"])
    assert set(stages["nova-compute"]) == {"nova", "libvirt"}


def test_rabbitmq_ladder_inserts_one_stage_per_skipped_minor():
    names = [stage.name for stage in upgrade_stages(catalog(), "2025.1", "2025.2", "ubuntu_noble", ALL_CHARTS)]
    assert names[names.index("mariadb") + 1:names.index("rabbitmq")] == ["rabbitmq-4.0", "rabbitmq-4.1", "rabbitmq-4.2"]
    ladder = next(l for l in upgrade_knowledge().ladders if l.name == "rabbitmq")
    assert ladder.steps("docker.io/rabbitmq:4.2.1", "docker.io/rabbitmq:4.3.5") == ()
    assert ladder.steps("docker.io/rabbitmq:3.13", "docker.io/rabbitmq:4.1.2") == ("4.0",)
    stage = next(s for s in upgrade_stages(catalog(), "2025.1", "2025.2", "ubuntu_noble", ALL_CHARTS)
                 if s.name == "rabbitmq-4.1")
    assert stage.pins == (("rabbitmq", (("rabbitmq", "docker.io/rabbitmq:4.1"),)),)


def test_a_ladder_with_unknown_versions_adds_nothing():
    ladder = Ladder("x", "c", "k", upgrade_knowledge().ladders[0].version, ("1.0", "1.1"), "x:{series}")
    assert ladder.steps("x:9.9", "x:1.1") == ()


@pytest.mark.parametrize("source,target", [("2025.1", "2025.2"), ("2025.1", "2026.1"), ("2025.2", "2026.1")])
def test_all_stages_done_gives_exactly_the_target_pins(source, target):
    stages = upgrade_stages(catalog(), source, target, "ubuntu_noble", ALL_CHARTS)
    done = tuple(stage.name for stage in stages)
    final = pins_during(catalog(), source, target, "ubuntu_noble", ALL_CHARTS, done)
    wanted = catalog().images(target, "ubuntu_noble")
    assert {chart: final[chart] for chart in ALL_CHARTS} == {chart: wanted[chart] for chart in ALL_CHARTS}
    assert pins_during(catalog(), source, target, "ubuntu_noble", ALL_CHARTS, ()) == catalog().images(source, "ubuntu_noble")


def test_disabled_services_have_no_stage(example_fleet):
    sites = fleet_sites(example_fleet)
    ostrava = next(s for s in sites if s.name == "prod-ostrava")
    assert "designate" not in deployed_charts(ostrava.site, catalog())
    names = [s.name for s in plan_upgrade(sites, catalog(), "2025.2").site("prod-ostrava").stages]
    assert "designate" not in names and "octavia" not in names and "keystone" in names


def site(name: str, profile: str | None, base: FleetSite) -> FleetSite:
    return FleetSite(name, profile, base.site)


def test_default_waves_one_site_at_a_time_non_production_first(example_fleet):
    base = fleet_sites(example_fleet)[0]
    sites = [site("a", "production", base), site("b", "lab", base), site("c", None, base), site("d", "production", base)]
    assert waves(sites, None) == (("b",), ("c",), ("a",), ("d",))


def test_configured_waves_take_sites_and_profiles_and_the_rest_follow(example_fleet):
    base = fleet_sites(example_fleet)[0]
    sites = [site("a", "production", base), site("b", "lab", base), site("c", None, base), site("d", "production", base)]
    assert waves(sites, [["c", "lab"], ["production"]]) == (("b", "c"), ("a", "d"))
    assert waves(sites, [["d"]]) == (("d",), ("b",), ("c",), ("a",))


def test_a_later_wave_waits_for_the_earlier_one(example_fleet):
    plan = plan_upgrade(fleet_sites(example_fleet), catalog(), "2025.2")
    assert may_start(plan, "prod-brno") is None
    assert "prod-brno not at 2025.2" in may_start(plan, "prod-ostrava")


def test_refusals_unknown_release_and_edge_not_in_graph(example_fleet):
    sites = fleet_sites(example_fleet)
    assert "unknown release '2031.1'" in plan_upgrade(sites, catalog(), "2031.1").refusals[0]
    refused = plan_upgrade(sites, catalog(), "2024.2")
    assert refused.refusals and all("does not downgrade" in why for why in refused.refusals)


def test_a_site_on_a_distro_the_target_lacks_gets_a_distro_step(example_fleet):
    edit(example_fleet, "beskar.yaml", "distro: ubuntu_noble", "distro: ubuntu_jammy")
    plan = plan_upgrade(fleet_sites(example_fleet), catalog(), "2025.2").site("prod-brno")
    assert plan.distro_step == "ubuntu_noble" and not plan.refusals and plan.stages


def test_mid_upgrade_to_another_release_is_refused(example_fleet):
    edit(example_fleet, "sites/prod-brno/site.yaml", "openstack:\n", 'openstack:\n  upgrade: {to: "2026.1", done: [mariadb]}\n')
    plan = plan_upgrade(fleet_sites(example_fleet), catalog(), "2025.2")
    assert "mid-upgrade to 2026.1" in plan.site("prod-brno").refusals[0]
    assert plan_upgrade(fleet_sites(example_fleet), catalog(), "2026.1").site("prod-brno").done == ("mariadb",)


def test_done_naming_an_unknown_stage_is_refused(example_fleet):
    edit(example_fleet, "sites/prod-brno/site.yaml", "openstack:\n", 'openstack:\n  upgrade: {to: "2025.2", done: [keystone, ceilometer]}\n')
    plan = plan_upgrade(fleet_sites(example_fleet), catalog(), "2025.2").site("prod-brno")
    assert "ceilometer" in plan.refusals[0]


# The live gate, over Flux objects as `kubectl get kustomizations,helmreleases -A -o json` returns them.
def condition(ready: str) -> dict:
    return {"type": "Ready", "status": ready, "reason": "UpgradeSucceeded" if ready == "True" else "Progressing",
            "message": "Helm upgrade succeeded" if ready == "True" else "Running 'upgrade' action",
            "lastTransitionTime": "2026-12-01T10:00:00Z"}


def helm_release(name: str, ready: str = "True", generation: int = 2, observed: int = 2,
                 attempted: str = "sha256:b2", deployed: str = "sha256:b2", stalled: bool = False) -> dict:
    conditions = [condition(ready)]
    if stalled:
        conditions.append({"type": "Stalled", "status": "True", "reason": "RetriesExceeded",
                           "message": "Failed to upgrade after 3 attempts", "lastTransitionTime": "2026-12-01T10:00:00Z"})
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": "openstack", "generation": generation},
            "spec": {"interval": "30m", "chart": {"spec": {"chart": f"./{name}", "sourceRef": {
                "kind": "GitRepository", "name": "openstack-helm", "namespace": "flux-system"}}}},
            "status": {"observedGeneration": observed, "conditions": conditions, "lastAttemptedRevision": "2026.1.0",
                       "lastAttemptedConfigDigest": attempted,
                       "history": [{"name": name, "namespace": "openstack", "version": 3, "status": "deployed",
                                    "chartName": name, "chartVersion": "2026.1.0", "configDigest": deployed,
                                    "digest": "sha256:d3", "firstDeployed": "2026-11-01T10:00:00Z",
                                    "lastDeployed": "2026-12-01T10:00:00Z"}]}}


def kustomization(attempted: str = "main@sha1:bb", applied: str = "main@sha1:bb") -> dict:
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "openstack", "namespace": "flux-system", "generation": 1},
            "spec": {"interval": "10m", "path": "./apps/prod-brno/03-openstack", "prune": True,
                     "sourceRef": {"kind": "GitRepository", "name": "fleet"}},
            "status": {"observedGeneration": 1, "conditions": [condition("True")],
                       "lastAttemptedRevision": attempted, "lastAppliedRevision": applied}}


def status_list(*items: dict) -> dict:
    for item in items:
        assert schema_errors(item) == [], schema_errors(item)  # documents the Flux CRDs' status schema allows
    return {"apiVersion": "v1", "kind": "List", "items": list(items)}


def test_gate_passes_when_every_object_is_ready_and_applied():
    document = status_list(kustomization(), helm_release("keystone"), helm_release("nova"))
    assert not_ready(document, ["keystone", "nova"], "openstack") == []


@pytest.mark.parametrize("changes,expected", [
    ({"ready": "False"}, "not Ready"),
    ({"observed": 1}, "latest generation"),
    ({"attempted": "sha256:c3"}, "not the deployed release"),
    ({"stalled": True, "ready": "False"}, "Stalled"),
])
def test_gate_refuses_a_release_not_done(changes, expected):
    reasons = not_ready(status_list(helm_release("keystone", **changes), helm_release("nova")), ["keystone", "nova"],
                        "openstack")
    assert reasons and all("keystone" in why for why in reasons) and any(expected in why for why in reasons)


def test_gate_refuses_while_the_commit_is_not_applied():
    reasons = not_ready(status_list(kustomization(attempted="main@sha1:cc"), helm_release("keystone")), ["keystone"],
                        "openstack")
    assert reasons == ["Kustomization openstack applied main@sha1:bb but attempts main@sha1:cc"]


def test_gate_refuses_a_release_missing_or_in_another_namespace():
    other = copy.deepcopy(helm_release("keystone"))
    other["metadata"]["namespace"] = "staging"
    assert "not in the status" in not_ready(status_list(other), ["keystone"], "openstack")[0]


def catalog_without(release: str, distro: str, chart: str):
    """The catalog with one images file lacking a chart's pins (no shipped release lacks any today)."""
    knowledge = catalog()
    pins = {name: keys for name, keys in knowledge.images(release, distro).items() if name != chart}
    return dataclasses.replace(knowledge, _images={f"{release}-{distro}": pins})


def test_a_target_without_pins_for_an_enabled_service_is_refused(example_fleet):
    knowledge = catalog_without("2025.2", "ubuntu_noble", "designate")
    plan = plan_upgrade(fleet_sites(example_fleet), knowledge, "2025.2")
    assert plan.site("prod-brno").refusals == ("the catalog has no 2025.2-ubuntu_noble pins for designate",)
    assert plan.site("prod-brno").stages == ()
    assert plan.site("prod-ostrava").refusals == ()  # designate is not enabled there: nothing is missing
