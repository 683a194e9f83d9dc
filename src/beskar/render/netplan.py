"""A node's complete netplan (version 2, networkd) from its site, and the structural rules netplan enforces."""

from __future__ import annotations

import ipaddress
from typing import Any

from beskar.catalog import Catalog
from beskar.model import Node, Purpose, Site
from beskar.model.base import DEFAULT_MTU
from beskar.model.links import Bonding, Link, LinkKind, host_attachments, l3_device, node_links

MAX_NAME = 15  # IFNAMSIZ - 1: the kernel refuses longer interface names
# Policy-routing tables for non-management networks with a gateway: 100 + the network's position.
TABLE_BASE = 100
BOND_MODES = ("802.3ad", "active-backup", "balance-rr", "balance-xor", "balance-tlb", "balance-alb", "broadcast")
_SECTIONS_OF = {LinkKind.ETHERNET: "ethernets", LinkKind.BOND: "bonds", LinkKind.VLAN: "vlans",
                LinkKind.BRIDGE: "bridges"}


def management_device(site: Site, node: Node) -> str | None:
    management = site.network(Purpose.MANAGEMENT)
    attachment = next((a for a in node.networks if management and a.name == management.name), None)
    return l3_device(attachment, management) if attachment and management else None


def bond_parameters(bonding: Bonding) -> dict[str, Any]:
    """A bond's netplan `parameters`: its mode and the catalog's options for it, in netplan's key names."""
    options = {key.replace("_", "-"): value for key, value in vars(bonding.options).items() if value is not None}
    parameters: dict[str, Any] = {"mode": bonding.mode, **dict(sorted(options.items()))}
    if bonding.primary is not None:
        parameters["primary"] = bonding.primary
    return parameters


def _device(link: Link) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if link.kind is LinkKind.ETHERNET and link.mac:
        config["match"] = {"macaddress": link.mac}
        config["set-name"] = link.name
    if link.kind is LinkKind.VLAN:
        config.update(id=link.vlan, link=link.parent)
    if link.kind in (LinkKind.BOND, LinkKind.BRIDGE):
        config["interfaces"] = list(link.members)
    if link.bonding is not None:
        config["parameters"] = bond_parameters(link.bonding)
    config["mtu"] = link.mtu
    return config


def netplan(site: Site, node: Node, catalog: Catalog) -> dict[str, Any]:
    """The node's whole netplan document: every NIC, bond, VLAN and bridge, with addresses, routes and MTU."""
    tables = {n.name: TABLE_BASE + i for i, n in enumerate(site.networks)}
    sections: dict[str, dict[str, dict[str, Any]]] = {"ethernets": {}, "bonds": {}, "vlans": {}, "bridges": {}}
    for link in node_links(site, node, catalog):
        sections[_SECTIONS_OF[link.kind]][link.name] = _device(link)
    layer3: dict[str, dict[str, Any]] = {}
    for attachment, network in host_attachments(site, node):
        if attachment.address is None or network.purpose is Purpose.PROVIDER:
            continue  # provider networks belong to OVS (auto_bridge_add); the host only brings up the trunk
        device = l3_device(attachment, network)
        config = layer3.setdefault(device, {})
        config.setdefault("addresses", []).append(f"{attachment.address}/{network.cidr.prefixlen}")
        if network.purpose is Purpose.MANAGEMENT:
            if network.gateway is not None:
                config.setdefault("routes", []).append({"to": "default", "via": str(network.gateway)})
            if site.hosts.dns_servers or site.hosts.search_domains:
                config["nameservers"] = {"addresses": [str(a) for a in site.hosts.dns_servers],
                                         "search": list(site.hosts.search_domains)}
        elif network.gateway is not None:
            # Replies leave through the network they came in on, not the management default route.
            table = tables[network.name]
            config.setdefault("routes", []).append({"to": "default", "via": str(network.gateway), "table": table})
            config.setdefault("routing-policy", []).append({"from": str(network.cidr), "table": table})

    for device, config in layer3.items():
        for section in ("bridges", "vlans", "bonds", "ethernets"):
            if device in sections[section]:
                sections[section][device].update(config)
                break
    for section in sections.values():
        for config in section.values():
            config.setdefault("dhcp4", False)
            config.setdefault("dhcp6", False)
            config.setdefault("accept-ra", False)
        for bridge in sections["bridges"].values():
            bridge.setdefault("parameters", {"stp": False, "forward-delay": 0})
    document: dict[str, Any] = {"version": 2, "renderer": "networkd"}
    for name, section in sections.items():
        if section:
            document[name] = {device: _ordered(section[device]) for device in sorted(section)}
    return {"network": document}


