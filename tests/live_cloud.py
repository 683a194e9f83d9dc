"""The test cloud started by scripts/test-cloud.sh: connecting with explicit auth, wiping it, making things by hand."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from beskar.clients.openstack import Api, connect

CLOUD_FILE = os.environ.get("BESKAR_TEST_CLOUD")
needs_cloud = pytest.mark.skipif(
    not CLOUD_FILE, reason="BESKAR_TEST_CLOUD is not set: start the test cloud with "
    "`eval \"$(scripts/test-cloud.sh start)\"` (.ci/run does this before the tests)")


def credentials() -> dict:
    return yaml.safe_load(Path(CLOUD_FILE).read_text())["clouds"]["beskar-test"]


def admin_api() -> Api:
    entry = credentials()
    return Api(connect(auth=entry["auth"], region=entry.get("region_name")))


def clouds_yaml(path: Path, *names: str) -> Path:
    """A clouds.yaml whose entries (named like the example's sites) all point at the test cloud."""
    entry = credentials()
    path.write_text(yaml.safe_dump({"clouds": {name: entry for name in names}}))
    return path


def wipe(api: Api) -> None:
    """Delete every domain, project, group, flavor, aggregate, network, router and image but keystone's own."""
    for router in api.call("network", "GET", "/routers")["routers"]:
        ports = api.call("network", "GET", "/ports", params={"device_id": router["id"],
                                                             "device_owner": "network:router_interface"})["ports"]
        for port in ports:
            api.call("network", "PUT", f"/routers/{router['id']}/remove_router_interface", json={"port_id": port["id"]})
        api.call("network", "DELETE", f"/routers/{router['id']}")
    for network in api.call("network", "GET", "/networks")["networks"]:
        api.call("network", "DELETE", f"/networks/{network['id']}")
    for flavor in api.call("compute", "GET", "/flavors", params={"is_public": "None"})["flavors"]:
        api.call("compute", "DELETE", f"/flavors/{flavor['id']}")
    for aggregate in api.call("compute", "GET", "/os-aggregates")["aggregates"]:
        for host in aggregate.get("hosts") or ():
            api.call("compute", "POST", f"/os-aggregates/{aggregate['id']}/action", json={"remove_host": {"host": host}})
        api.call("compute", "DELETE", f"/os-aggregates/{aggregate['id']}")
    for image in api.call("image", "GET", "/images")["images"]:
        api.call("image", "DELETE", f"/images/{image['id']}")
    projects = api.call("identity", "GET", "/projects")["projects"]
    # Children before parents: keystone refuses to delete a project that has sub-projects.
    depth = {p["id"]: 0 for p in projects}
    for _ in projects:
        for p in projects:
            if p["parent_id"] in depth:
                depth[p["id"]] = max(depth[p["id"]], depth[p["parent_id"]] + 1)
    for project in sorted(projects, key=lambda p: -depth[p["id"]]):
        if project["name"] not in ("admin", "service") and not project.get("is_domain"):
            api.call("identity", "DELETE", f"/projects/{project['id']}")
    alive = {p["id"] for p in api.call("identity", "GET", "/projects")["projects"]}
    for group in api.call("network", "GET", "/security-groups")["security_groups"]:
        if group["project_id"] not in alive:  # left behind by deleted projects (keystone does not tell neutron)
            api.call("network", "DELETE", f"/security-groups/{group['id']}")
    for group in api.call("identity", "GET", "/groups")["groups"]:
        api.call("identity", "DELETE", f"/groups/{group['id']}")
    for domain in api.call("identity", "GET", "/domains")["domains"]:
        if domain["id"] != "default":
            api.call("identity", "PATCH", f"/domains/{domain['id']}", json={"domain": {"enabled": False}})
            api.call("identity", "DELETE", f"/domains/{domain['id']}")


def project_id(api: Api, name: str) -> str:
    return api.call("identity", "GET", "/projects", params={"name": name})["projects"][0]["id"]


def flavor(api: Api, name: str) -> dict:
    found = [f for f in api.call("compute", "GET", "/flavors/detail", params={"is_public": "None"},
                                 microversion="2.61")["flavors"] if f["name"] == name]
    assert len(found) == 1, f"flavor {name}: {found}"
    return found[0]


def aggregate(api: Api, name: str) -> dict:
    return next(a for a in api.call("compute", "GET", "/os-aggregates")["aggregates"] if a["name"] == name)
