"""Planned entity steps carried out against the OpenStack APIs, one request sequence per step."""

from __future__ import annotations

import hashlib
import tempfile
import urllib.request
from typing import Any, Callable

from beskar.clients.openstack import (CINDER_QUOTAS, FLAVOR_MARK, MARK_KEY, MARK_VALUE, NEUTRON_QUOTAS,
                                      NOVA_MICROVERSION, NOVA_QUOTAS, RULE_PREFIX, TAG, Api, CloudError, flavor_id)
from beskar.plan.entities import Action, Step
from beskar.plan.resources import Kind
from beskar.plan.steps import Result, ResultType


class EntityStep:
    """A planned step bound to a cloud: the step protocol's is_skip/run."""

    def __init__(self, api: Api, step: Step):
        self.api, self.step = api, step
        self.name = step.label()
        self.description = step.label()

    def is_skip(self) -> Result:
        if self.step.skip is not None:
            return Result(ResultType.SKIPPED, self.step.skip)
        return Result(ResultType.COMPLETED)

    def run(self) -> Result:
        try:
            _HANDLERS[self.step.kind](self.api, self.step)
        except CloudError as error:
            return Result(ResultType.FAILED, f"{self.step.label()}: {error}")
        except (KeyError, TypeError, ValueError) as error:  # an API answered in a shape Beskar did not expect
            return Result(ResultType.FAILED, f"{self.step.label()}: unexpected answer from the cloud "
                          f"({type(error).__name__}: {error})")
        return Result(ResultType.COMPLETED)


def _id(api: Api, *key: str) -> str:
    found = api.ids.get(tuple(key))
    if found is None:
        raise CloudError(f"{key[0]} {'/'.join(key[1:])} does not exist in the cloud")
    return found


def _fields(step: Step) -> dict[str, Any]:
    return dict(step.desired.fields) if step.desired is not None else {}


def _lookup(api: Api, kind: str, path: str, key: str, **query: str) -> str:
    """The id of a keystone user, group or role by name (cached)."""
    cache = (kind,) + tuple(query.values())
    if cache not in api.ids:
        found = api.call("identity", "GET", path, params=query)[key]
        if not found:
            raise CloudError(f"no {kind} {' '.join(f'{k}={v}' for k, v in query.items())} in keystone")
        api.ids[cache] = found[0]["id"]
    return api.ids[cache]


def _keystone(collection: str, kind: str) -> Callable[[Api, Step], None]:
    def handle(api: Api, step: Step) -> None:
        fields = _fields(step)
        body: dict[str, Any] = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}
        body.pop("parent", None)
        body[MARK_KEY] = MARK_VALUE
        key = step.key
        if kind != "domain":
            body["domain_id"] = _id(api, "domain", key[0])
        if step.action is Action.CREATE:
            body["name"] = key[-1]
            if kind == "project":
                parent = fields.get("parent")
                body["parent_id"] = _id(api, "project", key[0], parent) if parent else body["domain_id"]
            made = api.call("identity", "POST", f"/{collection}", json={kind: body})[kind]
            api.ids[(kind,) + key] = made["id"]
        elif step.action is Action.DELETE:
            ident = _id(api, kind, *key)
            if kind == "domain":
                api.call("identity", "PATCH", f"/domains/{ident}", json={"domain": {"enabled": False}})
            api.call("identity", "DELETE", f"/{collection}/{ident}")
        else:
            body.pop("domain_id", None)
            api.call("identity", "PATCH", f"/{collection}/{_id(api, kind, *key)}", json={kind: body})
    return handle


def _role(api: Api, step: Step) -> None:
    domain, project, actor, actor_domain, name, role = step.key
    project_id = _id(api, "project", domain, project)
    domain_id = _id(api, "domain", actor_domain)
    actor_id = _lookup(api, actor, f"/{actor}s", f"{actor}s", name=name, domain_id=domain_id)
    role_id = _lookup(api, "role", "/roles", "roles", name=role)
    method = "DELETE" if step.action is Action.DELETE else "PUT"
    api.call("identity", method, f"/projects/{project_id}/{actor}s/{actor_id}/roles/{role_id}")