_KEY_ORDER = ("match", "set-name", "id", "link", "interfaces", "parameters", "mtu", "dhcp4", "dhcp6", "accept-ra",
              "addresses", "routes", "routing-policy", "nameservers")


def _ordered(config: dict[str, Any]) -> dict[str, Any]:
    return {key: config[key] for key in sorted(config, key=lambda k: (_KEY_ORDER.index(k) if k in _KEY_ORDER
                                                                       else len(_KEY_ORDER), k))}


_SECTIONS = ("ethernets", "bonds", "vlans", "bridges")
_DEVICE_KEYS = {"match", "set-name", "id", "link", "interfaces", "parameters", "mtu", "dhcp4", "dhcp6", "accept-ra",
                "addresses", "routes", "routing-policy", "nameservers", "macaddress", "optional", "link-local"}


def netplan_problems(document: Any) -> list[str]:
    """Every way a netplan document breaks netplan's structure (empty when it is valid)."""
    problems: list[str] = []
    network = document.get("network") if isinstance(document, dict) else None
    if not isinstance(network, dict) or set(document) != {"network"}:
        return ["a netplan document is a mapping with the single key 'network'"]
    if network.get("version") != 2:
        problems.append(f"network.version is {network.get('version')!r}; netplan reads version 2 only")
    unknown = set(network) - {"version", "renderer", *_SECTIONS}
    problems += [f"network.{key}: not a netplan section" for key in sorted(unknown)]
    devices = {section: dict(network.get(section) or {}) for section in _SECTIONS}
    mtu = {name: config.get("mtu", DEFAULT_MTU) for section in devices.values() for name, config in section.items()}
    seen: dict[str, str] = {}
    for section, entries in devices.items():
        for name, config in entries.items():
            where = f"{section}.{name}"
            if name in seen:
                problems.append(f"{where}: also defined in {seen[name]}")
            seen[name] = section
            if len(name) > MAX_NAME:
                problems.append(f"{where}: interface names are at most {MAX_NAME} characters")
            problems += [f"{where}.{key}: not a netplan device key" for key in sorted(set(config) - _DEVICE_KEYS)]
            if not isinstance(config.get("mtu", DEFAULT_MTU), int) or not 576 <= config.get("mtu", DEFAULT_MTU) <= 9216:
                problems.append(f"{where}.mtu: {config.get('mtu')!r} is not an MTU (576 to 9216)")
            for address in config.get("addresses", []):
                try:
                    ipaddress.ip_interface(address)
                    if "/" not in str(address):
                        raise ValueError
                except ValueError:
                    problems.append(f"{where}.addresses: {address!r} is not ADDRESS/PREFIX")
    enslaved: dict[str, str] = {}
    for kind in ("bonds", "bridges"):
        for name, config in devices[kind].items():
            ports = config.get("interfaces") or []
            if kind == "bonds" and not ports:
                problems.append(f"bonds.{name}: a bond needs member interfaces")
            allowed = ("ethernets",) if kind == "bonds" else ("ethernets", "bonds", "vlans")
            for port in ports:
                if not any(port in devices[s] for s in allowed):
                    problems.append(f"{kind}.{name}: member {port!r} is not defined in {' or '.join(allowed)}")
                elif port in enslaved:
                    problems.append(f"{kind}.{name}: member {port!r} already belongs to {enslaved[port]}")
                else:
                    enslaved[port] = f"{kind}.{name}"
                if port in mtu and mtu[port] < mtu.get(name, DEFAULT_MTU) and kind == "bridges":
                    problems.append(f"bridges.{name}: MTU {mtu[name]} is above its port {port}'s MTU {mtu[port]}")
            if kind == "bonds":
                mode = (config.get("parameters") or {}).get("mode")
                if mode not in BOND_MODES:
                    problems.append(f"bonds.{name}.parameters.mode: {mode!r} is not a bond mode ({', '.join(BOND_MODES)})")
    for name, config in devices["vlans"].items():
        vid, link = config.get("id"), config.get("link")
        if not isinstance(vid, int) or isinstance(vid, bool) or not 1 <= vid <= 4094:
            problems.append(f"vlans.{name}.id: {vid!r} is not a VLAN id (1 to 4094)")
        if link not in devices["ethernets"] and link not in devices["bonds"]:
            problems.append(f"vlans.{name}.link: {link!r} is not an ethernet or bond of this netplan")
        elif mtu[name] > mtu[link]:
            problems.append(f"vlans.{name}: MTU {mtu[name]} is above its parent {link}'s MTU {mtu[link]}")
    for port, owner in enslaved.items():
        config = next((devices[s][port] for s in _SECTIONS if port in devices[s]), {})
        if config.get("addresses") and owner.startswith("bonds"):
            problems.append(f"{port}: a bond member cannot carry addresses (it is in {owner})")
    return problems
