"""The desired cloud entities of a site: its `cloud:` section, its flavor families and its nodes, as records."""

from __future__ import annotations

from typing import Iterator

from beskar.model.entities import Flavor, FlavorFamily
from beskar.model.site import Network, Purpose, Role, Site
from beskar.plan.resources import Kind, Resource, State

DEFAULT_DOMAIN = "Default"


def flavor_extra_specs(flavor: Flavor, family: FlavorFamily | None) -> dict[str, str]:
    """A flavor's extra specs: the family's, then what its traits and name say, then the flavor's own."""
    sizes = flavor.sizes()
    specs: dict[str, str] = {}
    if family is not None:
        specs.update(family.extra_specs)
        if family.aggregate:
            specs[f"aggregate_instance_extra_specs:{family.aggregate_key}"] = family.name
        if family.cpu_policy:
            specs["hw:cpu_policy"] = family.cpu_policy
        specs.update({f"quota:{key}": str(value) for key, value in family.io_limits.items()})
    if sizes.pin:
        specs["hw:cpu_policy"] = "dedicated"
    if sizes.smt:
        specs["hw:cpu_thread_policy"] = "require"
    if sizes.gpus:
        specs["pci_passthrough:alias"] = f"{sizes.gpu}:{sizes.gpus}"
    specs.update(flavor.extra_specs)
    return dict(sorted(specs.items()))


def family_aggregate(site: Site, family: FlavorFamily) -> Resource:
    metadata = {**family.aggregate_metadata, family.aggregate_key: family.name}
    return Resource(Kind.AGGREGATE, (family.name,), {"availability_zone": family.availability_zone,
                                                      "metadata": dict(sorted(metadata.items()))})


def external_network(site: Site) -> Network | None:
    """The site network the external neutron network is made from, if the site declares one."""
    declared = site.cloud.external_network
    if declared is None:
        return None
    if declared.network is not None:
        return next((n for n in site.networks if n.name == declared.network), None)
    return site.network(Purpose.PROVIDER)


def desired_state(site: Site) -> State:
    """Everything the site's cloud should contain, as records keyed by names."""
    return State.of(_resources(site))


def _resources(site: Site) -> Iterator[Resource]:
    cloud = site.cloud
    for domain in cloud.domains:
        yield Resource(Kind.DOMAIN, (domain.name,), {"description": domain.description, "enabled": domain.enabled})
    for group in cloud.groups:
        yield Resource(Kind.GROUP, (group.domain, group.name), {"description": group.description})
    projects = {project.name: project for project in cloud.projects}
    for project in cloud.projects:
        key = (project.domain, project.name)
        yield Resource(Kind.PROJECT, key, {
            "description": project.description, "enabled": project.enabled, "parent": project.parent,
            "tags": tuple(sorted(project.tags)), "contacts": tuple(project.contacts),
            "properties": dict(sorted(project.properties.items()))},
            manages=frozenset({Kind.ROLE}) if project.roles is not None else frozenset())
        if project.quota is not None and project.quota.limits():
            yield Resource(Kind.QUOTA, key, project.quota.limits())
        for assignment in project.roles or ():
            actor = ("user", assignment.user) if assignment.user else ("group", assignment.group)
            yield Resource(Kind.ROLE, key + (actor[0], assignment.domain or project.domain, actor[1], assignment.role))
        for rule in cloud.default_security_group_rules:
            yield Resource(Kind.RULE, key + (rule.name,), {
                "direction": rule.direction, "ethertype": rule.ethertype, "protocol": rule.protocol,
                "port_min": rule.port_min, "port_max": rule.port_max,
                "remote_ip_prefix": str(rule.remote_ip_prefix) if rule.remote_ip_prefix else None})

    yield from _aggregates(site)
    families = {family.name: family for family in site.flavor_families}
    access: dict[str, set[tuple[str, str]]] = {flavor.name: set() for flavor in cloud.flavors}
    for flavor in cloud.flavors:
        for name in flavor.projects:
            # A project the site does not declare is looked for in the Default domain.
            access[flavor.name].add((projects[name].domain if name in projects else DEFAULT_DOMAIN, name))
    for project in cloud.projects:
        for name in project.flavors:
            if name in access:
                access[name].add((project.domain, project.name))
    for flavor in cloud.flavors:
        sizes = flavor.sizes()
        yield Resource(Kind.FLAVOR, (flavor.name,), {
            "vcpus": sizes.vcpus, "ram": sizes.ram_mib, "disk": sizes.disk_gib, "ephemeral": sizes.ephemeral_gib,
            "swap": flavor.swap, "public": flavor.public, "description": flavor.description,
            "extra_specs": flavor_extra_specs(flavor, families.get(sizes.family))})
        if not flavor.public:
            for domain, project in sorted(access[flavor.name]):
                yield Resource(Kind.FLAVOR_ACCESS, (flavor.name, domain, project))

    yield from _networks(site)
    for image in cloud.images:
        yield Resource(Kind.IMAGE, (image.name,), {
            "url": image.url, "sha256": image.sha256, "disk_format": image.disk_format,
            "container_format": image.container_format, "visibility": image.visibility,
            "min_disk": image.min_disk, "min_ram": image.min_ram, "status": "active",
            "properties": dict(sorted(image.properties.items()))})


