"""Observed cloud entities written back as a site's `cloud:` section, the least that plans as no change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beskar.model.entities import Flavor
from beskar.model.flavors import FlavorNameError, parse_flavor_name
from beskar.model.site import Role, Site
from beskar.plan.desired import DEFAULT_DOMAIN, external_network, family_aggregate, flavor_extra_specs
from beskar.plan.resources import RULES, Kind, Resource, State


@dataclass(frozen=True)
class Imported:
    cloud: dict[str, Any]  # the `cloud:` section
    warnings: tuple[str, ...]  # what the section cannot express


def _selected(observed: State, include_unmanaged: bool) -> list[Resource]:
    chosen: list[Resource] = []
    keep: set = set()
    for resource in observed.resources.values():
        rules = RULES[resource.kind]
        if rules.relation:
            if resource.parent_ref in keep:
                chosen.append(resource)
        elif resource.managed or include_unmanaged:
            chosen.append(resource)
            keep.add(resource.ref)
    return chosen


def _put(target: dict[str, Any], key: str, value: Any, default: Any) -> None:
    if value != default:
        target[key] = value


def import_cloud(site: Site, observed: State, include_unmanaged: bool = False) -> Imported:
    """The `cloud:` section that declares what `observed` holds (Beskar's resources, or all with
    include_unmanaged), given the site's families and nodes, which stay as they are."""
    chosen = _selected(observed, include_unmanaged)
    by_kind: dict[Kind, list[Resource]] = {}
    for resource in chosen:
        by_kind.setdefault(resource.kind, []).append(resource)
    warnings: list[str] = []
    cloud: dict[str, Any] = {}
    if site.cloud.credentials:
        cloud["credentials"] = site.cloud.credentials
    _put(cloud, "domains", [_plain({"name": d.key[0]}, d.fields, {"description": "", "enabled": True})
                            for d in by_kind.get(Kind.DOMAIN, [])], [])
    _put(cloud, "groups", [_plain({"name": g.key[1], "domain": g.key[0]}, g.fields, {"description": ""},
                                  {"domain": DEFAULT_DOMAIN}) for g in by_kind.get(Kind.GROUP, [])], [])
    _put(cloud, "projects", _projects(by_kind, site), [])
    _put(cloud, "flavors", _flavors(by_kind, site, warnings), [])
    _put(cloud, "aggregates", _aggregates(by_kind, site, observed, warnings), [])
    _networks(cloud, by_kind, site, warnings)
    rules: dict[str, dict[str, Any]] = {}
    for rule in by_kind.get(Kind.RULE, []):
        entry = {"name": rule.key[2], **{k: v for k, v in rule.fields.items() if v is not None}}
        if rules.setdefault(rule.key[2], entry) != entry:
            warnings.append(f"security group rule {rule.key[2]} differs between projects; kept the first")
    _put(cloud, "default_security_group_rules", [_rule(r) for _, r in sorted(rules.items())], [])
    images = []
    for image in by_kind.get(Kind.IMAGE, []):
        if not image.fields.get("url"):
            warnings.append(f"image {image.key[0]} has no source URL Beskar knows; not imported")
            continue
        entry = _plain({"name": image.key[0]}, image.fields,
                       {"sha256": None, "disk_format": "qcow2", "container_format": "bare", "visibility": "public",
                        "min_disk": 0, "min_ram": 0, "properties": {}})
        entry.pop("status", None)
        images.append(entry)
    _put(cloud, "images", images, [])
    return Imported(cloud, tuple(warnings))


def _plain(head: dict[str, Any], fields: Any, defaults: dict[str, Any], omit: dict[str, Any] | None = None) -> dict:
    """head + every field that differs from its default, as plain YAML values."""
    entry = dict(head)
    for key, value in fields.items():
        value = list(value) if isinstance(value, tuple) else value
        default = defaults.get(key)
        if value != default and not (isinstance(default, (list, dict)) and not value):
            entry[key] = value
    for key, default in (omit or {}).items():
        if entry.get(key) == default:
            del entry[key]
    return entry