def _quota(api: Api, step: Step) -> None:
    project = _id(api, "project", *step.key)
    limits = _fields(step)
    nova = {k: v for k, v in limits.items() if k in NOVA_QUOTAS}
    neutron = {NEUTRON_QUOTAS[k]: v for k, v in limits.items() if k in NEUTRON_QUOTAS}
    cinder = {k: v for k, v in limits.items() if k in CINDER_QUOTAS}
    if nova:
        api.call("compute", "PUT", f"/os-quota-sets/{project}", json={"quota_set": nova})
    if neutron:
        api.call("network", "PUT", f"/quotas/{project}", json={"quota": neutron})
    if cinder:
        api.call("block_storage", "PUT", f"/os-quota-sets/{project}", json={"quota_set": cinder})


def _aggregate(api: Api, step: Step) -> None:
    name = step.key[0]
    fields = _fields(step)
    if step.action is Action.DELETE:
        ident = _id(api, "aggregate", name)
        found = api.call("compute", "GET", f"/os-aggregates/{ident}")["aggregate"]
        for host in found.get("hosts") or ():
            api.call("compute", "POST", f"/os-aggregates/{ident}/action", json={"remove_host": {"host": host}})
        api.call("compute", "DELETE", f"/os-aggregates/{ident}")
        return
    if step.action is Action.CREATE:
        body = {"name": name, "availability_zone": fields["availability_zone"]}
        api.ids[("aggregate", name)] = api.call("compute", "POST", "/os-aggregates",
                                                json={"aggregate": body})["aggregate"]["id"]
    ident = _id(api, "aggregate", name)
    current = api.call("compute", "GET", f"/os-aggregates/{ident}")["aggregate"]
    if (current.get("availability_zone") or None) != fields["availability_zone"]:
        api.call("compute", "PUT", f"/os-aggregates/{ident}",
                 json={"aggregate": {"availability_zone": fields["availability_zone"]}})
    old = {k: v for k, v in (current.get("metadata") or {}).items() if k != "availability_zone"}
    new = {**fields["metadata"], MARK_KEY: MARK_VALUE}
    metadata = {**{k: None for k in old if k not in new}, **new}  # None removes a key
    api.call("compute", "POST", f"/os-aggregates/{ident}/action", json={"set_metadata": {"metadata": metadata}})


def _aggregate_host(api: Api, step: Step) -> None:
    action = "remove_host" if step.action is Action.DELETE else "add_host"
    api.call("compute", "POST", f"/os-aggregates/{_id(api, 'aggregate', step.key[0])}/action",
             json={action: {"host": step.key[1]}})


def _flavor(api: Api, step: Step) -> None:
    name = step.key[0]
    fields = _fields(step)
    if step.action in (Action.DELETE, Action.REPLACE):
        api.call("compute", "DELETE", f"/flavors/{_id(api, 'flavor', name)}")
        api.ids.pop(("flavor", name), None)
        if step.action is Action.DELETE:
            return
    specs = dict(fields["extra_specs"])
    if step.action in (Action.CREATE, Action.REPLACE):
        body = {"name": name, "id": flavor_id(name), "vcpus": fields["vcpus"], "ram": fields["ram"],
                "disk": fields["disk"], "OS-FLV-EXT-DATA:ephemeral": fields["ephemeral"], "swap": fields["swap"],
                "os-flavor-access:is_public": fields["public"], "description": fields["description"] or None}
        made = api.call("compute", "POST", "/flavors", json={"flavor": body}, microversion=NOVA_MICROVERSION)
        api.ids[("flavor", name)] = made["flavor"]["id"]
        old: dict[str, str] = {}
    else:
        ident = _id(api, "flavor", name)
        old = api.call("compute", "GET", f"/flavors/{ident}/os-extra_specs")["extra_specs"]
        if ident != flavor_id(name):
            specs[FLAVOR_MARK] = "true"  # an adopted flavor keeps its id; the spec marks it
        if any(c.field == "description" for c in step.changes):
            api.call("compute", "PUT", f"/flavors/{ident}", json={"flavor": {"description": fields["description"]
                                                                              or None}},
                     microversion=NOVA_MICROVERSION)
    ident = _id(api, "flavor", name)
    changed = {k: v for k, v in specs.items() if old.get(k) != v}
    if changed:
        api.call("compute", "POST", f"/flavors/{ident}/os-extra_specs", json={"extra_specs": changed})
    for key in sorted(set(old) - set(specs)):
        api.call("compute", "DELETE", f"/flavors/{ident}/os-extra_specs/{key}")


def _flavor_access(api: Api, step: Step) -> None:
    flavor, domain, project = step.key
    action = "removeTenantAccess" if step.action is Action.DELETE else "addTenantAccess"
    tenant = api.ids.get(("project", domain, project), project)  # unknown projects are observed by id
    api.call("compute", "POST", f"/flavors/{_id(api, 'flavor', flavor)}/action", json={action: {"tenant": tenant}})


