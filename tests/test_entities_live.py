"""`beskar entities` against a real OpenStack (Keystone, Nova, Placement, Neutron, Cinder, Glance on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from beskar.fleet.examples import write_example
from live_cloud import admin_api, aggregate, clouds_yaml, flavor, needs_cloud, project_id, wipe

pytestmark = needs_cloud


@pytest.fixture(scope="module")
def api():
    api = admin_api()
    wipe(api)
    yield api
    wipe(api)


@pytest.fixture
def fleet(tmp_path: Path, api) -> Path:
    wipe(api)
    root = tmp_path / "fleet"
    write_example(root)
    clouds_yaml(tmp_path / "clouds.yaml", "prod-brno", "prod-ostrava", "lab")
    return root


def beskar(root: Path, *args: str, check: int | None = 0) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(NO_COLOR="1", COLUMNS="250", OS_CLIENT_CONFIG_FILE=str(root.parent / "clouds.yaml"))
    done = subprocess.run([sys.executable, "-m", "beskar", *args, "-C", str(root)], env=env, capture_output=True,
                          text=True, timeout=300)
    if check is not None:
        assert done.returncode == check, f"beskar {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def plan(root: Path, *args: str, check: int | None = 0) -> dict:
    return json.loads(beskar(root, "entities", "plan", "prod-brno", "-o", "json", *args, check=check).stdout)


def edit(root: Path, old: str, new: str) -> None:
    path = root / "sites/prod-brno/site.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_apply_from_empty_then_no_changes_then_edits(fleet: Path, api) -> None:
    first = plan(fleet, "--detailed-exitcode", check=1)
    kinds = {s["kind"] for s in first["steps"] if s["runs"]}
    assert {"domain", "group", "project", "quota", "role-assignment", "aggregate", "flavor", "flavor-access",
            "network", "subnet", "router", "router-interface", "security-group-rule"} <= kinds
    assert all(s["action"] == "create" for s in first["steps"])
    beskar(fleet, "entities", "apply", "prod-brno")

    again = plan(fleet, "--detailed-exitcode")  # exit 0: nothing pending
    assert again["pending"] == 0 and again["runnable"] == 0
    # Nova knows no compute hosts here: each family aggregate's host is planned, shown and deferred.
    assert {tuple(s["key"]) for s in again["steps"]} == {("c2", "brno-cmp-2"), ("c3", "brno-cmp-3"),
                                                        ("e1", "brno-cmp-1"), ("g2", "brno-gpu-1")}
    # What the cloud holds now, read back through the APIs.
    c3 = flavor(api, "c3.8core-120ram-500edisk")
    assert (c3["vcpus"], c3["ram"], c3["disk"], c3["OS-FLV-EXT-DATA:ephemeral"]) == (8, 122880, 0, 500)
    assert c3["extra_specs"] == {"aggregate_instance_extra_specs:flavor": "c3", "hw:cpu_policy": "dedicated"}
    assert c3["os-flavor-access:is_public"] is False
    gpu = flavor(api, "g2.16core-120ram-1x-a100")
    assert gpu["extra_specs"]["pci_passthrough:alias"] == "a100:1"
    assert aggregate(api, "c3")["metadata"] == {"flavor": "c3", "managed_by": "beskar"}
    quota = api.call("compute", "GET", f"/os-quota-sets/{project_id(api, 'ml-research')}")["quota_set"]
    assert (quota["instances"], quota["cores"], quota["ram"]) == (20, 240, 983040)
    volumes = api.call("block_storage", "GET", f"/os-quota-sets/{project_id(api, 'ml-research')}")["quota_set"]
    assert volumes["volumes"] == 40
    external = api.call("network", "GET", "/networks", params={"name": "public"})["networks"][0]
    assert (external["router:external"], external["provider:segmentation_id"], external["mtu"]) == (True, 2506, 9000)
    ml = project_id(api, "ml-research")
    [group] = api.call("network", "GET", "/security-groups", params={"project_id": ml, "name": "default"})["security_groups"]
    ours = [r for r in group["security_group_rules"] if (r["description"] or "").startswith("managed by beskar: ")]
    assert sorted((r["description"], r["protocol"], r["port_range_min"], r["project_id"]) for r in ours) == [
        ("managed by beskar: icmp", "icmp", None, ml), ("managed by beskar: ssh", "tcp", 22, ml)]
    subnet = api.call("network", "GET", "/subnets", params={"name": "public-v4"})["subnets"][0]
    assert subnet["allocation_pools"] == [{"start": "192.0.2.20", "end": "192.0.2.250"}]
    assert subnet["enable_dhcp"] is False and subnet["gateway_ip"] == "192.0.2.1"

    # Hand-made things Beskar must never touch.
    api.call("identity", "POST", "/projects", json={"project": {"name": "hand-made", "domain_id": "default"}})
    api.call("compute", "POST", "/flavors", json={"flavor": {"name": "m1.hand", "vcpus": 1, "ram": 512, "disk": 1}})
    # ... and a role assignment on a project whose roles the site does not list.
    admin = api.call("identity", "GET", "/users", params={"name": "admin"})["users"][0]["id"]
    member = api.call("identity", "GET", "/roles", params={"name": "member"})["roles"][0]["id"]
    web = project_id(api, "web-hosting")
    api.call("identity", "PUT", f"/projects/{web}/users/{admin}/roles/{member}")

    edit(fleet, "quota: {instances: 20,", "quota: {instances: 25,")
    edit(fleet, "    - {name: c3.4core-16ram}", "    - {name: c3.4core-16ram, extra_specs: {hw:mem_page_size: large}}")
    edit(fleet, "  routers:\n    - {name: shared-router",
         "  aggregates:\n    - {name: c3, metadata: {ssd: true}}\n  routers:\n    - {name: shared-router")
    changed = plan(fleet, "--detailed-exitcode", check=1)
    runs = {(s["action"], s["kind"], tuple(s["key"])): s["changes"] for s in changed["steps"] if s["runs"]}
    assert runs == {
        ("update", "quota", ("Default", "ml-research")): [{"field": "instances", "old": 20, "new": 25}],
        ("update", "flavor", ("c3.4core-16ram",)): [{"field": "extra_specs.hw:mem_page_size", "old": None,
                                                     "new": "large"}],
        ("update", "aggregate", ("c3",)): [{"field": "metadata.ssd", "old": None, "new": "true"}],
    }
    unmanaged = {(u["kind"], tuple(u["key"])) for u in changed["unmanaged"]}
    assert {("project", ("Default", "hand-made")), ("flavor", ("m1.hand",))} <= unmanaged
    beskar(fleet, "entities", "apply", "prod-brno")
    assert plan(fleet, "--detailed-exitcode")["pending"] == 0
    assert flavor(api, "c3.4core-16ram")["extra_specs"]["hw:mem_page_size"] == "large"
    assert aggregate(api, "c3")["metadata"]["ssd"] == "true"
    assert api.call("compute", "GET", f"/os-quota-sets/{project_id(api, 'ml-research')}")["quota_set"]["instances"] == 25

    # Even with --prune the hand-made project and flavor stay as they were.
    beskar(fleet, "entities", "apply", "prod-brno", "--prune")
    assert flavor(api, "m1.hand")["ram"] == 512 and flavor(api, "m1.hand")["extra_specs"] == {}
    made = api.call("identity", "GET", "/projects", params={"name": "hand-made"})["projects"]
    assert len(made) == 1 and "managed_by" not in made[0]
    kept = api.call("identity", "GET", "/role_assignments", params={"scope.project.id": web, "user.id": admin})
    assert len(kept["role_assignments"]) == 1


def test_interrupted_apply_converges_and_import_plans_as_no_change(fleet: Path, api) -> None:
    env = {k: v for k, v in os.environ.items()}
    env.update(NO_COLOR="1", COLUMNS="250", OS_CLIENT_CONFIG_FILE=str(fleet.parent / "clouds.yaml"))
    process = subprocess.Popen([sys.executable, "-m", "beskar", "entities", "apply", "prod-brno", "-C", str(fleet)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in process.stderr:
        seen.append(line)
        index, total = line.split("]")[0].lstrip("[").split("/")
        if int(index) >= int(total) // 2:
            process.send_signal(signal.SIGKILL)  # somewhere in the middle of the next step's API calls
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    midway = plan(fleet, "--detailed-exitcode", check=1)
    assert 0 < midway["runnable"] < 50
    assert all(s["action"] in ("create", "update", "resume") for s in midway["steps"]), midway["steps"]
    beskar(fleet, "entities", "apply", "prod-brno")
    assert plan(fleet, "--detailed-exitcode")["pending"] == 0
    import_of_an_applied_cloud_plans_as_no_change(fleet, api)


def import_of_an_applied_cloud_plans_as_no_change(fleet: Path, api) -> None:
    api.call("identity", "POST", "/projects", json={"project": {"name": "hand-made", "domain_id": "default"}})
    before = (fleet / "sites/prod-brno/site.yaml").read_text()
    imported = beskar(fleet, "entities", "import", "prod-brno", "--write")
    assert imported.stderr == ""  # nothing the section could not express
    after = (fleet / "sites/prod-brno/site.yaml").read_text()
    header = "\n# Cloud entities, written by `beskar entities import`."
    assert after != before and after.split("\ncloud:")[0].removesuffix(header) == before.split("\ncloud:")[0]
    assert "hand-made" not in after
    assert plan(fleet, "--detailed-exitcode")["pending"] == 0

    # Bringing hand-made resources under Beskar: import them, then adopt.
    beskar(fleet, "entities", "import", "prod-brno", "--write", "--include-unmanaged")
    adopting = plan(fleet, "--detailed-exitcode", check=1)
    # The adoption is held back without --adopt, and so is what would follow it (the default rules).
    assert [(s["action"], tuple(s["key"]), s["runs"]) for s in adopting["steps"] if s["pending"]] == [
        ("adopt", ("Default", "hand-made"), False), ("create", ("Default", "hand-made", "icmp"), False),
        ("create", ("Default", "hand-made", "ssh"), False)]
    beskar(fleet, "entities", "apply", "prod-brno", "--adopt")
    assert plan(fleet, "--detailed-exitcode")["pending"] == 0
    assert api.call("identity", "GET", "/projects", params={"name": "hand-made"})["projects"][0]["managed_by"] == "beskar"


def test_interrupted_creates_and_uploads_resume_and_prune_deletes(fleet: Path, api) -> None:
    # What the first of the two calls that create an aggregate leaves behind: name only, no metadata.
    api.call("compute", "POST", "/os-aggregates", json={"aggregate": {"name": "c2"}})
    resumed = plan(fleet, "--detailed-exitcode", check=1)
    assert [s["action"] for s in resumed["steps"] if s["kind"] == "aggregate" and s["key"] == ["c2"]] == ["resume"]
    beskar(fleet, "entities", "apply", "prod-brno")
    assert aggregate(api, "c2")["metadata"] == {"flavor": "c2", "managed_by": "beskar"}

    edit(fleet, "    - {name: c3.4core-16ram}\n", "")
    held = plan(fleet, "--detailed-exitcode", check=1)
    assert [(s["action"], s["key"], s["runs"]) for s in held["steps"] if s["pending"]] == \
        [("delete", ["c3.4core-16ram"], False)]
    beskar(fleet, "entities", "apply", "prod-brno", "--prune")
    assert plan(fleet, "--detailed-exitcode")["pending"] == 0
    assert all(f["name"] != "c3.4core-16ram" for f in api.call("compute", "GET", "/flavors")["flavors"])
    images_upload_verify_and_resume_an_interrupted_upload(fleet, api, fleet.parent)


def test_bad_credentials_are_a_clear_error(fleet: Path) -> None:
    done = beskar(fleet, "entities", "plan", "prod-brno", "--cloud", "no-such-cloud", check=2)
    assert "no-such-cloud" in done.stderr and "Traceback" not in done.stderr
    clouds = fleet.parent / "clouds.yaml"
    clouds.write_text(clouds.read_text().replace("password: ", "password: wrong", 1))
    done = beskar(fleet, "entities", "plan", "prod-brno", check=2)
    assert done.stderr.startswith("error: cannot read the cloud of prod-brno: identity GET /domains:")
    assert "HTTP 401" in done.stderr
    assert "Traceback" not in done.stderr


def images_upload_verify_and_resume_an_interrupted_upload(fleet: Path, api, tmp_path: Path) -> None:
    import hashlib

    image = tmp_path / "tiny.raw"
    image.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    declared = (f"  images:\n    - {{name: tiny, url: 'file://{image}', sha256: {digest}, disk_format: raw,"
                f" min_ram: 64, properties: {{os_distro: test}}}}\n  routers:\n")
    edit(fleet, "  routers:\n", declared)
    beskar(fleet, "entities", "apply", "prod-brno")
    [found] = api.call("image", "GET", "/images", params={"name": "tiny"})["images"]
    assert (found["status"], found["size"], found["min_ram"], found["os_distro"], found["managed_by"]) == \
        ("active", 1 << 20, 64, "test", "beskar")
    assert plan(fleet, "--detailed-exitcode")["pending"] == 0

    # An upload killed before its data arrived leaves a marked, queued image: the next apply uploads it.
    api.call("image", "DELETE", f"/images/{found['id']}")
    api.call("image", "POST", "/images", json={"name": "tiny", "disk_format": "raw", "container_format": "bare",
                                               "min_ram": 64, "os_distro": "test", "managed_by": "beskar", "visibility": "public",
                                               "beskar_url": f"file://{image}", "beskar_sha256": digest})
    [step] = [s for s in plan(fleet, check=0)["steps"] if s["kind"] == "image"]
    assert (step["action"], step["changes"]) == ("update", [{"field": "status", "old": "queued", "new": "active"}])
    beskar(fleet, "entities", "apply", "prod-brno")
    assert api.call("image", "GET", "/images", params={"name": "tiny"})["images"][0]["status"] == "active"

    # A checksum that does not match stops the apply with a clear message and uploads nothing.
    edit(fleet, f"sha256: {digest}", f"sha256: {'f' * 64}")
    failed = beskar(fleet, "entities", "apply", "prod-brno", "--prune", check=1)
    assert f"has sha256 {digest}, the site says {'f' * 64}" in failed.stderr
    assert api.call("image", "GET", "/images", params={"name": "tiny"})["images"][0]["status"] == "active"  # kept