def _projects(by_kind: dict[Kind, list[Resource]], site: Site) -> list[dict[str, Any]]:
    declared = {p.name: p for p in site.cloud.projects}
    projects = []
    for project in by_kind.get(Kind.PROJECT, []):
        domain, name = project.key
        entry = _plain({"name": name, "domain": domain}, project.fields,
                       {"description": "", "enabled": True, "parent": None, "tags": [], "contacts": [],
                        "properties": {}}, {"domain": DEFAULT_DOMAIN})
        quota = next((q for q in by_kind.get(Kind.QUOTA, []) if q.key == project.key), None)
        if quota is not None:
            entry["quota"] = dict(quota.fields)
        roles = [r for r in by_kind.get(Kind.ROLE, []) if r.key[:2] == project.key]
        if roles or (name in declared and declared[name].roles is not None):
            entry["roles"] = [_role(r.key[2:], domain) for r in roles]
        projects.append(entry)
    return projects


def _role(key: tuple[str, ...], project_domain: str) -> dict[str, str]:
    actor, domain, name, role = key
    entry = {"role": role, actor: name}
    if domain != project_domain:
        entry["domain"] = domain
    return entry


def _rule(fields: dict[str, Any]) -> dict[str, Any]:
    defaults = {"direction": "ingress", "ethertype": "IPv4"}
    return {k: v for k, v in fields.items() if defaults.get(k) != v}


def _flavors(by_kind: dict[Kind, list[Resource]], site: Site, warnings: list[str]) -> list[dict[str, Any]]:
    families = {f.name: f for f in site.flavor_families}
    access: dict[str, list[str]] = {}
    for entry in by_kind.get(Kind.FLAVOR_ACCESS, []):
        access.setdefault(entry.key[0], []).append(entry.key[2])
    flavors = []
    for flavor in by_kind.get(Kind.FLAVOR, []):
        name, fields = flavor.key[0], flavor.fields
        entry: dict[str, Any] = {"name": name}
        try:
            said = parse_flavor_name(name)
            sizes = {"vcpus": said.vcpus, "ram": said.ram_mib, "disk": said.disk_gib, "ephemeral": said.ephemeral_gib}
            family = said.family
        except FlavorNameError:
            sizes, family = {}, None
        for key in ("vcpus", "ram", "disk", "ephemeral"):
            if sizes.get(key) != fields[key]:
                entry[key] = fields[key]
        _put(entry, "swap", fields["swap"], 0)
        _put(entry, "public", fields["public"], True)
        _put(entry, "description", fields["description"], "")
        if not fields["public"]:
            _put(entry, "projects", sorted(access.get(name, [])), [])
        implied = flavor_extra_specs(Flavor(**{k: v for k, v in entry.items() if k != "projects"}),
                                     families.get(family or ""))
        own = {k: v for k, v in fields["extra_specs"].items() if implied.get(k) != v}
        for missing in sorted(set(implied) - set(fields["extra_specs"])):
            warnings.append(f"flavor {name} lacks extra spec {missing}={implied[missing]} that its family or "
                            "name implies; a site cannot declare its absence")
        _put(entry, "extra_specs", own, {})
        flavors.append(entry)
    return flavors


