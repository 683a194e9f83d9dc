"""The OpenStack APIs through openstacksdk: connecting, and reading a cloud's entities as records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

from beskar.plan.resources import Kind, Resource, State

# How Beskar marks what it manages, per API (what each API can carry).
MARK_KEY, MARK_VALUE = "managed_by", "beskar"  # keystone extra attribute, aggregate metadata, image property
FLAVOR_MARK = "beskar:managed"  # flavor extra spec (on adopted flavors; created ones are named by FLAVOR_IDS)
TAG = "managed-by-beskar"  # neutron tag (networks, subnets, routers)
RULE_PREFIX = "managed by beskar: "  # security group rule description, followed by the rule's name
FLAVOR_IDS = uuid.UUID("5f0c2e1a-8d7b-4c53-9b6e-0f4a2d9c7e31")  # flavors Beskar creates get uuid5(this, name)
SYSTEM_PROJECTS = frozenset({("Default", "admin"), ("Default", "service")})  # never reported, never adopted

NOVA_QUOTAS = ("instances", "cores", "ram", "key_pairs", "server_groups", "server_group_members", "metadata_items")
NEUTRON_QUOTAS = {"networks": "network", "subnets": "subnet", "ports": "port", "routers": "router",
                  "floating_ips": "floatingip", "security_groups": "security_group",
                  "security_group_rules": "security_group_rule"}
CINDER_QUOTAS = ("volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes")
NOVA_MICROVERSION = "2.61"  # flavor descriptions (2.55) and extra specs in flavor listings (2.61)


class CloudError(Exception):
    """The cloud could not be reached or refused a request; the message says which and why."""


def flavor_id(name: str) -> str:
    return str(uuid.uuid5(FLAVOR_IDS, name))


def connect(cloud: str | None = None, auth: dict[str, Any] | None = None, region: str | None = None):
    """An openstacksdk connection: a clouds.yaml entry by name, or explicit auth (no files, no environment)."""
    import openstack
    from openstack import exceptions

    try:
        if auth is not None:
            return openstack.connect(load_yaml_config=False, load_envvars=False, auth=auth, region_name=region,
                                     identity_api_version="3")
        return openstack.connect(cloud=cloud, region_name=region)
    except exceptions.ConfigException as error:
        raise CloudError(f"cannot use cloud {cloud!r}: {error}") from None


def _message(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, dict) and "message" in value:
                return str(value["message"])
        if "message" in body:
            return str(body["message"])
        if "NeutronError" in body:
            return str(body["NeutronError"].get("message"))
    return str(body)[:300]


@dataclass
class Api:
    """Raw JSON requests through the connection's service adapters (they carry auth and the catalog)."""

    conn: Any
    ids: dict[tuple[str, Any], Any] = field(default_factory=dict)  # name <-> id lookups found or made

    def call(self, service: str, method: str, path: str, *, json: Any = None, params: dict | None = None,
             microversion: str | None = None, headers: dict | None = None, data: Any = None) -> Any:
        from keystoneauth1 import exceptions as ksa
        from openstack import exceptions as sdk

        kwargs: dict[str, Any] = {"params": params or {}, "raise_exc": False}
        if microversion:
            kwargs["microversion"] = microversion
        if headers:
            kwargs["headers"] = headers
        if json is not None:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        try:
            # The first use of a service authenticates and discovers its endpoint: that can fail too.
            response = getattr(self.conn, service).request(path, method, **kwargs)
        except (ksa.ClientException, sdk.SDKException, OSError) as error:
            raise CloudError(f"{service} {method} {path}: {error}") from None
        if response.status_code >= 400:
            raise CloudError(f"{service} {method} {path} failed ({response.status_code}): {_message(response)}")
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def has(self, service_type: str) -> bool:
        try:
            return bool(self.conn.endpoint_for(service_type))
        except Exception:  # the sdk raises several types for a service missing from the catalog
            return False


def observe(api: Api, desired: State, everything: bool = False) -> State:
    """Read the cloud's entities of every kind Beskar plans. `desired` narrows what is worth reading per
    project (quotas, role assignments, default security group rules) and which tenant-facing networks to look at;
    `everything` reads those for every project (for import), with quotas that differ from the defaults."""
    return State.of(list(_Observer(api, desired, everything).all()), _compute_hosts(api))


def _compute_hosts(api: Api) -> frozenset[str]:
    services = api.call("compute", "GET", "/os-services", params={"binary": "nova-compute"})["services"]
    return frozenset(s["host"] for s in services)


