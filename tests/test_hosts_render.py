"""Below Kubernetes: the Kubespray, host and MAAS inventories the example fleet renders, read by the real engines."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from beskar.catalog import catalog
from beskar.fleet.examples import write_example
from beskar.model import Purpose, Role
from beskar.model.machines import kernel_of
from beskar.operations.compilation import compile_fleet, render_fleet
from beskar.render.netplan import netplan, netplan_problems

ROLE_GROUPS = {Role.CONTROL_PLANE: "control_plane", Role.COMPUTE: "compute", Role.NETWORK: "network",
               Role.STORAGE: "storage"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("hosts") / "fleet"
    write_example(root)
    compiled, _ = render_fleet(root)
    return root, compiled


def inventory_list(path: Path) -> dict:
    assert shutil.which("ansible-inventory"), "ansible-inventory is installed by `pip install -e .[test]`"
    env = {**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true", "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run(["ansible-inventory", "-i", str(path), "--list"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "[WARNING]" not in done.stderr, done.stderr
    return json.loads(done.stdout)


def hosts_of(listing: dict, group: str) -> set[str]:
    entry = listing.get(group, {})
    found = set(entry.get("hosts", []))
    for child in entry.get("children", []):
        found |= hosts_of(listing, child)
    return found


@pytest.mark.parametrize("site_name", ["prod-brno", "prod-ostrava"])
def test_kubespray_inventory_matches_the_model(rendered, site_name):
    root, compiled = rendered
    site = compiled.sites[site_name]
    listing = inventory_list(root / f"inventory/{site_name}/kubespray/hosts.yaml")
    control_plane = {n.name for n in site.nodes_with(Role.CONTROL_PLANE)}
    everyone = {n.name for n in site.nodes}
    assert hosts_of(listing, "kube_control_plane") == control_plane
    assert hosts_of(listing, "etcd") == control_plane
    assert hosts_of(listing, "kube_node") == everyone
    assert hosts_of(listing, "k8s_cluster") == everyone
    labels = catalog().node_labels
    management = site.network(Purpose.MANAGEMENT).name
    for node in site.nodes:
        variables = listing["_meta"]["hostvars"][node.name]
        address = str(node.address_on(management))
        assert (variables["ansible_host"], variables["ip"], variables["access_ip"]) == (address, address, address)
        expected = {}
        for role in node.roles:
            expected.update(labels["roles"][role.value])
        if node.flavor_family:
            expected[labels["flavor_family_label"]] = node.flavor_family
        if node.rack:
            expected["topology.rook.io/rack"] = node.rack
        assert variables["node_labels"] == expected, node.name
        # group_vars next to hosts.yaml reach every host, as Kubespray reads them
        assert variables["kube_version"] == site.kubernetes.version.removeprefix("v")
        assert variables["kube_pods_subnet"] == str(site.kubernetes.pod_cidr)
        assert variables["kube_service_addresses"] == str(site.kubernetes.service_cidr)
        assert variables["kube_network_plugin"] == site.kubernetes.network_plugin
        assert variables["kube_proxy_mode"] == site.kubernetes.proxy_mode
        assert variables["kube_vip_address"] == str(site.kubernetes.api_vip)
        assert variables["loadbalancer_apiserver"] == {"address": str(site.kubernetes.api_vip), "port": 6443}
        assert str(site.kubernetes.api_vip) in variables["supplementary_addresses_in_ssl_keys"]
        assert variables["kube_proxy_strict_arp"] is True and variables["helm_enabled"] is True
        if node.name in control_plane:
            assert variables["kube_vip_interface"] in netplan(site, node, catalog())["network"].get("bridges", {}) | \
                netplan(site, node, catalog())["network"].get("bonds", {}) | netplan(site, node, catalog())["network"]["ethernets"]


@pytest.mark.parametrize("site_name", ["prod-brno", "prod-ostrava"])
def test_hosts_inventory_matches_the_model(rendered, site_name):
    root, compiled = rendered
    site = compiled.sites[site_name]
    listing = inventory_list(root / f"inventory/{site_name}/hosts/inventory.yaml")
    for role, group in ROLE_GROUPS.items():
        assert hosts_of(listing, group) == {n.name for n in site.nodes_with(role)}, group
    for family in {n.flavor_family for n in site.nodes if n.flavor_family}:
        assert hosts_of(listing, f"flavor_{family}") == {n.name for n in site.nodes if n.flavor_family == family}
    for node in site.nodes:
        variables = listing["_meta"]["hostvars"][node.name]
        assert variables["beskar_site"] == site_name and variables["beskar_node"] == node.name
        assert variables["netplan_config"] == netplan(site, node, catalog())
        kernel = kernel_of(site, node)
        assert variables["hugepages_kernel_args"] == (kernel.cmdline() if kernel else [])
        if node.has(Role.COMPUTE):
            assert "hugepages=64" in variables["hugepages_kernel_args"]
            assert "intel_iommu=on" in variables["hugepages_kernel_args"]
        assert variables["time_sync_servers"] == site.hosts.ntp_servers
        assert variables["ssh_keys_authorized"] == [k.key for k in site.hosts.ssh_keys]
        assert set(site.hosts.packages) <= set(variables["packages_present"])
        for key, value in site.hosts.sysctl.items():  # the site wins over its roles' defaults
            assert variables["sysctl_settings"][key] == value


def _all_netplans(compiled):
    for site in compiled.sites.values():
        for node in site.nodes:
            yield site, node, netplan(site, node, catalog())


def test_generated_netplans_are_valid(rendered, tmp_path):
    _, compiled = rendered
    for site, node, document in _all_netplans(compiled):
        assert netplan_problems(document) == [], node.name
        network = document["network"]
        assert network["version"] == 2
        for bond in network.get("bonds", {}).values():
            assert set(bond["interfaces"]) <= set(network["ethernets"])
            assert bond["parameters"]["mode"] in ("802.3ad", "active-backup")
        for vlan in network.get("vlans", {}).values():
            assert 1 <= vlan["id"] <= 4094
            parent = network.get("bonds", {}).get(vlan["link"]) or network["ethernets"][vlan["link"]]
            assert vlan["mtu"] <= parent["mtu"]
        if shutil.which("netplan"):  # the real parser, as the hosts run it (.ci/run installs netplan.io)
            target = tmp_path / node.name
            (target / "etc/netplan").mkdir(parents=True)
            path = target / "etc/netplan/60-beskar.yaml"
            path.write_text(yaml.safe_dump(document))
            path.chmod(0o600)
            done = subprocess.run(["netplan", "generate", "--root-dir", str(target)], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            assert any((target / "run/systemd/network").iterdir())


def test_netplan_of_brno_control_plane(rendered):
    _, compiled = rendered
    site = compiled.sites["prod-brno"]
    network = netplan(site, next(n for n in site.nodes if n.name == "brno-ctl-1"), catalog())["network"]
    assert network["bonds"]["bond0"]["interfaces"] == ["ens1f0", "ens1f1"]
    assert network["bonds"]["bond0"]["parameters"]["mode"] == "802.3ad"
    assert network["bonds"]["bond0"]["mtu"] == 9000
    assert network["ethernets"]["eno1"]["mtu"] == 1500  # management NIC stays at 1500
    assert network["ethernets"]["ens1f0"]["match"] == {"macaddress": "b8:59:9f:16:11:00"}
    assert network["vlans"]["bond0.2503"] == {"id": 2503, "link": "bond0", "mtu": 9000, "dhcp4": False,
                                              "dhcp6": False, "accept-ra": False, "addresses": ["10.16.3.21/24"]}
    assert "bond0.2506" not in network["vlans"]  # the provider VLAN is tagged by OVS on the bond
    bridge = network["bridges"]["br-mgmt"]
    assert bridge["interfaces"] == ["eno1"] and bridge["addresses"] == ["10.16.0.11/24"]
    assert bridge["routes"] == [{"to": "default", "via": "10.16.0.1"}]
    assert bridge["nameservers"] == {"addresses": ["10.16.0.2", "10.16.0.3"], "search": ["brno.cloud.example.org"]}


@pytest.mark.parametrize("breakage, expected", [
    (lambda n: n["vlans"]["bond0.2503"].update(id=4095), "vlans.bond0.2503.id: 4095 is not a VLAN id"),
    (lambda n: n["vlans"]["bond0.2503"].update(id=0), "vlans.bond0.2503.id: 0 is not a VLAN id"),
    (lambda n: n["bonds"]["bond0"].update(mtu=1500), "vlans.bond0.2503: MTU 9000 is above its parent bond0's MTU 1500"),
    (lambda n: n["bonds"]["bond0"]["interfaces"].append("ens9"), "bonds.bond0: member 'ens9' is not defined"),
    (lambda n: n["bonds"]["bond0"]["parameters"].update(mode="lacp"), "'lacp' is not a bond mode"),
    (lambda n: n["vlans"]["bond0.2503"].update(link="bond7"), "'bond7' is not an ethernet or bond"),
    (lambda n: n.update(version=1), "netplan reads version 2 only"),
    (lambda n: n["bridges"]["br-mgmt"]["interfaces"].append("ens1f0"), "'ens1f0' already belongs to bonds.bond0"),
    (lambda n: n["vlans"].update({"bond0.2503-storage": {"id": 5, "link": "bond0"}}), "at most 15 characters"),
])
def test_netplan_problems_catch_each_breakage(rendered, breakage, expected):
    _, compiled = rendered
    site = compiled.sites["prod-brno"]
    document = copy.deepcopy(netplan(site, next(n for n in site.nodes if n.name == "brno-ctl-1"), catalog()))
    assert netplan_problems(document) == []
    breakage(document["network"])
    assert any(expected in problem for problem in netplan_problems(document)), netplan_problems(document)


def test_policy_routing_for_networks_with_a_gateway(example_fleet):
    path = example_fleet / "sites/prod-brno/site.yaml"
    path.write_text(path.read_text().replace("    cidr: 10.16.3.0/24\n", "    cidr: 10.16.3.0/24\n    gateway: 10.16.3.1\n"))
    site = compile_fleet(example_fleet, ["prod-brno"]).sites["prod-brno"]
    vlan = netplan(site, site.nodes[0], catalog())["network"]["vlans"]["bond0.2503"]
    table = vlan["routes"][0]["table"]
    assert vlan["routes"] == [{"to": "default", "via": "10.16.3.1", "table": table}]
    assert vlan["routing-policy"] == [{"from": "10.16.3.0/24", "table": table}]


def test_maas_plan_file(rendered):
    root, compiled = rendered
    plan = yaml.safe_load((root / "inventory/prod-brno/maas.yaml").read_text())
    assert plan["site"] == "prod-brno" and plan["os_series"] == "jammy"
    machines = {m["hostname"]: m for m in plan["machines"]}
    assert set(machines) == {n.name for n in compiled.sites["prod-brno"].nodes}
    cmp2 = machines["brno-cmp-2"]
    assert cmp2["power"] == {"type": "ipmi", "address": "10.15.0.32", "user": "maas",
                             "password_key": "bmc.brno-cmp-2.password"}
    assert cmp2["boot_mac"] == "b8:ca:3a:16:00:32"
    assert cmp2["tags"] == ["beskar", "flavor-c2", "rack-r2", "role-compute", "site-prod-brno"]
    assert cmp2["storage"] == {"layout": "lvm", "root_device": "sda", "root_size_gib": 120}
    eno1 = next(i for i in cmp2["interfaces"] if i["name"] == "eno1")
    assert eno1 == {"name": "eno1", "type": "physical", "mac": "b8:ca:3a:16:00:32", "subnet": "10.16.0.0/24",
                    "address": "10.16.0.32"}
    (fact,) = cmp2["user_data"]["write_files"]
    assert fact["path"] == "/etc/ansible/facts.d/beskar.fact"
    assert json.loads(fact["content"]) == {"site": "prod-brno", "node": "brno-cmp-2", "roles": ["compute"]}
    # the plan names where the BMC password is, never the password
    assert {k for m in plan["machines"] for k in m["power"]} <= {"type", "address", "user", "password_key"}


def test_inventory_is_owned_and_rerenders_to_the_same_bytes(rendered, tmp_path):
    root, compiled = rendered
    assert "inventory/prod-brno" in compiled.owned_prefixes()
    first = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "inventory").rglob("*"))
             if p.is_file()}
    assert all(content.startswith(b"# Generated by beskar") for content in first.values())
    again = tmp_path / "again"
    write_example(again)
    render_fleet(again)
    second = {p.relative_to(again).as_posix(): p.read_bytes() for p in sorted((again / "inventory").rglob("*"))
              if p.is_file()}
    assert first == second
    # a node removed from the site loses its host_vars file; hand-written files stay
    (again / "inventory/prod-brno/hosts/host_vars/local.yaml").write_text("ntp_extra: true\n")
    site = again / "sites/prod-brno/site.yaml"
    text = site.read_text()
    site.write_text(text[:text.index("  - name: brno-cmp-3")])
    render_fleet(again)
    assert not (again / "inventory/prod-brno/hosts/host_vars/brno-cmp-3.yaml").exists()
    assert (again / "inventory/prod-brno/hosts/host_vars/local.yaml").exists()
