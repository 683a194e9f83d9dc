"""Host check rules: labels the charts select on, flavor-family labels, netplan, and duplicates across the fleet."""

from __future__ import annotations

from pathlib import Path

import pytest

import beskar.check  # noqa: F401  (registers the rules)
from beskar.check.findings import RULES, Scope, Severity
from beskar.check.rules_hosts import (duplicate_bmc, duplicate_hostname, duplicate_ip, duplicate_mac,
                                      flavor_family_without_computes, netplan_invalid, node_label_unset,
                                      selected_labels, unlabelled_families)
from beskar.check.rules_hosts import helm_releases
from beskar.operations.compilation import compile_fleet


def pairs(root: Path):
    compiled = compile_fleet(root)
    return [(compiled.sites[name], compiled.fleet.sites[name]) for name in compiled.sites]


def rendered(root: Path, name: str):
    return compile_fleet(root).rendered[name]


def line_of(path: Path, text: str, occurrence: int = 1) -> int:
    lines = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return lines[occurrence - 1] if occurrence > 0 else lines[occurrence]


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def test_rules_are_registered_with_scope_and_severity():
    for rule_id, scope in [("model/node-label-unset", Scope.MODEL), ("model/flavor-family-without-computes",
                                                                     Scope.MODEL),
                           ("model/netplan-invalid", Scope.MODEL), ("fleet/duplicate-ip", Scope.FLEET),
                           ("fleet/duplicate-mac", Scope.FLEET), ("fleet/duplicate-hostname", Scope.FLEET),
                           ("fleet/duplicate-bmc", Scope.FLEET)]:
        assert RULES[rule_id].scope is scope and RULES[rule_id].severity is Severity.ERROR


def test_the_example_fleet_is_clean(example_fleet):
    sites = pairs(example_fleet)
    compiled = compile_fleet(example_fleet)
    for site, layered in sites:
        for check in (node_label_unset, flavor_family_without_computes):
            assert list(check(site, layered, compiled.rendered[site.name])) == [], check.__name__
        assert list(netplan_invalid(site, layered)) == []
    for check in (duplicate_ip, duplicate_mac, duplicate_hostname, duplicate_bmc):
        assert list(check(sites)) == [], check.__name__


def test_selected_labels_reads_openstack_helm_labels_node_selectors_and_affinity():
    releases = [{"kind": "HelmRelease", "metadata": {"name": "nova"}, "spec": {"values": {
        "labels": {"agent": {"compute": {"node_selector_key": "openstack-compute-node",
                                         "node_selector_value": "enabled"}}},
        "server": {"nodeSelector": {"openstack-control-plane": "enabled"}},
        "placement": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "ceph-osd", "operator": "In", "values": ["enabled"]}]}]}}}}}},
        {"kind": "HelmRelease", "metadata": {"name": "neutron"}, "spec": {"values": {"labels": {
            "sriov": {"node_selector_key": "sriov", "node_selector_value": "enabled"}}}}}]
    found = selected_labels(releases)
    assert found[("openstack-compute-node", "enabled")] == ["nova: values.labels.agent.compute"]
    assert ("openstack-control-plane", "enabled") in found and ("ceph-osd", "enabled") in found
    assert ("sriov", "enabled") not in found  # neutron's SR-IOV agent is off unless its manifest is on
    releases[1]["spec"]["values"]["manifests"] = {"daemonset_sriov_agent": True}
    assert ("sriov", "enabled") in selected_labels(releases)


def test_a_label_no_node_carries_is_an_error(example_fleet):
    site_file = example_fleet / "sites/prod-ostrava/site.yaml"
    # No node keeps the network role, so nobody carries the label neutron's agents select on.
    edit(site_file, "[control-plane, network, compute]", "[control-plane, compute]", count=3)
    site, layered = next(p for p in pairs(example_fleet) if p[0].name == "prod-ostrava")
    findings = list(node_label_unset(site, layered, rendered(example_fleet, "prod-ostrava")))
    messages = " | ".join(f.message for f in findings)
    assert "openstack-network-node=enabled" in messages
    assert all(f.file == "sites/prod-ostrava/site.yaml" and f.line == line_of(site_file, "nodes:") for f in findings)
    network = next(f for f in findings if "openstack-network-node" in f.message)
    assert network.hint == "add a node with role network" and network.site == "prod-ostrava"


def test_a_flavor_family_used_without_labelled_computes_is_found(example_fleet):
    site, _ = next(p for p in pairs(example_fleet) if p[0].name == "prod-ostrava")
    key = "beskar-flavor-family"
    nova = {"kind": "HelmRelease", "metadata": {"name": "nova"}, "spec": {"values": {"conf": {"overrides": {
        "nova_compute": {"labels": [{"label": {"key": key, "values": [family]}} for family in ("e1", "c3", "g2")]}}}}}}
    assert unlabelled_families(site, [nova]) == ["c3", "g2"]  # ostrava has e1 and c2 computes only


