"""Model rules on hosts: MTU along each network, tunnel overhead, role counts, DNS names and unique hostnames."""

from __future__ import annotations

import re
from typing import Any, Iterator

from beskar.catalog import catalog
from beskar.check import settings
from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.check.rules_model_addresses import at
from beskar.fleet import LayeredSite
from beskar.model import Purpose, Role, Site
from beskar.model.base import DEFAULT_MTU
from beskar.model.links import Link, LinkKind, host_attachments, node_links

OVERHEAD = {"vxlan": 50, "geneve": 58}  # outer Ethernet + IP + UDP + VXLAN/Geneve headers (IPv4)
MINIMUM_TENANT_MTU = 1280  # IPv6 needs at least this on every link
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@rule("model/mtu-mismatch", Severity.ERROR, Scope.MODEL,
      "Every interface, bond and VLAN of a network agrees on its MTU: an untagged network's device has the "
      "network's MTU, a VLAN's parent at least that, bond members the bond's. A NIC or bond that sets no MTU gets "
      "the largest its networks need (as the netplan and the MAAS plan write it), so only a set MTU can be short.")
def mtu_mismatch(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    for node in site.nodes:
        links = node_links(site, node, catalog())
        for bond in links.of(LinkKind.BOND):
            for member in bond.members:
                nic = links.get(member)
                if nic is not None and nic.declared_mtu is not None and nic.declared_mtu != bond.mtu:
                    yield report("model/mtu-mismatch", f"{node.name}: {member} has MTU {nic.declared_mtu} but its "
                                 f"bond {bond.name} has {bond.mtu}{_derived(bond)}",
                                 **at(layered, "nodes", node.name, "interfaces", member, "mtu"), site=site.name)
        for attachment, network in host_attachments(site, node):
            device = links.get(attachment.device)
            if device is None:
                continue
            if network.vlan and network.mtu > device.mtu:
                message = (f"{node.name}: VLAN {network.vlan} of {network.name} needs MTU {network.mtu}, more than "
                           f"its parent {device.name} has ({device.mtu}{_derived(device)})")
            elif not network.vlan and network.mtu != device.mtu:
                message = (f"{node.name}: {network.name} (MTU {network.mtu}) is untagged on {device.name}, "
                           f"whose MTU is {device.mtu}{_derived(device)}")
            else:
                continue
            yield report("model/mtu-mismatch", message,
                         **at(layered, "nodes", node.name, "networks", attachment.name, "device"), site=site.name,
                         hint="make the network a VLAN (vlan:) on that device, or give the device the network's "
                              "MTU")


def _derived(link: Link) -> str:
    """How a device came by its MTU, when the fleet does not set it."""
    if not link.derived:
        return ""
    if link.needed_mtu <= DEFAULT_MTU:
        return ", as it sets none"
    return f", the largest of what it carries ({', '.join(link.networks)}), as it sets none"


def _override(site: Site, *path: str) -> tuple[Any, tuple[Any, ...]] | None:
    """A neutron setting given in openstack.neutron.conf (or values.conf), with its path in the site."""
    neutron = site.openstack.neutron
    for root, tree in ((("openstack", "neutron", "conf"), neutron.conf),
                       (("openstack", "neutron", "values", "conf"), neutron.values.get("conf") or {})):
        node: Any = tree
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, int) and not isinstance(node, bool):
            return node, root + path
    return None


@rule("model/tunnel-mtu", Severity.ERROR, Scope.MODEL,
      "Tenant overlays fit the tunnel network: its MTU leaves room for the encapsulation (VXLAN 50 bytes, Geneve "
      "58), and what remains is at least 1280.")