class _Observer:
    def __init__(self, api: Api, desired: State, everything: bool):
        self.api, self.desired, self.everything = api, desired, everything
        self.domains: dict[str, str] = {}  # id -> name
        self.projects: dict[str, tuple[str, str]] = {}  # id -> (domain, name)

    def all(self) -> Iterator[Resource]:
        yield from self.identity()
        yield from self.quotas()
        yield from self.compute()
        yield from self.network()
        if self.desired.of_kind(Kind.IMAGE) or self.api.has("image"):
            yield from self.images()

    def declared(self, kind: Kind, key: tuple[str, ...]) -> bool:
        return self.desired.get(kind, key) is not None

    def identity(self) -> Iterator[Resource]:
        api = self.api
        for domain in api.call("identity", "GET", "/domains")["domains"]:
            self.domains[domain["id"]] = domain["name"]
            api.ids[("domain", domain["name"])] = domain["id"]
            key = (domain["name"],)
            if domain["id"] == "default" and not self.declared(Kind.DOMAIN, key):
                continue
            yield Resource(Kind.DOMAIN, key, {"description": domain.get("description") or "",
                                              "enabled": domain["enabled"]},
                           managed=domain.get(MARK_KEY) == MARK_VALUE)
        for group in api.call("identity", "GET", "/groups")["groups"]:
            key = (self.domains.get(group["domain_id"], group["domain_id"]), group["name"])
            api.ids[("group",) + key] = group["id"]
            yield Resource(Kind.GROUP, key, {"description": group.get("description") or ""},
                           managed=group.get(MARK_KEY) == MARK_VALUE)
        projects = [p for p in api.call("identity", "GET", "/projects")["projects"] if not p.get("is_domain")]
        for project in projects:
            self.projects[project["id"]] = (self.domains.get(project["domain_id"], project["domain_id"]),
                                            project["name"])
            api.ids[("project",) + self.projects[project["id"]]] = project["id"]
        for project in projects:
            key = self.projects[project["id"]]
            if key in SYSTEM_PROJECTS and not self.declared(Kind.PROJECT, key):
                continue
            parent = self.projects.get(project.get("parent_id") or "")
            yield Resource(Kind.PROJECT, key, {
                "description": project.get("description") or "", "enabled": project["enabled"],
                "parent": parent[1] if parent else None, "tags": tuple(sorted(project.get("tags") or ())),
                "contacts": tuple(project.get("contacts") or ()),
                "properties": dict(sorted((project.get("properties") or {}).items()))},
                managed=project.get(MARK_KEY) == MARK_VALUE)
            if self.everything or self.declared(Kind.PROJECT, key):
                yield from self.role_assignments(project["id"], key)

    def role_assignments(self, project_id: str, key: tuple[str, str]) -> Iterator[Resource]:
        found = self.api.call("identity", "GET", "/role_assignments",
                              params={"scope.project.id": project_id, "include_names": "true"})
        for assignment in found["role_assignments"]:
            if "user" in assignment:
                actor = ("user", assignment["user"])
            elif "group" in assignment:
                actor = ("group", assignment["group"])
            else:
                continue
            domain = actor[1].get("domain", {}).get("name", "")
            yield Resource(Kind.ROLE, key + (actor[0], domain, actor[1]["name"], assignment["role"]["name"]))

    def quotas(self) -> Iterator[Resource]:
        wanted = {r.key: set(r.fields) for r in self.desired.of_kind(Kind.QUOTA)}
        services = [("compute", NOVA_QUOTAS), ("network", tuple(NEUTRON_QUOTAS)), ("block_storage", CINDER_QUOTAS)]
        if self.everything:
            present = [s for s in services if s[0] != "block_storage" or self.api.has("block-storage")]
            for project_id, key in sorted(self.projects.items(), key=lambda item: item[1]):
                if key in SYSTEM_PROJECTS:
                    continue
                limits, defaults = self.quota(project_id, key, present, defaults=True)
                keep = {k: v for k, v in limits.items() if v != defaults.get(k) or k in wanted.get(key, ())}
                if keep:
                    yield Resource(Kind.QUOTA, key, keep)
            return
        for key, keys in wanted.items():
            project = self.api.ids.get(("project",) + key)
            if project is not None:
                limits, _ = self.quota(project, key, [s for s in services if keys & set(s[1])])
                yield Resource(Kind.QUOTA, key, limits)

    def quota(self, project: str, key: tuple[str, str], services: list[tuple[str, tuple[str, ...]]],
              defaults: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
        """A project's limits (and the cloud's defaults) in Beskar's names, from each service asked."""
        limits: dict[str, Any] = {}
        default: dict[str, Any] = {}
        for service, keys in services:
            if service == "block_storage" and not self.api.has("block-storage"):
                raise CloudError(f"project {'/'.join(key)} declares block-storage quotas but the cloud has no "
                                 "block-storage (cinder) service")
            names = NEUTRON_QUOTAS if service == "network" else {k: k for k in keys}
            path = f"/quotas/{project}" if service == "network" else f"/os-quota-sets/{project}"
            found = self.api.call(service, "GET", path)
            found = found.get("quota") or found.get("quota_set")
            limits.update({ours: found.get(theirs) for ours, theirs in names.items()})
            if defaults:
                base = self.api.call(service, "GET", path + ("/default" if service == "network" else "/defaults"))
                base = base.get("quota") or base.get("quota_set")
                default.update({ours: base.get(theirs) for ours, theirs in names.items()})
        return limits, default

    def compute(self) -> Iterator[Resource]:
        api = self.api
        flavors = api.call("compute", "GET", "/flavors/detail", params={"is_public": "None"},
                           microversion=NOVA_MICROVERSION)["flavors"]
        for flavor in flavors:
            name = flavor["name"]
            api.ids[("flavor", name)] = flavor["id"]
            specs = dict(flavor.get("extra_specs") or {})
            managed = flavor["id"] == flavor_id(name) or specs.pop(FLAVOR_MARK, None) == "true"
            public = flavor.get("os-flavor-access:is_public", True)
            yield Resource(Kind.FLAVOR, (name,), {
                "vcpus": flavor["vcpus"], "ram": flavor["ram"], "disk": flavor["disk"],
                "ephemeral": flavor.get("OS-FLV-EXT-DATA:ephemeral", 0), "swap": flavor.get("swap") or 0,
                "public": public, "description": flavor.get("description") or "",
                "extra_specs": dict(sorted(specs.items()))}, managed=managed)
            if not public and (managed or self.declared(Kind.FLAVOR, (name,))):
                access = api.call("compute", "GET", f"/flavors/{flavor['id']}/os-flavor-access")
                for entry in access["flavor_access"]:
                    project = self.projects.get(entry["tenant_id"], ("", entry["tenant_id"]))
                    yield Resource(Kind.FLAVOR_ACCESS, (name,) + project)
        for aggregate in api.call("compute", "GET", "/os-aggregates")["aggregates"]:
            name = aggregate["name"]
            api.ids[("aggregate", name)] = aggregate["id"]
            metadata = dict(aggregate.get("metadata") or {})
            managed = metadata.pop(MARK_KEY, None) == MARK_VALUE
            zone = metadata.pop("availability_zone", None)
            yield Resource(Kind.AGGREGATE, (name,), {"availability_zone": zone,
                                                      "metadata": dict(sorted(metadata.items()))},
                           managed=managed, unfinished=not managed and not metadata and not aggregate.get("hosts"))
            for host in aggregate.get("hosts") or ():
                yield Resource(Kind.AGGREGATE_HOST, (name, host))

    def network(self) -> Iterator[Resource]:
        api = self.api
        found: dict[str, dict] = {}
        declared = [r.key[0] for r in self.desired.of_kind(Kind.NETWORK)]
        for query in [{"router:external": "true"}, {"shared": "true"}, {"tags": TAG}] + \
                [{"name": name} for name in declared]:
            for network in api.call("network", "GET", "/networks", params=query)["networks"]:
                found[network["id"]] = network
        names: dict[str, str] = {}
        subnets_of: dict[str, list[dict]] = {}
        if found:
            for subnet in api.call("network", "GET", "/subnets", params={"network_id": sorted(found)})["subnets"]:
                subnets_of.setdefault(subnet["network_id"], []).append(subnet)
        for network in sorted(found.values(), key=lambda n: n["name"]):
            names[network["id"]] = network["name"]
            api.ids[("network", network["name"])] = network["id"]
            tags = network.get("tags") or []
            yield Resource(Kind.NETWORK, (network["name"],), {
                "external": network.get("router:external", False), "shared": network.get("shared", False),
                "mtu": network.get("mtu"), "network_type": network.get("provider:network_type"),
                "physical_network": network.get("provider:physical_network"),
                "segmentation_id": network.get("provider:segmentation_id"),
                "description": network.get("description") or ""},
                managed=TAG in tags, unfinished=not tags and not subnets_of.get(network["id"]))
            for subnet in subnets_of.get(network["id"], ()):
                api.ids[("subnet", network["name"], subnet["name"])] = subnet["id"]
                names[subnet["id"]] = subnet["name"]
                yield Resource(Kind.SUBNET, (network["name"], subnet["name"]), {
                    "cidr": subnet["cidr"], "gateway": subnet.get("gateway_ip"), "dhcp": subnet["enable_dhcp"],
                    "dns_nameservers": tuple(subnet.get("dns_nameservers") or ()),
                    "pools": tuple(f"{p['start']}-{p['end']}" for p in subnet.get("allocation_pools") or ())},
                    managed=TAG in (subnet.get("tags") or []), unfinished=not subnet.get("tags"))
        yield from self.routers(names)
        yield from self.rules()

    def routers(self, names: dict[str, str]) -> Iterator[Resource]:
        api = self.api
        routers: dict[str, dict] = {}
        for query in [{"tags": TAG}] + [{"name": r.key[0]} for r in self.desired.of_kind(Kind.ROUTER)]:
            for router in api.call("network", "GET", "/routers", params=query)["routers"]:
                routers[router["id"]] = router
        for router in sorted(routers.values(), key=lambda r: r["name"]):
            api.ids[("router", router["name"])] = router["id"]
            ports = api.call("network", "GET", "/ports", params={"device_id": router["id"],
                                                                 "device_owner": "network:router_interface"})
            interfaces = [(names.get(port["network_id"], port["network_id"]),
                           names.get(ip["subnet_id"], ip["subnet_id"]))
                          for port in ports["ports"] for ip in port.get("fixed_ips", ())]
            gateway = (router.get("external_gateway_info") or {}).get("network_id")
            tags = router.get("tags") or []
            yield Resource(Kind.ROUTER, (router["name"],), {
                "external_gateway": names.get(gateway, gateway) if gateway else None,
                "description": router.get("description") or ""},
                managed=TAG in tags, unfinished=not tags and not interfaces)
            for network, subnet in sorted(set(interfaces)):
                yield Resource(Kind.ROUTER_INTERFACE, (router["name"], network, subnet))

    def rules(self) -> Iterator[Resource]:
        """Beskar's rules in the default security group of every declared project that exists."""
        projects = {r.key[:2] for r in self.desired.of_kind(Kind.PROJECT)}
        if self.everything:
            projects |= set(self.projects.values()) - SYSTEM_PROJECTS
        for key in sorted(projects):
            project = self.api.ids.get(("project",) + key)
            if project is None:
                continue
            # Listing by project makes neutron create the project's default group if it has none yet.
            groups = self.api.call("network", "GET", "/security-groups",
                                   params={"project_id": project, "name": "default"})["security_groups"]
            for group in groups:
                self.api.ids[("default-security-group",) + key] = group["id"]
                for rule in group.get("security_group_rules", ()):
                    description = rule.get("description") or ""
                    if not description.startswith(RULE_PREFIX):
                        continue
                    self.api.ids[("rule",) + key + (description[len(RULE_PREFIX):],)] = rule["id"]
                    yield Resource(Kind.RULE, key + (description[len(RULE_PREFIX):],), {
                        "direction": rule["direction"], "ethertype": rule["ethertype"], "protocol": rule["protocol"],
                        "port_min": rule["port_range_min"], "port_max": rule["port_range_max"],
                        "remote_ip_prefix": rule["remote_ip_prefix"]})

    def images(self) -> Iterator[Resource]:
        api = self.api
        images: dict[str, dict] = {}
        for query in [{MARK_KEY: MARK_VALUE}] + [{"name": r.key[0]} for r in self.desired.of_kind(Kind.IMAGE)]:
            for image in api.call("image", "GET", "/images", params=query)["images"]:
                images[image["id"]] = image
        for image in sorted(images.values(), key=lambda i: i["name"] or ""):
            api.ids[("image", image["name"])] = image["id"]
            properties = {k: str(v) for k, v in image.items() if k not in _GLANCE_FIELDS}
            managed = properties.pop(MARK_KEY, None) == MARK_VALUE
            yield Resource(Kind.IMAGE, (image["name"],), {
                "url": properties.pop("beskar_url", None), "sha256": properties.pop("beskar_sha256", None),
                "disk_format": image.get("disk_format"), "container_format": image.get("container_format"),
                "visibility": image["visibility"], "min_disk": image.get("min_disk", 0),
                "min_ram": image.get("min_ram", 0), "status": image["status"],
                "properties": dict(sorted(properties.items()))}, managed=managed)


_GLANCE_FIELDS = frozenset({
    "id", "name", "status", "visibility", "protected", "checksum", "owner", "size", "virtual_size", "min_ram",
    "min_disk", "created_at", "updated_at", "tags", "disk_format", "container_format", "self", "file", "schema",
    "direct_url", "locations", "os_hash_algo", "os_hash_value", "os_hidden", "stores"})
