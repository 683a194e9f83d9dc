"""Model rules on addresses: node addresses and the VIP inside their networks and unique, allocation pools sane.

Gateways outside their CIDR and overlapping CIDRs (host networks, pod and service CIDRs) make a site unusable,
so model validation rejects them before any rule runs (exit 2, with file and line).
"""

from __future__ import annotations

from typing import Any, Iterator

from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.fleet import LayeredSite
from beskar.model import Purpose, Site


def at(layered: LayeredSite, *path: Any) -> dict[str, Any]:
    """`file=` and `line=` of the layer that set `path` of the site (or its nearest ancestor)."""
    origin = layered.origin(tuple(path))
    return {"file": origin.file, "line": origin.line} if origin else {}


def _addresses(site: Site) -> Iterator[tuple[str, Any, tuple[Any, ...], str | None]]:
    """(what, address, path, network name) of every address the site assigns."""
    yield "the Kubernetes API VIP", site.kubernetes.api_vip, ("kubernetes", "api_vip"), None
    for network in site.networks:
        if network.gateway is not None:
            yield f"the gateway of {network.name}", network.gateway, ("networks", network.name, "gateway"), None
    for node in site.nodes:
        for attachment in node.networks:
            if attachment.address is not None:
                yield (f"{node.name} on {attachment.name}", attachment.address,
                       ("nodes", node.name, "networks", attachment.name, "address"), attachment.name)


@rule("model/address-outside-cidr", Severity.ERROR, Scope.MODEL,
      "Every node address lies inside its network's CIDR, and the Kubernetes API VIP inside the management "
      "network.")
def addresses_outside(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    networks = {n.name: n for n in site.networks}
    for what, address, path, network_name in _addresses(site):
        network = networks.get(network_name) if network_name else None
        if network is not None and address not in network.cidr:
            yield report("model/address-outside-cidr", f"address {address} of {what} is outside {network.cidr}",
                         **at(layered, *path), hint=f"pick an address of {network.cidr}", site=site.name)
    management = site.network(Purpose.MANAGEMENT)
    vip = site.kubernetes.api_vip
    if management is not None and vip not in management.cidr:
        yield report("model/address-outside-cidr",
                     f"the Kubernetes API VIP {vip} is outside the management network {management.cidr}",
                     **at(layered, "kubernetes", "api_vip"),
                     hint="kube-vip announces the VIP by ARP on the management network", site=site.name)


@rule("model/duplicate-address", Severity.ERROR, Scope.MODEL,
      "No address is assigned twice in a site (node addresses, gateways, the API VIP).")
def duplicate_addresses(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    first: dict[Any, tuple[str, tuple[Any, ...]]] = {}
    for what, address, path, _ in _addresses(site):
        if address not in first:
            first[address] = (what, path)
            continue
        other, other_path = first[address]
        origin = layered.origin(other_path)
        yield report("model/duplicate-address", f"address {address} of {what} is also {other}'s",
                     **at(layered, *path), hint=f"{other} is set at {origin.file}:{origin.line}", site=site.name)


def _pools(site: Site) -> Iterator[tuple[Any, int, Any, Any]]:
    for network in site.networks:
        for index, pool in enumerate(network.pools):
            yield network, index, pool.start, pool.end


@rule("model/pool-outside-cidr", Severity.ERROR, Scope.MODEL,
      "Every allocation pool lies inside its network's CIDR and starts before it ends.")
def pools_outside(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    for network, index, start, end in _pools(site):
        where = at(layered, "networks", network.name, "pools", index)
        if start.version != network.cidr.version or start not in network.cidr or end not in network.cidr:
            yield report("model/pool-outside-cidr", f"pool {start}-{end} of {network.name} is not inside "
                         f"{network.cidr}", **where, site=site.name)
        elif int(start) > int(end):
            yield report("model/pool-outside-cidr", f"pool {start}-{end} of {network.name} ends before it starts",
                         **where, site=site.name)


def _overlap(a: tuple[Any, Any], b: tuple[Any, Any]) -> bool:
    return a[0].version == b[0].version and int(a[0]) <= int(b[1]) and int(b[0]) <= int(a[1])


@rule("model/pool-overlap", Severity.ERROR, Scope.MODEL,
      "Allocation pools overlap neither each other nor the gateway, the VIP or node addresses of the site.")
def pools_overlapping(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    pools = list(_pools(site))
    for position, (network, index, start, end) in enumerate(pools):
        where = at(layered, "networks", network.name, "pools", index)
        for other, other_index, other_start, other_end in pools[:position]:
            if _overlap((start, end), (other_start, other_end)):
                yield report("model/pool-overlap", f"pool {start}-{end} of {network.name} overlaps pool "
                             f"{other_start}-{other_end} of {other.name}", **where, site=site.name)
        for what, address, _, _ in _addresses(site):
            if address.version == start.version and int(start) <= int(address) <= int(end):
                yield report("model/pool-overlap", f"pool {start}-{end} of {network.name} contains {address}, "
                             f"the address of {what}", **where, site=site.name,
                             hint="neutron would hand that address out as a floating IP")


@rule("fleet/public-pool-overlap", Severity.ERROR, Scope.FLEET,
      "Public (provider network) allocation pools of different sites do not overlap.")
def public_pools(sites: list[tuple[Site, LayeredSite]]) -> Iterator[Finding]:
    seen: list[tuple[Site, Any, Any, Any]] = []
    for site, layered in sorted(sites, key=lambda s: s[0].name):
        for network, index, start, end in _pools(site):
            if network.purpose != Purpose.PROVIDER:
                continue
            for other_site, other, other_start, other_end in seen:
                if other_site.name != site.name and _overlap((start, end), (other_start, other_end)):
                    yield report("fleet/public-pool-overlap",
                                 f"public pool {start}-{end} of {site.name} overlaps {other_start}-{other_end} of "
                                 f"{other_site.name} ({other.name})", **at(layered, "networks", network.name,
                                                                          "pools", index), site=site.name,
                                 hint="each public address may belong to one cloud only")
            seen.append((site, network, start, end))
