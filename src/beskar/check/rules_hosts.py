"""Rules below Kubernetes: node labels the charts select on, flavor-family labels, netplan, fleet-wide duplicates."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Iterator

from beskar.catalog import catalog
from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.fleet import LayeredSite
from beskar.model import Purpose, Role, Site
from beskar.render.site import RenderedSite
from beskar.render.kubespray import node_labels
from beskar.render.netplan import netplan, netplan_problems

Label = tuple[str, str]


def selected_labels(documents: Iterable[Any]) -> dict[Label, list[str]]:
    """(key, value) -> "HelmRelease name: values path" for every node label a HelmRelease selects on."""
    found: dict[Label, list[str]] = defaultdict(list)

    def walk(node: Any, parts: list[str], release: str) -> None:
        # The path is joined only where a label is found: most of a release's values select nothing.
        if isinstance(node, dict):
            key, value = node.get("node_selector_key"), node.get("node_selector_value")
            if isinstance(key, str) and isinstance(value, str):  # openstack-helm labels.<group>
                found[(key, value)].append(f"{release}: {'.'.join(parts)}")
            selector = node.get("nodeSelector")
            if isinstance(selector, dict):
                for k, v in selector.items():
                    found[(str(k), str(v))].append(f"{release}: {'.'.join(parts)}.nodeSelector")
            if node.get("operator") == "In" and isinstance(node.get("key"), str):  # nodeAffinity expressions
                for v in node.get("values") or []:
                    found[(node["key"], str(v))].append(f"{release}: {'.'.join(parts)}")
            label = node.get("label")
            if isinstance(label, dict) and isinstance(label.get("key"), str):  # openstack-helm daemonset overrides
                for v in label.get("values") or []:
                    found[(label["key"], str(v))].append(f"{release}: {'.'.join(parts)}.label")
            for k, child in node.items():
                if isinstance(child, (dict, list)):
                    parts.append(str(k))
                    walk(child, parts, release)
                    parts.pop()
        elif isinstance(node, list):
            for i, child in enumerate(node):
                if isinstance(child, (dict, list)):
                    parts.append(str(i))
                    walk(child, parts, release)
                    parts.pop()

    optional = catalog().node_labels.get("optional_groups", {})
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "HelmRelease":
            name = document["metadata"]["name"]
            values = dict(document.get("spec", {}).get("values", {}))
            manifests = values.get("manifests") or {}
            off = {group for group, manifest in optional.get(name, {}).items() if manifests.get(manifest) is not True}
            if off:  # pods that do not run select no node
                values["labels"] = {g: v for g, v in (values.get("labels") or {}).items() if g not in off}
            walk(values, ["values"], name)
    return dict(found)


def helm_releases(rendered: RenderedSite) -> list[Any]:
    """The documents the site's apps/ tree holds (the rules read what the render writes)."""
    return [d for path, docs in sorted(rendered.tree.files.items()) if path.startswith("apps/") for d in docs]


def _roles_giving(label: Label) -> list[str]:
    return sorted(role for role, labels in catalog().node_labels["roles"].items() if labels.get(label[0]) == label[1])


def absence_reported(site: Site) -> set[str]:
    """Roles no node has where a rule of their own says so (model/no-compute, model/storage-nodes)."""
    reported = set()
    if site.openstack.nova.enabled and not site.nodes_with(Role.COMPUTE):
        reported.add(Role.COMPUTE.value)
    if site.ceph.mode == "internal" and not site.nodes_with(Role.STORAGE) and site.ceph.replicas > 0:
        reported.add(Role.STORAGE.value)
    return reported


@rule("model/node-label-unset", Severity.ERROR, Scope.MODEL,
      "a HelmRelease selects nodes by a label that no node of the site carries")
def node_label_unset(site: Site, layered: LayeredSite, rendered: RenderedSite) -> Iterator[Finding]:
    carried = {item for node in site.nodes for item in node_labels(node, catalog()).items()}
    origin = layered.origin(("nodes",))
    elsewhere = absence_reported(site)
    family_key = catalog().node_labels["flavor_family_label"]  # model/flavor-family-without-computes' labels
    for label, readers in sorted(selected_labels(helm_releases(rendered)).items()):
        roles = _roles_giving(label)
        if label in carried or label[0] == family_key or (roles and set(roles) <= elsewhere):
            continue  # a rule of its own already reports what these labels would say again
        hint = (f"add a node with role {' or '.join(roles)}" if roles
                else "no role sets this label (catalog node_labels.yaml); its pods would never schedule")
        yield report("model/node-label-unset",
                     f"{readers[0]} selects {label[0]}={label[1]}, which no node of {site.name} carries"
                     + (f" (and {len(readers) - 1} more)" if len(readers) > 1 else ""),
                     file=origin.file, line=origin.line, hint=hint, site=site.name)


def unlabelled_families(site: Site, releases: Iterable[Any]) -> list[str]:
    """Flavor families a HelmRelease selects on (nova's per-family overrides) that no compute node carries."""
    key = catalog().node_labels["flavor_family_label"]
    labelled = {node_labels(n, catalog()).get(key) for n in site.nodes if n.has(Role.COMPUTE)}
    return sorted(value for (k, value) in selected_labels(releases) if k == key and value not in labelled)


@rule("model/flavor-family-without-computes", Severity.ERROR, Scope.MODEL,
      "a flavor family is used but no compute node is labelled with it, so its flavors cannot be scheduled")