def _aggregates(site: Site) -> Iterator[Resource]:
    """One aggregate per family the site's computes carry, holding them; refined or extended by `cloud.aggregates`."""
    computed: dict[str, tuple[Resource, list[str]]] = {}
    for family in site.flavor_families:
        hosts = [n.name for n in site.nodes_with(Role.COMPUTE) if n.flavor_family == family.name]
        if family.aggregate and hosts:
            computed[family.name] = (family_aggregate(site, family), hosts)
    for declared in site.cloud.aggregates:
        base, hosts = computed.get(declared.name, (Resource(Kind.AGGREGATE, (declared.name,),
                                                            {"availability_zone": None, "metadata": {}}), []))
        metadata = {**base.fields["metadata"], **declared.metadata}
        zone = declared.availability_zone or base.fields["availability_zone"]
        computed[declared.name] = (Resource(Kind.AGGREGATE, (declared.name,),
                                            {"availability_zone": zone, "metadata": dict(sorted(metadata.items()))}),
                                   hosts if declared.hosts is None else list(declared.hosts))
    for name, (aggregate, hosts) in computed.items():
        yield aggregate
        for host in sorted(set(hosts)):
            yield Resource(Kind.AGGREGATE_HOST, (name, host))


def _networks(site: Site) -> Iterator[Resource]:
    cloud = site.cloud
    provider = external_network(site)
    external_name = None
    if provider is not None and cloud.external_network is not None:
        declared = cloud.external_network
        external_name = declared.name or provider.name
        yield Resource(Kind.NETWORK, (external_name,), {
            "external": True, "shared": False, "mtu": declared.mtu or provider.mtu,
            "network_type": "vlan" if provider.vlan else "flat",
            "physical_network": provider.physnet or provider.name, "segmentation_id": provider.vlan,
            "description": declared.description})
        yield Resource(Kind.SUBNET, (external_name, declared.subnet or f"{external_name}-subnet"), {
            "cidr": str(provider.cidr), "gateway": str(provider.gateway) if provider.gateway else None,
            "dhcp": False, "dns_nameservers": (),
            "pools": tuple(f"{p.start}-{p.end}" for p in provider.pools) or None})
    subnets: dict[str, str] = {}
    for network in cloud.networks:
        yield Resource(Kind.NETWORK, (network.name,), {
            "external": False, "shared": network.shared, "mtu": network.mtu, "network_type": None,
            "physical_network": None, "segmentation_id": None, "description": network.description})
        for subnet in network.subnets:
            subnets[subnet.name] = network.name
            yield Resource(Kind.SUBNET, (network.name, subnet.name), {
                "cidr": str(subnet.cidr), "gateway": str(subnet.gateway) if subnet.gateway else None,
                "dhcp": subnet.dhcp, "dns_nameservers": tuple(str(a) for a in subnet.dns_nameservers),
                "pools": tuple(f"{p.start}-{p.end}" for p in subnet.pools) or None})
    for router in cloud.routers:
        yield Resource(Kind.ROUTER, (router.name,), {
            "external_gateway": external_name if router.external_gateway else None,
            "description": router.description})
        for subnet in router.interfaces:
            if subnet in subnets:
                yield Resource(Kind.ROUTER_INTERFACE, (router.name, subnets[subnet], subnet))