def _tagged(collection: str, kind: str, body: Callable[[Api, Step, dict], dict]) -> Callable[[Api, Step], None]:
    """Neutron resources: create (or update) with one call, then tag; tags cannot be given at creation in Zed."""
    def handle(api: Api, step: Step) -> None:
        key = step.key
        if step.action in (Action.DELETE, Action.REPLACE):
            ident = _id(api, kind, *key)
            if kind == "router":
                _clear_router(api, ident)
            api.call("network", "DELETE", f"/{collection}/{ident}")
            api.ids.pop((kind,) + key, None)
            if step.action is Action.DELETE:
                return
        fields = _fields(step)
        if step.action in (Action.CREATE, Action.REPLACE):
            made = api.call("network", "POST", f"/{collection}",
                            json={kind: {"name": key[-1], **body(api, step, fields)}})
            api.ids[(kind,) + key] = made[kind]["id"]
        else:
            changed = {c.field.split(".", 1)[0] for c in step.changes}
            update = {k: v for k, v in body(api, step, fields).items() if _neutron_field(k) in changed}
            if update:
                api.call("network", "PUT", f"/{collection}/{_id(api, kind, *key)}", json={kind: update})
        api.call("network", "PUT", f"/{collection}/{_id(api, kind, *key)}/tags/{TAG}")
    return handle


_NEUTRON_NAMES = {"router:external": "external", "provider:network_type": "network_type",
                  "provider:physical_network": "physical_network", "provider:segmentation_id": "segmentation_id",
                  "gateway_ip": "gateway", "enable_dhcp": "dhcp", "allocation_pools": "pools",
                  "external_gateway_info": "external_gateway"}


def _neutron_field(name: str) -> str:
    return _NEUTRON_NAMES.get(name, name)


def _network_body(api: Api, step: Step, fields: dict) -> dict:
    body = {"router:external": fields["external"], "shared": fields["shared"], "description": fields["description"]}
    for ours in ("mtu", "network_type", "physical_network", "segmentation_id"):
        if fields[ours] is not None:
            body["mtu" if ours == "mtu" else f"provider:{ours}"] = fields[ours]
    return body


def _subnet_body(api: Api, step: Step, fields: dict) -> dict:
    body = {"network_id": _id(api, "network", step.key[0]), "cidr": fields["cidr"],
            "ip_version": 6 if ":" in fields["cidr"] else 4, "enable_dhcp": fields["dhcp"],
            "dns_nameservers": list(fields["dns_nameservers"])}
    if fields["gateway"] is not None:
        body["gateway_ip"] = fields["gateway"]
    if fields["pools"] is not None:
        body["allocation_pools"] = [dict(zip(("start", "end"), pool.split("-"))) for pool in fields["pools"]]
    if step.action is Action.UPDATE:
        body.pop("network_id"), body.pop("cidr"), body.pop("ip_version")
    return body


def _router_body(api: Api, step: Step, fields: dict) -> dict:
    gateway = fields["external_gateway"]
    return {"description": fields["description"],
            "external_gateway_info": {"network_id": _id(api, "network", gateway)} if gateway else {}}


def _clear_router(api: Api, ident: str) -> None:
    ports = api.call("network", "GET", "/ports",
                     params={"device_id": ident, "device_owner": "network:router_interface"})
    for port in ports["ports"]:
        api.call("network", "PUT", f"/routers/{ident}/remove_router_interface", json={"port_id": port["id"]})


def _router_interface(api: Api, step: Step) -> None:
    router, network, subnet = step.key
    action = "remove_router_interface" if step.action is Action.DELETE else "add_router_interface"
    api.call("network", "PUT", f"/routers/{_id(api, 'router', router)}/{action}",
             json={"subnet_id": _id(api, "subnet", network, subnet)})


def _rule(api: Api, step: Step) -> None:
    if step.action in (Action.DELETE, Action.REPLACE):
        api.call("network", "DELETE", f"/security-group-rules/{_id(api, 'rule', *step.key)}")
        if step.action is Action.DELETE:
            return
    fields = _fields(step)
    domain, project, name = step.key
    # Owned (and counted in quotas) by the group's project, not by the admin project that makes it.
    body = {"security_group_id": _default_group(api, domain, project),
            "project_id": _id(api, "project", domain, project),
            "direction": fields["direction"], "ethertype": fields["ethertype"], "protocol": fields["protocol"],
            "port_range_min": fields["port_min"], "port_range_max": fields["port_max"],
            "remote_ip_prefix": fields["remote_ip_prefix"], "description": RULE_PREFIX + name}
    made = api.call("network", "POST", "/security-group-rules", json={"security_group_rule": body})
    api.ids[("rule",) + step.key] = made["security_group_rule"]["id"]