def tunnel_mtu(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    tunnel = site.network(Purpose.TUNNEL)
    if tunnel is None or not site.openstack.neutron.enabled:
        return
    kind = site.openstack.neutron.tunnel_type
    overhead = OVERHEAD[kind]
    physical, source = tunnel.mtu, ("networks", tunnel.name, "mtu")
    for setting in (("neutron", "DEFAULT", "global_physnet_mtu"), ("plugins", "ml2_conf", "ml2", "path_mtu")):
        found = _override(site, *setting)
        if found is None:
            continue
        if found[0] > tunnel.mtu:
            yield report("model/tunnel-mtu",
                         f"{setting[-1]} {found[0]} is above the tunnel network's MTU {tunnel.mtu}: {kind} packets "
                         f"of tenant networks ({found[0]} bytes) would not fit", **at(layered, *found[1]),
                         hint=f"leave it to Beskar (the tunnel network's MTU) or raise {tunnel.name}'s MTU",
                         site=site.name)
        elif found[0] < physical:
            physical, source = found
    if physical - overhead < MINIMUM_TENANT_MTU:
        yield report("model/tunnel-mtu",
                     f"tenant networks over {kind} on {tunnel.name} get MTU {physical} - {overhead} = "
                     f"{physical - overhead}, below IPv6's minimum of {MINIMUM_TENANT_MTU}", **at(layered, *source),
                     hint=f"the tunnel network needs an MTU of at least {MINIMUM_TENANT_MTU + overhead} (9000 is "
                          "usual)", site=site.name)


@rule("model/control-plane-count", Severity.ERROR, Scope.MODEL,
      "An odd number of control-plane nodes (etcd quorum), and at least 3 at a production profile.")
def control_plane_count(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    count = len(site.nodes_with(Role.CONTROL_PLANE))
    if count % 2 == 0:
        yield report("model/control-plane-count", f"{count} control-plane nodes: etcd needs an odd number, or "
                     "losing half of them stops the cluster", **at(layered, "nodes"), site=site.name,
                     hint="use 3 or 5 control-plane nodes")
    elif site.profile in settings.current().production_profiles and count < 3:
        yield report("model/control-plane-count", f"{count} control-plane node at the production profile "
                     f"{site.profile!r}: no node may fail", **at(layered, "nodes"), site=site.name,
                     hint="production sites need 3 or 5 control-plane nodes")


@rule("model/no-compute", Severity.ERROR, Scope.MODEL, "A site running nova has at least one compute node.")
def no_compute(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    if site.openstack.nova.enabled and not site.nodes_with(Role.COMPUTE):
        yield report("model/no-compute", "no node has the compute role: nova could start no instance",
                     **at(layered, "nodes"), site=site.name, hint="add `compute` to the roles of some nodes")


@rule("model/storage-nodes", Severity.ERROR, Scope.MODEL,
      "With internal Ceph, at least as many storage nodes as the replica count.")
def storage_nodes(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    count = len(site.nodes_with(Role.STORAGE))
    if site.ceph.mode == "internal" and count < site.ceph.replicas:
        yield report("model/storage-nodes", f"{count} storage nodes for Ceph replicas {site.ceph.replicas}: "
                     "Ceph cannot place every copy on its own host", **at(layered, "ceph", "replicas"),
                     site=site.name, hint="add storage nodes or lower ceph.replicas")


def dns_name_problem(name: str) -> str | None:
    """Why `name` is not a valid DNS name (lowercase labels of a-z, 0-9 and '-'), or None."""
    if len(name) > 253:
        return "longer than 253 characters"
    for label in name.rstrip(".").split("."):
        if not _LABEL.match(label):
            return f"label {label!r} is not a-z, 0-9 and inner '-' (at most 63)"
    return None


@rule("model/dns-name", Severity.ERROR, Scope.MODEL,
      "The site domain, public endpoint names and node FQDNs are valid DNS names.")
def dns_names(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    problem = dns_name_problem(site.domain)
    if problem:
        yield report("model/dns-name", f"domain {site.domain!r}: {problem}", **at(layered, "domain"), site=site.name)
        return
    for name in type(site.openstack).model_fields:
        service = getattr(site.openstack, name)
        public = getattr(service, "public_name", None)
        if public is not None and dns_name_problem(f"{public}.{site.domain}"):
            yield report("model/dns-name", f"public name {public!r} of {name}: "
                         f"{dns_name_problem(f'{public}.{site.domain}')}",
                         **at(layered, "openstack", name, "public_name"), site=site.name)
    for node in site.nodes:
        fqdn = f"{node.name}.{site.domain}"
        if len(fqdn) > 253:
            yield report("model/dns-name", f"{fqdn} is longer than 253 characters", **at(layered, "nodes", node.name),
                         site=site.name)
