"""A node's links as the host will have them: every NIC, bond, VLAN and bridge with its effective MTU.

The one answer the netplan, the MAAS plan and the checks read. A device whose MTU the fleet sets keeps it;
a NIC or bond without one gets the largest MTU of what it carries (its VLANs, bridges and untagged
networks; a bond's members get the bond's), and never less than Linux's default.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Iterator

from beskar.catalog import BondOptions, Catalog
from beskar.model.base import DEFAULT_MTU, Purpose
from beskar.model.site import Attachment, Network, Node, Site


class LinkKind(StrEnum):
    ETHERNET = "ethernet"
    BOND = "bond"
    VLAN = "vlan"
    BRIDGE = "bridge"


@dataclass(frozen=True)
class Bonding:
    """A bond's mode and options: the catalog's options for the mode, and the primary of active-backup."""

    mode: str
    options: BondOptions
    primary: str | None = None


@dataclass(frozen=True)
class Link:
    """One device of a node, after derivation."""

    name: str
    kind: LinkKind
    mtu: int  # effective: what the device gets on the host
    declared_mtu: int | None  # what the fleet sets (a VLAN's and a bridge's: their networks'); None: derived
    needed_mtu: int  # the largest MTU of what it carries (Linux's default when it carries nothing)
    networks: tuple[str, ...] = ()  # the site networks whose frames cross this device
    parent: str | None = None  # a VLAN's link
    vlan: int | None = None
    members: tuple[str, ...] = ()  # a bond's NICs, a bridge's ports
    master: str | None = None  # the bond or bridge this device is a port of
    mac: str | None = None
    bonding: Bonding | None = None

    @property
    def derived(self) -> bool:
        return self.declared_mtu is None


@dataclass(frozen=True)
class NodeLinks:
    """Every link of one node, by name; ordered NICs, bonds, VLANs, bridges as the node declares them."""

    node: str
    links: tuple[Link, ...]

    def get(self, name: str) -> Link | None:
        return next((link for link in self.links if link.name == name), None)

    def of(self, kind: LinkKind) -> tuple[Link, ...]:
        return tuple(link for link in self.links if link.kind is kind)

    def __iter__(self) -> Iterator[Link]:
        return iter(self.links)


def vlan_device(attachment: Attachment, network: Network) -> str | None:
    """The VLAN interface the host creates for a tagged network (provider VLANs are tagged by OVS instead)."""
    if network.vlan is None or network.purpose is Purpose.PROVIDER:
        return None
    return f"{attachment.device}.{network.vlan}"


def l3_device(attachment: Attachment, network: Network) -> str:
    """The interface that carries the node's address on a network: bridge, else VLAN, else the device."""
    return attachment.bridge or vlan_device(attachment, network) or attachment.device


def host_attachments(site: Site, node: Node) -> Iterator[tuple[Attachment, Network]]:
    """The node's attachments to networks the host itself is on (the out-of-band network is its BMC's)."""
    networks = {n.name: n for n in site.networks}
    for attachment in node.networks:
        network = networks.get(attachment.name)
        if network is not None and network.purpose is not Purpose.OOB:
            yield attachment, network


def node_links(site: Site, node: Node, catalog: Catalog) -> NodeLinks:
    """Derive the node's links once: structure, carried networks, bonding and effective MTUs."""
    needs: dict[str, int] = {}
    carried: dict[str, list[str]] = {}
    vlans: dict[str, tuple[Attachment, Network]] = {}
    bridges: dict[str, list[str]] = {}  # bridge -> its ports
    bridge_mtus: dict[str, int] = {}
    masters: dict[str, str] = {}

    def carry(device: str, network: Network) -> None:
        needs[device] = max(needs.get(device, DEFAULT_MTU), network.mtu)
        if network.name not in carried.setdefault(device, []):
            carried[device].append(network.name)

    for attachment, network in host_attachments(site, node):
        carry(attachment.device, network)
        vlan = vlan_device(attachment, network)
        if vlan is not None:
            vlans.setdefault(vlan, (attachment, network))
            carry(vlan, network)
        if attachment.bridge:
            port = vlan or attachment.device
            ports = bridges.setdefault(attachment.bridge, [])
            if port not in ports:
                ports.append(port)
            masters.setdefault(port, attachment.bridge)
            bridge_mtus[attachment.bridge] = max(bridge_mtus.get(attachment.bridge, 0), network.mtu)
            carry(attachment.bridge, network)

    links: list[Link] = []
    bond_mtus: dict[str, int] = {}
    bonds = {}
    for bond in node.bonds:
        bond_mtus[bond.name] = bond.mtu or needs.get(bond.name, DEFAULT_MTU)
        bonds[bond.name] = Link(
            bond.name, LinkKind.BOND, bond_mtus[bond.name], bond.mtu, needs.get(bond.name, DEFAULT_MTU),
            tuple(carried.get(bond.name, ())), members=tuple(bond.interfaces), master=masters.get(bond.name),
            bonding=Bonding(bond.mode, catalog.bond_options(bond.mode),
                            bond.interfaces[0] if bond.mode == "active-backup" else None))
    members = {m: bond for bond in node.bonds for m in bond.interfaces}
    for interface in node.interfaces:
        bond = members.get(interface.name)
        need = bond_mtus[bond.name] if bond else needs.get(interface.name, DEFAULT_MTU)
        links.append(Link(
            interface.name, LinkKind.ETHERNET, interface.mtu or need, interface.mtu, need,
            tuple(carried.get(bond.name if bond else interface.name, ())),
            master=bond.name if bond else masters.get(interface.name), mac=interface.mac))
    links += bonds.values()
    for name, (attachment, network) in vlans.items():
        links.append(Link(name, LinkKind.VLAN, network.mtu, network.mtu, network.mtu, tuple(carried[name]),
                          parent=attachment.device, vlan=network.vlan, master=masters.get(name)))
    for name, ports in bridges.items():
        mtu = bridge_mtus[name]
        links.append(Link(name, LinkKind.BRIDGE, mtu, mtu, mtu, tuple(carried[name]), members=tuple(ports)))
    return NodeLinks(node.name, tuple(links))


def site_links(site: Site, catalog: Catalog) -> dict[str, NodeLinks]:
    """node name -> its links, for every node of the site."""
    return {node.name: node_links(site, node, catalog) for node in site.nodes}