def flavor_family_without_computes(site: Site, layered: LayeredSite, rendered: RenderedSite) -> Iterator[Finding]:
    # A family the fleet declares but a site has no hardware for is fine; one the site's releases use is not.
    # No computes at all is model/no-compute's finding; a family with flavors, model/flavor-family's (per flavor).
    if Role.COMPUTE.value in absence_reported(site):
        return
    flavored = {flavor.sizes().family for flavor in site.cloud.flavors}
    key = catalog().node_labels["flavor_family_label"]
    for family in unlabelled_families(site, helm_releases(rendered)):
        if family in flavored:
            continue
        origin = layered.origin(("flavor_families", family))
        yield report("model/flavor-family-without-computes",
                     f"flavor family {family!r} is used but no compute node of {site.name} is labelled "
                     f"{key}={family}", file=origin.file, line=origin.line, site=site.name,
                     hint=f"set flavor_family: {family} on a compute node")


@rule("model/netplan-invalid", Severity.ERROR, Scope.MODEL,
      "a node's generated netplan breaks netplan's rules (VLAN ids, MTU above the parent's, bond members)")
def netplan_invalid(site: Site, layered: LayeredSite, rendered: RenderedSite | None = None) -> Iterator[Finding]:
    for node in site.nodes:
        origin = layered.origin(("nodes", node.name))
        for problem in netplan_problems(_rendered_netplan(site, node, rendered)):
            yield report("model/netplan-invalid", f"netplan of {node.name}: {problem}", file=origin.file,
                         line=origin.line, site=site.name)


def _rendered_netplan(site: Site, node: Any, rendered: RenderedSite | None) -> Any:
    """The netplan the render wrote into the node's host_vars (the same `netplan(site, node, catalog)`), else made
    again: the rule judges what the hosts get."""
    documents = (rendered.tree.files.get(f"inventory/{site.name}/hosts/host_vars/{node.name}.yaml")
                 if rendered is not None else None) or [None]
    written = documents[0].get("netplan_config") if isinstance(documents[0], dict) else None
    return written if written is not None else netplan(site, node, catalog())


def _duplicates(rule_id: str, what: str, sites: list[tuple[Site, LayeredSite]],
                collect, across_sites_only: bool = False) -> Iterator[Finding]:
    """One finding per later place that repeats a value first seen elsewhere (same file:line counts once)."""
    seen: dict[str, tuple[str, Any]] = {}
    reported: set[tuple[str, str, int]] = set()
    for site, layered in sites:
        for value, path in collect(site):
            origin = layered.origin(path)
            first = seen.setdefault(value, (site.name, origin))
            if first[0] == site.name and (first[1] == origin or across_sites_only):
                continue
            where = f"{first[1]} (site {first[0]})"
            key = (value, origin.file, origin.line)
            if key in reported:
                continue
            reported.add(key)
            yield report(rule_id, f"{what} {value} of site {site.name} is already used at {where}",
                         file=origin.file, line=origin.line, site=site.name)


def _addresses(site: Site):
    for node in site.nodes:
        for attachment in node.networks:
            if attachment.address is not None:
                yield str(attachment.address), ("nodes", node.name, "networks", attachment.name, "address")
    yield str(site.kubernetes.api_vip), ("kubernetes", "api_vip")
    for network in site.networks:
        if network.gateway is not None and network.purpose is not Purpose.OOB:
            yield str(network.gateway), ("networks", network.name, "gateway")


def _macs(site: Site):
    for node in site.nodes:
        for interface in node.interfaces:
            if interface.mac:
                yield interface.mac, ("nodes", node.name, "interfaces", interface.name, "mac")


def _hostnames(site: Site):
    for node in site.nodes:
        yield node.name, ("nodes", node.name, "name")


def _bmcs(site: Site):
    for node in site.nodes:
        if node.bmc is not None:
            yield str(node.bmc.address), ("nodes", node.name, "bmc", "address")


@rule("fleet/duplicate-ip", Severity.ERROR, Scope.FLEET,
      "an IP address (node, API VIP or gateway) of one site is used again by another site of the fleet")
def duplicate_ip(sites: list[tuple[Site, LayeredSite]]) -> Iterator[Finding]:
    # Twice within one site is model/duplicate-address's finding; reporting it here too would say it twice.
    yield from _duplicates("fleet/duplicate-ip", "IP address", sites, _addresses, across_sites_only=True)


@rule("fleet/duplicate-mac", Severity.ERROR, Scope.FLEET, "a MAC address is declared twice in the fleet")
def duplicate_mac(sites: list[tuple[Site, LayeredSite]]) -> Iterator[Finding]:
    yield from _duplicates("fleet/duplicate-mac", "MAC address", sites, _macs)


@rule("fleet/duplicate-hostname", Severity.ERROR, Scope.FLEET,
      "two nodes of the fleet share a hostname (MAAS and DNS need them unique)")
def duplicate_hostname(sites: list[tuple[Site, LayeredSite]]) -> Iterator[Finding]:
    yield from _duplicates("fleet/duplicate-hostname", "hostname", sites, _hostnames)


@rule("fleet/duplicate-bmc", Severity.ERROR, Scope.FLEET,
      "two machines share a BMC address, or a BMC uses a node's or VIP's address")
def duplicate_bmc(sites: list[tuple[Site, LayeredSite]]) -> Iterator[Finding]:
    yield from _duplicates("fleet/duplicate-bmc", "BMC address", sites,
                           lambda site: list(_bmcs(site)))
    hosts = {value for site, _ in sites for value, _ in _addresses(site)}
    for site, layered in sites:
        for value, path in _bmcs(site):
            if value in hosts:
                origin = layered.origin(path)
                yield report("fleet/duplicate-bmc", f"BMC address {value} of site {site.name} is also a host "
                             "address, API VIP or gateway", file=origin.file, line=origin.line, site=site.name)