def test_the_rendered_nova_overrides_are_read(example_fleet):
    site, _ = next(p for p in pairs(example_fleet) if p[0].name == "prod-brno")
    found = selected_labels(helm_releases(rendered(example_fleet, site.name)))
    assert {v for (k, v) in found if k == "beskar-flavor-family"} == {"e1", "c2", "c3", "g2"}
    assert found[("beskar-flavor-family", "c3")] == ["nova: values.conf.overrides.nova_compute.labels.2.label"]


def test_flavor_families_without_hardware_at_a_site_are_not_an_error(example_fleet):
    # The fleet declares c3; ostrava has no c3 computes, renders no c3 override, and that is fine.
    site, layered = next(p for p in pairs(example_fleet) if p[0].name == "prod-ostrava")
    assert "c3" in {f.name for f in site.flavor_families}
    assert list(flavor_family_without_computes(site, layered, rendered(example_fleet, "prod-ostrava"))) == []


def test_a_vlan_mtu_above_its_bond_is_a_netplan_error(example_fleet):
    site_file = example_fleet / "sites/prod-ostrava/site.yaml"
    edit(site_file, "mode: active-backup, mtu: 9000}", "mode: active-backup, mtu: 1500}")
    site, layered = next(p for p in pairs(example_fleet) if p[0].name == "prod-ostrava")
    findings = list(netplan_invalid(site, layered))
    assert len(findings) == 8  # storage and tunnel VLANs on each of the four nodes
    assert "vlans.bond0.3203: MTU 9000 is above its parent bond0's MTU 1500" in findings[0].message
    assert findings[0].file == "sites/prod-ostrava/site.yaml"
    assert findings[0].line == line_of(site_file, "- name: ova-ctl-1")


@pytest.mark.parametrize("rule, site, old, new, expected", [
    (duplicate_mac, "prod-ostrava", '{name: eno2, mac: 3c:fd:fe:32:31:01}', '{name: eno2, mac: B8:CA:3A:16:00:32}',
     "MAC address b8:ca:3a:16:00:32 of site prod-ostrava is already used at sites/prod-brno/site.yaml:"),
    (duplicate_ip, "prod-ostrava", "{name: storage, device: bond0, address: 10.32.3.31}",
     "{name: storage, device: bond0, address: 10.16.3.32}",
     "IP address 10.16.3.32 of site prod-ostrava is already used at sites/prod-brno/site.yaml:"),
    (duplicate_bmc, "prod-brno", "bmc: {address: 10.15.0.33}", "bmc: {address: 10.15.0.32}",
     "BMC address 10.15.0.32 of site prod-brno is already used at sites/prod-brno/site.yaml:"),
    (duplicate_hostname, "prod-ostrava", "- name: ova-cmp-1", "- name: brno-cmp-1",
     "hostname brno-cmp-1 of site prod-ostrava is already used at sites/prod-brno/site.yaml:"),
])
def test_duplicates_across_the_fleet_are_errors_with_file_and_line(example_fleet, rule, site, old, new, expected):
    site_file = example_fleet / f"sites/{site}/site.yaml"
    edit(site_file, old, new)
    findings = list(rule(pairs(example_fleet)))
    assert len(findings) == 1, findings
    (finding,) = findings
    assert expected in finding.message
    assert finding.file == f"sites/{site}/site.yaml" and finding.site == site
    assert finding.line == line_of(site_file, new, occurrence=-1)
    first = int(finding.message.split("site.yaml:")[1].split(":")[0])
    assert first != finding.line or site == "prod-ostrava"


def test_a_bmc_on_a_host_address_is_an_error(example_fleet):
    # Without an out-of-band network the BMCs sit on the management network, where they can collide.
    site_file = example_fleet / "sites/prod-brno/site.yaml"
    edit(site_file, "  - name: oob\n    purpose: oob\n    cidr: 10.15.0.0/24\n"
         "    description: BMCs (IPMI), reached by the MAAS rack controller only\n", "")
    edit(site_file, "bmc: {address: 10.15.0.31}", "bmc: {address: 10.16.0.32}")
    findings = list(duplicate_bmc(pairs(example_fleet)))
    assert [f.message for f in findings] == ["BMC address 10.16.0.32 of site prod-brno is also a host address, "
                                             "API VIP or gateway"]
    assert findings[0].line == line_of(site_file, "bmc: {address: 10.16.0.32}")
