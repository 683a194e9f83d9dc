"""Cloud entities of a site: flavor names, desired records from the model, rules, import round trip, sections."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from beskar.operations import entities
from beskar.check.findings import RULES
from beskar.check.rules_entities import check_site
from beskar.fleet.sections import replace_section
from beskar.model.entities import Cloud
from beskar.model.flavors import FlavorName, FlavorNameError, parse_flavor_name
from beskar.plan.desired import desired_state
from beskar.plan.entities import plan
from beskar.plan.imported import import_cloud
from beskar.plan.resources import Kind, State


@pytest.mark.parametrize("name, expected", [
    ("c2.16core-30ram", FlavorName("c2", 16, 30720)),
    ("c3.8core-120ram-500edisk", FlavorName("c3", 8, 122880, ephemeral_gib=500)),
    ("e1.1core-0.5ram-10disk", FlavorName("e1", 1, 512, disk_gib=10)),
    ("c3.16core-64ram-pin-smt", FlavorName("c3", 16, 65536, pin=True, smt=True)),
    ("g2.32core-240ram-100disk-pin-2x-a100", FlavorName("g2", 32, 245760, disk_gib=100, pin=True, gpus=2, gpu="a100")),
])
def test_flavor_names_say_sizes_and_traits(name: str, expected: FlavorName) -> None:
    assert parse_flavor_name(name) == expected
    assert expected.render() == name


@pytest.mark.parametrize("name, reason", [
    ("c2-16core-30ram", "expected '<family>.' first"),
    ("C2.16core-30ram", "expected '<family>.' first"),
    ("c2.16core", "expected '<N>core-<M>ram'"),
    ("c2.16cores-30ram", "found '16cores'"),
    ("c2.16core-30gb", "the RAM in GiB like '16ram', found '30gb'"),
    ("c2.0core-30ram", "at least 1"),
    ("c2.2core-0.3ram", "whole number of MiB"),
    ("c2.2core-4ram-smt-pin", "'pin' is repeated or out of order"),
    ("c2.2core-4ram-10disk-20edisk", "'20edisk' is repeated or out of order"),
    ("c2.2core-4ram-1x", "must be followed by a GPU model"),
    ("c2.2core-4ram-fast", "unexpected part 'fast'"),
])
def test_bad_flavor_names_say_which_part_is_wrong(name: str, reason: str) -> None:
    with pytest.raises(FlavorNameError, match=reason.replace("(", r"\(").replace(")", r"\)")) as error:
        parse_flavor_name(name)
    assert repr(name) in str(error.value)


@given(st.builds(FlavorName, family=st.from_regex(r"[a-z][a-z0-9]{0,3}", fullmatch=True),
                 vcpus=st.integers(1, 256), ram_mib=st.integers(1, 4096).map(lambda n: n * 512),
                 disk_gib=st.integers(0, 2000), pin=st.booleans(), smt=st.booleans(), gpus=st.integers(0, 8),
                 gpu=st.sampled_from(["a100", "h100", "l4"])))
def test_render_and_parse_are_inverse(flavor: FlavorName) -> None:
    flavor = FlavorName(**{**flavor.__dict__, "gpu": flavor.gpu if flavor.gpus else None})
    assert parse_flavor_name(flavor.render()) == flavor


@pytest.fixture
def brno(example_fleet: Path):
    return entities.load_site(example_fleet, "prod-brno")


def test_flavor_specs_come_from_family_traits_and_name(brno) -> None:
    desired = desired_state(brno[0])
    specs = {r.key[0]: r.fields["extra_specs"] for r in desired.of_kind(Kind.FLAVOR)}
    assert specs["e1.1core-2ram"] == {"aggregate_instance_extra_specs:flavor": "e1", "quota:disk_total_iops_sec": "2000",
                                      "quota:vif_inbound_average": "62500", "quota:vif_outbound_average": "62500"}
    assert specs["c3.16core-64ram-smt"]["hw:cpu_thread_policy"] == "require"
    assert specs["c3.4core-16ram"]["hw:cpu_policy"] == "dedicated"  # the family's policy
    assert specs["g2.32core-240ram-2x-a100"]["pci_passthrough:alias"] == "a100:2"
    access = {r.key for r in desired.of_kind(Kind.FLAVOR_ACCESS)}
    assert ("g2.16core-120ram-1x-a100", "Default", "ml-research") in access


def test_aggregates_hold_each_family_s_compute_nodes(brno) -> None:
    desired = desired_state(brno[0])
    hosts = sorted(r.key for r in desired.of_kind(Kind.AGGREGATE_HOST))
    assert hosts == [("c2", "brno-cmp-2"), ("c3", "brno-cmp-3"), ("e1", "brno-cmp-1"), ("g2", "brno-gpu-1")]
    assert desired.get(Kind.AGGREGATE, ("g2",)).fields["metadata"] == {"flavor": "g2"}


def test_the_external_network_is_the_site_s_provider_network(brno) -> None:
    desired = desired_state(brno[0])
    network = desired.get(Kind.NETWORK, ("public",)).fields
    assert (network["external"], network["network_type"], network["physical_network"], network["segmentation_id"],
            network["mtu"]) == (True, "vlan", "external", 2506, 9000)
    subnet = desired.get(Kind.SUBNET, ("public", "public-v4")).fields
    assert (subnet["cidr"], subnet["gateway"], subnet["dhcp"], subnet["pools"]) == \
        ("192.0.2.0/24", "192.0.2.1", False, ("192.0.2.20-192.0.2.250",))


def test_the_example_fleet_passes_the_entity_rules(example_fleet: Path) -> None:
    sites = [entities.load_site(example_fleet, name) for name in ("prod-brno", "prod-ostrava")]
    assert [f for site, layered in sites for f in check_site(site, layered)] == []
    assert list(RULES["fleet/public-pool-overlap"].run(sites)) == []


def _edited(root: Path, old: str, new: str, site: str = "prod-brno"):
    path = root / f"sites/{site}/site.yaml"
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    return entities.load_site(root, site)


@pytest.mark.parametrize("old, new, rule, words", [
    ("{name: c3.4core-16ram}", "{name: c3.4core-16ram, vcpus: 8}", "model/flavor-name", "sets vcpus: 8, its name says 4"),
    ("{name: c3.4core-16ram}", "{name: c3.4core-16ram-2x-a100}", "model/flavor-name", "no PCI alias"),
    ("{name: c3.4core-16ram}", "{name: c2.4core-16ram-smt}", "model/flavor-name", "only applies to dedicated"),
    ("gpus: {a100: 4}", "gpus: {a100: 1}", "model/flavor-name", "needs 2 x a100"),
    ("flavor_family: g2", "flavor_family: c2", "model/flavor-family", "no compute node of family 'g2'"),
    ("flavors: [c3.8core-120ram-500edisk,", "flavors: [c3.8core-999ram,", "model/flavor-access", "does not declare"),
    ("flavors: [c3.8core-120ram-500edisk,", "flavors: [c3.4core-16ram,", "model/flavor-access", "which is public"),
    ("routers: 2, ports: 100", "routers: 2, ports: 25", "model/quota-sanity", "ports 25 < 3 x routers (2) + instances (20)"),
    ("volumes: 40,", "volumes: 4,", "model/quota-sanity", "volumes 4 < instances (20)"),
    ("routers: 1, ports: 60,", "ports: 60,", "model/quota-sanity", "without an explicit router quota"),
    ("contacts: [webmaster@example.org]", "contacts: [webmaster@example]", "model/project-identity", "not an e-mail"),
    ("  - name: web-hosting\n", "  - name: ML-Research\n", "model/project-identity", "collide in domain Default"),
    ("    subnet: public-v4\n", "    subnet: public-v4\n    vlan: 2507\n", "model/external-network",
     "vlan 2507 differs from site network public (2506)"),
    ("    subnet: public-v4\n", "    subnet: public-v4\n    mtu: 9100\n", "model/external-network", "exceeds the MTU"),
    ("{start: 192.0.2.20, end: 192.0.2.250}", "{start: 192.0.2.1, end: 192.0.2.250}", "model/pool-overlap",
     "contains 192.0.2.1, the address of the gateway of public"),  # planning refuses on the pool rules too
    ("    network: public\n", "    network: tunnel\n", "model/external-network", "purpose tunnel, not provider"),
    ("interfaces: [shared-v4]}", "interfaces: [shared-v6]}", "model/router-interface", "subnet 'shared-v6'"),
])
def test_entity_rules_find_what_is_wrong_and_where(example_fleet: Path, old: str, new: str, rule: str,
                                                   words: str) -> None:
    site, layered = _edited(example_fleet, old, new)
    findings = check_site(site, layered)
    matching = [f for f in findings if f.rule == rule and words in f.message]
    assert matching, findings
    assert matching[0].file in ("sites/prod-brno/site.yaml", "beskar.yaml") and matching[0].line > 1


def test_public_pools_must_not_overlap_across_the_fleet(example_fleet: Path) -> None:
    brno = entities.load_site(example_fleet, "prod-brno")
    _edited(example_fleet, "cidr: 198.51.100.0/24\n    gateway: 198.51.100.1", "cidr: 192.0.2.0/24\n    gateway: 192.0.2.1",
            "prod-ostrava")
    ostrava = _edited(example_fleet, "{start: 198.51.100.10, end: 198.51.100.200}",
                      "{start: 192.0.2.200, end: 192.0.2.220}", "prod-ostrava")
    [finding] = RULES["fleet/public-pool-overlap"].run([brno, ostrava])
    assert "192.0.2.200-192.0.2.220 of prod-ostrava overlaps 192.0.2.20-192.0.2.250 of prod-brno" in finding.message
    assert finding.file == "sites/prod-ostrava/site.yaml"


def test_import_writes_what_plans_as_no_change(brno) -> None:
    site, _ = brno
    desired = desired_state(site)
    nodes = {n.name for n in site.nodes}
    imported = import_cloud(site, State.of(desired.resources.values(), nodes))
    assert imported.warnings == ()
    cloud = yaml.safe_load(yaml.safe_dump(imported.cloud))  # what lands in the file
    again = site.model_copy(update={"cloud": Cloud.model_validate(cloud)})
    assert plan(desired_state(again), State.of(desired.resources.values(), nodes)).steps == ()
    assert {"name": "c3.8core-120ram-500edisk", "public": False, "projects": ["ml-research"]} in cloud["flavors"]
    assert {"name": "c2.16core-30ram"} in cloud["flavors"]  # specs and sizes follow from family and name
    assert "aggregates" not in cloud  # the family aggregates are computed, nothing to override


def test_import_writes_legacy_flavors_with_their_sizes(brno) -> None:
    site, _ = brno
    from beskar.plan.resources import Resource

    legacy = Resource(Kind.FLAVOR, ("m1.large",), {"vcpus": 4, "ram": 8192, "disk": 80, "ephemeral": 0, "swap": 0,
                                                    "public": True, "description": "", "extra_specs": {"x": "1"}})
    imported = import_cloud(site, State.of([legacy], set()))
    assert imported.cloud["flavors"] == [{"name": "m1.large", "vcpus": 4, "ram": 8192, "disk": 80, "ephemeral": 0,
                                          "extra_specs": {"x": "1"}}]


def test_a_section_is_replaced_in_place_keeping_other_lines() -> None:
    text = "# head\nname: x\ncloud:\n  old: 1\n  # inner\n\n# about nodes\nnodes: []\n"
    assert replace_section(text, "cloud", "cloud:\n  new: 2\n") == \
        "# head\nname: x\ncloud:\n  new: 2\n\n# about nodes\nnodes: []\n"
    assert replace_section("name: x", "cloud", "cloud: {}\n") == "name: x\ncloud: {}\n"


def test_gpu_families_render_their_pci_aliases_into_nova(example_fleet: Path) -> None:
    from beskar.operations import compilation

    compiled = compilation.compile_fleet(example_fleet)
    nova = {site: next(docs[0] for path, docs in rendered.tree.files.items() if path.endswith("-nova.yaml"))
            for site, rendered in compiled.rendered.items()}
    assert nova["prod-brno"]["spec"]["values"]["conf"]["nova"]["pci"]["alias"] == {"type": "multistring", "values": [
        '{"name": "a100", "vendor_id": "10de", "product_id": "20b5", "device_type": "type-PF"}']}
    assert "pci" not in nova["prod-ostrava"]["spec"]["values"]["conf"]["nova"]  # no GPU computes there