def _default_group(api: Api, domain: str, project: str) -> str:
    key = ("default-security-group", domain, project)
    if key not in api.ids:
        # Listing by project makes neutron create the project's default group (a project made in this run has none).
        found = api.call("network", "GET", "/security-groups",
                         params={"project_id": _id(api, "project", domain, project), "name": "default"})
        if not found["security_groups"]:
            raise CloudError(f"project {domain}/{project} has no default security group")
        api.ids[key] = found["security_groups"][0]["id"]
    return api.ids[key]


def _image(api: Api, step: Step) -> None:
    name = step.key[0]
    fields = _fields(step)
    if step.action is Action.DELETE:
        api.call("image", "DELETE", f"/images/{_id(api, 'image', name)}")
        return
    uploading = step.action in (Action.CREATE, Action.REPLACE) or \
        any(c.field == "status" for c in step.changes)
    # Download and verify first: a bad source must not cost the cloud its current image.
    with tempfile.TemporaryFile() as data:
        if uploading:
            _download(fields["url"], fields["sha256"], data)
        if step.action is Action.REPLACE:
            api.call("image", "DELETE", f"/images/{_id(api, 'image', name)}")
        properties = {**fields["properties"], MARK_KEY: MARK_VALUE, "beskar_url": fields["url"]}
        if fields["sha256"]:
            properties["beskar_sha256"] = fields["sha256"]
        if step.action in (Action.CREATE, Action.REPLACE):
            body = {"name": name, "disk_format": fields["disk_format"],
                    "container_format": fields["container_format"], "visibility": fields["visibility"],
                    "min_disk": fields["min_disk"], "min_ram": fields["min_ram"], **properties}
            api.ids[("image", name)] = api.call("image", "POST", "/images", json=body)["id"]
        else:
            _patch_image(api, step, properties)
        if uploading:
            api.call("image", "PUT", f"/images/{_id(api, 'image', name)}/file", data=data,
                     headers={"Content-Type": "application/octet-stream"})


def _patch_image(api: Api, step: Step, properties: dict[str, str]) -> None:
    fields = _fields(step)
    ident = _id(api, "image", step.key[0])
    current = api.call("image", "GET", f"/images/{ident}")
    wanted = {**properties, "visibility": fields["visibility"], "min_disk": fields["min_disk"],
              "min_ram": fields["min_ram"]}
    patch = [{"op": "replace" if k in current else "add", "path": f"/{k}", "value": v}
             for k, v in wanted.items() if current.get(k) != v]
    old = step.observed.fields["properties"] if step.observed is not None else {}
    patch += [{"op": "remove", "path": f"/{k}"} for k in old if k not in fields["properties"]]
    if patch:
        api.call("image", "PATCH", f"/images/{ident}", json=patch,
                 headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})


def _download(url: str, sha256: str | None, into) -> None:
    """Copy the image into `into`, verifying its checksum; rewind it for the upload."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as source:  # noqa: S310 - operators choose the URL
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                into.write(chunk)
    except OSError as error:
        raise CloudError(f"cannot download {url}: {error}") from None
    if sha256 and digest.hexdigest() != sha256:
        raise CloudError(f"{url} has sha256 {digest.hexdigest()}, the site says {sha256}")
    into.seek(0)


_HANDLERS: dict[Kind, Callable[[Api, Step], None]] = {
    Kind.DOMAIN: _keystone("domains", "domain"),
    Kind.GROUP: _keystone("groups", "group"),
    Kind.PROJECT: _keystone("projects", "project"),
    Kind.ROLE: _role,
    Kind.QUOTA: _quota,
    Kind.AGGREGATE: _aggregate,
    Kind.AGGREGATE_HOST: _aggregate_host,
    Kind.FLAVOR: _flavor,
    Kind.FLAVOR_ACCESS: _flavor_access,
    Kind.NETWORK: _tagged("networks", "network", _network_body),
    Kind.SUBNET: _tagged("subnets", "subnet", _subnet_body),
    Kind.ROUTER: _tagged("routers", "router", _router_body),
    Kind.ROUTER_INTERFACE: _router_interface,
    Kind.RULE: _rule,
    Kind.IMAGE: _image,
}
