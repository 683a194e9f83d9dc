"""The MAAS machine plan of a site: which machines MAAS installs, how, and how they meet Ansible afterwards."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from beskar.catalog import Catalog
from beskar.model import Node, Purpose, Site
from beskar.model.base import DEFAULT_MTU
from beskar.model.links import Bonding, Link, LinkKind, NodeLinks, node_links, vlan_device
from beskar.model.machines import boot_mac
from beskar.tree import Tree

ARCHITECTURE = "amd64/generic"
FACTS_FILE = "/etc/ansible/facts.d/beskar.fact"


@dataclass(frozen=True)
class PlannedInterface:
    """An interface MAAS configures before deploy: the NICs, and the bond/VLAN that carry the management address."""

    name: str
    type: str  # physical, bond or vlan, as MAAS names interface types
    mac: str | None = None
    parents: tuple[str, ...] = ()
    vlan: int | None = None
    mtu: int | None = None
    bonding: Bonding | None = None
    subnet: str | None = None  # CIDR of the subnet linked with a static address
    address: str | None = None

    @property
    def bond_mode(self) -> str | None:
        return self.bonding.mode if self.bonding else None

    def document(self) -> dict[str, Any]:
        keys = ("name", "type", "mac", "parents", "vlan", "mtu", "bond_mode", "subnet", "address")
        values = {key: getattr(self, key) for key in keys}
        values["parents"] = list(self.parents)
        return {key: value for key, value in values.items() if value not in (None, [])}


@dataclass(frozen=True)
class PlannedMachine:
    hostname: str
    power_type: str
    power_address: str | None
    power_user: str | None
    password_key: str | None
    boot_mac: str | None
    tags: tuple[str, ...]
    storage_layout: str
    root_device: str | None
    root_size_gib: int | None
    interfaces: tuple[PlannedInterface, ...]
    user_data: dict[str, Any] = field(compare=False)
    architecture: str = ARCHITECTURE

    def document(self) -> dict[str, Any]:
        power: dict[str, Any] = {"type": self.power_type}
        if self.power_address:
            power.update(address=self.power_address, user=self.power_user, password_key=self.password_key)
        storage = {"layout": self.storage_layout, "root_device": self.root_device, "root_size_gib": self.root_size_gib}
        return {
            "hostname": self.hostname, "architecture": self.architecture, "power": power,
            "boot_mac": self.boot_mac, "tags": list(self.tags),
            "storage": {k: v for k, v in storage.items() if v is not None},
            "interfaces": [i.document() for i in self.interfaces],
            "user_data": self.user_data,
        }


@dataclass(frozen=True)
class MachinePlan:
    site: str
    os_series: str
    machines: tuple[PlannedMachine, ...]

    def machine(self, hostname: str) -> PlannedMachine | None:
        return next((m for m in self.machines if m.hostname == hostname), None)

    def document(self) -> dict[str, Any]:
        return {"site": self.site, "os_series": self.os_series, "machines": [m.document() for m in self.machines]}


def tags(site: Site, node: Node) -> tuple[str, ...]:
    """MAAS tags: the site, each role, the flavor family and the rack (tag names allow a-z, 0-9, - and _)."""
    found = ["beskar", f"site-{site.name}", *(f"role-{role.value}" for role in node.roles)]
    if node.flavor_family:
        found.append(f"flavor-{node.flavor_family}")
    if node.rack:
        found.append(f"rack-{node.rack}")
    return tuple(sorted(found))


def maas_mtu(link: Link | None, links: NodeLinks) -> int | None:
    """The MTU MAAS is told for a link: its effective one (the netplan's), unless nobody asked for it: the
    default, or a bond member's derived MTU (the kernel gives members the bond's)."""
    if link is None or link.declared_mtu is None and (
            link.mtu == DEFAULT_MTU or link.master is not None and links.get(link.master).kind is LinkKind.BOND):
        return None
    return link.mtu


def deploy_interfaces(site: Site, node: Node, links: NodeLinks) -> tuple[PlannedInterface, ...]:
    """Every NIC (by MAC), plus the bond and VLAN that carry the management address with it."""
    management = site.network(Purpose.MANAGEMENT)
    attachment = next((a for a in node.networks if management and a.name == management.name), None)
    planned = [PlannedInterface(i.name, "physical", mac=i.mac, mtu=maas_mtu(links.get(i.name), links))
               for i in node.interfaces]
    if attachment is None or management is None:
        return tuple(planned)
    carrier = attachment.device
    bond = links.get(carrier)
    if bond is not None and bond.bonding is not None:
        planned.append(PlannedInterface(bond.name, "bond", parents=bond.members, mtu=maas_mtu(bond, links),
                                        bonding=bond.bonding))
    vlan = vlan_device(attachment, management)
    if vlan is not None:
        planned.append(PlannedInterface(vlan, "vlan", parents=(carrier,), vlan=management.vlan,
                                        mtu=maas_mtu(links.get(vlan), links)))
        carrier = vlan
    address = str(attachment.address) if attachment.address else None
    planned = [replace(p, subnet=str(management.cidr), address=address) if p.name == carrier else p
               for p in planned]
    return tuple(planned)


def user_data(site: Site, node: Node) -> dict[str, Any]:
    """cloud-init user-data: lets Ansible in and registers the host as a local fact the playbook checks."""
    facts = {"site": site.name, "node": node.name, "roles": [role.value for role in node.roles]}
    data: dict[str, Any] = {
        "ssh_authorized_keys": [key.key for key in site.hosts.ssh_keys],
        "packages": ["python3"],
        "write_files": [{"path": FACTS_FILE, "permissions": "0644", "owner": "root:root",
                         "content": json.dumps(facts, sort_keys=True) + "\n"}],
    }
    if site.hosts.ntp_servers:
        data["ntp"] = {"enabled": True, "servers": list(site.hosts.ntp_servers)}
    return data


def machine_plan(site: Site, catalog: Catalog) -> MachinePlan:
    machines = []
    for node in site.nodes:
        bmc = node.bmc
        machines.append(PlannedMachine(
            hostname=node.name,
            power_type=bmc.power_type.value if bmc else "manual",
            power_address=str(bmc.address) if bmc else None,
            power_user=bmc.user if bmc else None,
            password_key=bmc.secret_key(node.name) if bmc else None,
            boot_mac=boot_mac(node),
            tags=tags(site, node),
            storage_layout=node.disks.layout,
            root_device=node.disks.root_device,
            root_size_gib=node.disks.root_size_gib,
            interfaces=deploy_interfaces(site, node, node_links(site, node, catalog)),
            user_data=user_data(site, node),
        ))
    return MachinePlan(site.name, site.hosts.os_series, tuple(machines))


def render_maas(site: Site, catalog: Catalog, source: str) -> Tree:
    tree = Tree()
    tree.add(f"inventory/{site.name}/maas.yaml", [machine_plan(site, catalog).document()], source)
    return tree