def _aggregates(by_kind: dict[Kind, list[Resource]], site: Site, observed: State,
                warnings: list[str]) -> list[dict[str, Any]]:
    carried = {n.flavor_family for n in site.nodes_with(Role.COMPUTE)}
    families = {f.name: f for f in site.flavor_families if f.aggregate and f.name in carried}
    known = observed.compute_hosts or frozenset()
    aggregates = []
    for aggregate in by_kind.get(Kind.AGGREGATE, []):
        name = aggregate.key[0]
        hosts = sorted(h.key[1] for h in by_kind.get(Kind.AGGREGATE_HOST, []) if h.key[0] == name)
        entry: dict[str, Any] = {"name": name}
        if name in families:
            base = family_aggregate(site, families[name]).fields
            computed = sorted(n.name for n in site.nodes_with(Role.COMPUTE)
                              if n.flavor_family == name and n.name in known)
        else:
            base, computed = {"availability_zone": None, "metadata": {}}, None
        _put(entry, "availability_zone", aggregate.fields["availability_zone"], base["availability_zone"])
        metadata = {k: v for k, v in aggregate.fields["metadata"].items() if base["metadata"].get(k) != v}
        for missing in sorted(set(base["metadata"]) - set(aggregate.fields["metadata"])):
            warnings.append(f"aggregate {name} lacks metadata {missing} that its family implies")
        _put(entry, "metadata", metadata, {})
        if hosts != computed:
            entry["hosts"] = hosts
        if len(entry) > 1 or name not in families:
            aggregates.append(entry)
    return aggregates


def _networks(cloud: dict[str, Any], by_kind: dict[Kind, list[Resource]], site: Site, warnings: list[str]) -> None:
    subnets = by_kind.get(Kind.SUBNET, [])
    declared = {n.name: n for n in site.cloud.networks}
    networks = []
    external_name = None
    for network in by_kind.get(Kind.NETWORK, []):
        name, fields = network.key[0], network.fields
        own = [s for s in subnets if s.key[0] == name]
        if fields["external"]:
            if external_name is not None:
                warnings.append(f"external network {name}: a site declares one external network; not imported")
                continue
            external_name = name
            cloud["external_network"] = _external(name, fields, own, site, warnings)
            continue
        entry = _plain({"name": name}, {k: fields[k] for k in ("shared", "description")},
                       {"shared": True, "description": ""})
        if name in declared and declared[name].mtu is not None:
            entry["mtu"] = fields["mtu"]
        entry["subnets"] = [_plain({"name": s.key[1]}, {**s.fields, "pools": [
            dict(zip(("start", "end"), p.split("-"))) for p in s.fields["pools"] or ()]},
            {"dhcp": True, "dns_nameservers": [], "pools": []}) for s in own]
        networks.append(entry)
    _put(cloud, "networks", networks, [])
    routers = []
    subnet_names = {(s.key[0], s.key[1]) for s in subnets}
    for router in by_kind.get(Kind.ROUTER, []):
        gateway = router.fields["external_gateway"]
        if gateway is not None and gateway != external_name:
            warnings.append(f"router {router.key[0]} has its gateway on {gateway}, not the external network")
        entry = {"name": router.key[0]}
        _put(entry, "external_gateway", gateway is not None, True)
        _put(entry, "description", router.fields["description"], "")
        interfaces = [i.key[2] for i in by_kind.get(Kind.ROUTER_INTERFACE, [])
                      if i.key[0] == router.key[0] and (i.key[1], i.key[2]) in subnet_names]
        _put(entry, "interfaces", interfaces, [])
        routers.append(entry)
    _put(cloud, "routers", routers, [])


def _external(name: str, fields: Any, subnets: list[Resource], site: Site, warnings: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    cidrs = {s.fields["cidr"] for s in subnets}
    match = next((n for n in site.networks if str(n.cidr) in cidrs), None)
    provider = match or external_network(site)
    if provider is None:
        warnings.append(f"external network {name} ({', '.join(sorted(cidrs))}) matches no network of the site")
        return {"name": name}
    first = next((n for n in site.networks if n.purpose == provider.purpose), None)
    if first is None or first.name != provider.name:
        entry["network"] = provider.name
    _put(entry, "name", name, provider.name)
    if subnets:
        _put(entry, "subnet", subnets[0].key[1], f"{name}-subnet")
    _put(entry, "description", fields["description"], "")
    _put(entry, "mtu", fields["mtu"], provider.mtu)
    if fields["segmentation_id"] != provider.vlan or str(provider.cidr) not in cidrs:
        warnings.append(f"external network {name} differs from the site network {provider.name} "
                        "(VLAN or CIDR); the site's network model wins")
    return entry
