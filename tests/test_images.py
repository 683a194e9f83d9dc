"""`beskar images` against real registries: two Debian docker-registry servers on 127.0.0.1 (one standing for
upstream, holding tiny images built here as OCI layouts, one as the site's mirror), skopeo copying between them,
and the example fleet built through the real charts."""
from __future__ import annotations

import base64
import fnmatch
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from beskar.operations import demo
from registry_servers import Registry, free_port, need_tools, push_images, start_registry

REFERENCE = Path(os.environ.get("BESKAR_REFERENCE") or Path(__file__).resolve().parents[2] / "shared" / "reference")
CHARTS = REFERENCE / "charts"
SITE = "prod-brno"
UPSTREAM_REGISTRIES = ("docker.io", "quay.io", "registry.k8s.io", "ghcr.io")


@pytest.fixture(scope="module")
def registries(tmp_path_factory):
    """(upstream, mirror): two docker-registry servers, stopped at the end."""
    need_tools()
    work = tmp_path_factory.mktemp("registries")
    upstream = start_registry(work / "upstream")
    try:
        mirror = start_registry(work / "mirror")
    except BaseException:
        upstream.stop()
        raise
    yield upstream, mirror
    mirror.stop()
    upstream.stop()


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """The chart sources of the example fleet from the reference (openstack-helm cloned from its bundle, the
    upstream charts as a chart repository folder), one build cache for the module."""
    bundle = CHARTS / "openstack-helm.bundle"
    if not bundle.is_file():
        pytest.skip(f"needs the reference charts in {CHARTS} (../shared, absent in a user's clone)")
    work = tmp_path_factory.mktemp("sources")
    subprocess.run(["git", "clone", "--quiet", str(bundle), str(work / "openstack-helm")], check=True)
    sources = [f"--chart-source=openstack-helm={work / 'openstack-helm'}"] + [
        f"--chart-source={name}={CHARTS / 'helm-repository'}"
        for name in ("ingress-nginx", "prometheus-community", "rook-release")]
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(NO_COLOR="1", COLUMNS="200", BESKAR_CACHE=os.environ.get("BESKAR_CACHE") or str(work / "cache"), HOME=str(work / "home"))
    return sources, env


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, registries):
    """The example fleet as `beskar demo` writes it, its mirror the test mirror; ingress-nginx's upstream digests
    dropped (the test's upstream holds stand-ins, not the real images)."""
    _, mirror = registries
    root = tmp_path_factory.mktemp("fleet") / "fleet"
    demo.write_demo(root)
    settings = yaml.safe_load((root / "beskar.yaml").read_text())
    settings["defaults"]["mirror"]["registry"] = f"{mirror.host}/cache"
    libvirt_kubectl = settings["defaults"]["openstack"]["libvirt"]["values"]["images"]["tags"]
    libvirt_kubectl["kubectl"] = libvirt_kubectl["kubectl"].replace("mirror.example.org", mirror.host)
    settings["defaults"]["ingress"] = {"values": {"controller": {
        "image": {"digest": ""}, "admissionWebhooks": {"patch": {"image": {"digest": ""}}}}}}
    (root / "beskar.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return root


def beskar(environment, root: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    sources, env = environment
    needs_sources = args[0] in ("images", "build")
    return subprocess.run([sys.executable, "-m", "beskar", *args, *(sources if needs_sources else []), "-C", str(root)],
                          env=env, capture_output=True, text=True, timeout=timeout)


def _walk_pod_images(node, found: set[str]) -> None:
    """Every `image` of every container list anywhere in an object (an independent walk: no kind table)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers", "ephemeralContainers") and isinstance(value, list):
                found.update(c["image"] for c in value if isinstance(c, dict) and c.get("image"))
            _walk_pod_images(value, found)
    elif isinstance(node, list):
        for item in node:
            _walk_pod_images(item, found)


def independent_images(objects: list[dict]) -> set[str]:
    """The images a site pulls, read straight from `beskar build -o json`: pod specs, and what the operators are
    told to start (Ceph daemons, CSI drivers, Prometheus and Alertmanager with their config reloader)."""
    found: set[str] = set()
    for item in objects:
        body = item["body"]
        if item["kind"] in ("HelmRelease", "Kustomization"):
            continue
        _walk_pod_images(body, found)
        if item["kind"] == "CephCluster":
            found.add(body["spec"]["cephVersion"]["image"])
        if item["kind"] in ("Prometheus", "Alertmanager", "ThanosRuler"):
            found.add(body["spec"]["image"])
        if item["kind"] == "ConfigMap" and item["name"] == "rook-ceph-operator-config":
            found.update(v for k, v in body["data"].items() if fnmatch.fnmatch(k, "ROOK_CSI_*_IMAGE"))
        for container in (body.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []):
            for argument in container.get("args") or []:
                if argument.startswith("--prometheus-config-reloader="):
                    found.add(argument.split("=", 1)[1])
    return found


@pytest.fixture(scope="module")
def listed(environment, fleet):
    result = beskar(environment, fleet, "images", "--site", SITE, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["sites"][0]


@pytest.fixture(scope="module")
def built(environment, fleet, listed):
    result = beskar(environment, fleet, "build", SITE, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["objects"]


def test_the_list_is_every_image_of_the_built_objects_and_nothing_else(listed, built, registries):
    _, mirror = registries
    images = {entry["image"] for entry in listed["images"]}
    assert images == independent_images(built)
    assert len(images) > 30
    # Every one comes through the mirror, its upstream the flattening reversed.
    for entry in listed["images"]:
        assert entry["image"].startswith(f"{mirror.host}/cache/"), entry["image"]
        assert entry["upstream"] and entry["upstream"].split("/", 1)[0] in UPSTREAM_REGISTRIES
        assert entry["uses"] and entry["releases"]
    by_upstream = {entry["upstream"]: entry for entry in listed["images"]}
    nova = by_upstream["quay.io/airshipit/nova:2025.1-ubuntu_noble"]
    assert nova["mutable"] and "nova" in nova["releases"]
    ceph = by_upstream["quay.io/ceph/ceph:v19.2.3"]
    assert not ceph["mutable"] and ceph["uses"][0]["source"] == "operator"


def test_skopeo_format_lists_one_copy_per_image_for_a_flattening_mirror(environment, fleet, listed):
    result = beskar(environment, fleet, "images", "--site", SITE, "--format", "skopeo")
    assert result.returncode == 0, result.stderr
    copies = [line for line in result.stdout.splitlines() if line.startswith("skopeo copy")]
    assert len(copies) == len(listed["images"])
    assert any(line.endswith("/cache/quay.io__airshipit__nova:2025.1-ubuntu_noble") and
               "docker://quay.io/airshipit/nova:2025.1-ubuntu_noble " in line for line in copies)


def _flat(upstream: str) -> tuple[str, str]:
    """(repository in the mirror, tag) of an upstream reference, under cache/."""
    name, _, tag = upstream.partition("@")[0].rpartition(":")
    return "cache/" + name.replace("/", "__"), tag


def _sources(upstream: Registry) -> list[str]:
    return [f"--from={registry}={upstream.host}/{registry}" for registry in UPSTREAM_REGISTRIES]


def test_mirror_verify_lock_and_pinned_digests(environment, fleet, listed, registries, tmp_path):
    upstream, mirror = registries
    wanted = sorted({entry["upstream"].partition("@")[0] for entry in listed["images"]})
    # Upstream holds every image (each distinct); the mirror already holds three of them.
    push_images(tmp_path / "upstream", {f"{upstream.host}/{image}": f"content of {image}" for image in wanted})
    already = wanted[:3]
    push_images(tmp_path / "mirror", {"{}/{}:{}".format(mirror.host, *_flat(image)): f"content of {image}"
                                      for image in already})
    insecure = ["--insecure", *_sources(upstream)]

    dry = beskar(environment, fleet, "images", "mirror", "--site", SITE, "--dry-run", *insecure, "-o", "json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert sorted(c["destination"] for c in planned["copies"]) == sorted(
        f"{mirror.host}/{_flat(i)[0]}:{_flat(i)[1]}" for i in wanted if i not in already)
    assert planned["results"] == [] and mirror.repositories() == {_flat(i)[0] for i in already}

    copied = beskar(environment, fleet, "images", "mirror", "--site", SITE, *insecure, "-o", "json")
    assert copied.returncode == 0, copied.stderr
    results = json.loads(copied.stdout)["results"]
    assert {r["result"] for r in results} == {"completed"}
    assert len(results) == len(wanted) - len(already)  # exactly the missing ones
    assert mirror.repositories() == {_flat(i)[0] for i in wanted}
    for image in wanted[len(already):]:  # the very manifests upstream has
        assert mirror.digest(*_flat(image)) == upstream.digest(*image.rsplit(":", 1)), image

    verified = beskar(environment, fleet, "images", "verify", "--site", SITE, "--insecure", "-o", "json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    digests = json.loads(verified.stdout)["sites"][0]["digests"]
    assert sorted(digests) == wanted
    assert digests["quay.io/airshipit/nova:2025.1-ubuntu_noble"] == mirror.digest(
        *_flat("quay.io/airshipit/nova:2025.1-ubuntu_noble"))

    # One image gone from the mirror: verify names it and its users; lock refuses and writes nothing.
    mirror.delete(*_flat("quay.io/airshipit/glance:2025.1-ubuntu_noble"))
    broken = beskar(environment, fleet, "images", "verify", "--site", SITE, "--insecure")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "missing" in broken.stdout and "quay.io__airshipit__glance:2025.1-ubuntu_noble" in broken.stdout
    assert "glance: Job/openstack/glance-db-sync" in broken.stdout  # a user, by release and object
    refused = beskar(environment, fleet, "images", "lock", "--site", SITE, "--insecure")
    assert refused.returncode == 2 and not (fleet / "sites" / SITE / "images.lock.yaml").exists()

    again = beskar(environment, fleet, "images", "mirror", "--site", SITE, *insecure, "-o", "json")
    assert [r["destination"] for r in json.loads(again.stdout)["results"] if r["result"] == "completed"] == \
        [f"{mirror.host}/cache/quay.io__airshipit__glance:2025.1-ubuntu_noble"]

    locked = beskar(environment, fleet, "images", "lock", "--site", SITE, "--insecure")
    assert locked.returncode == 0, locked.stdout + locked.stderr
    lock = yaml.safe_load((fleet / "sites" / SITE / "images.lock.yaml").read_text())["images"]
    assert sorted(lock) == wanted and all(entry["taken"].endswith("Z") for entry in lock.values())

    # Locked, ingress-nginx needs no override any more: the lock's digest replaces the chart's upstream one.
    settings = yaml.safe_load((fleet / "beskar.yaml").read_text())
    del settings["defaults"]["ingress"]
    (fleet / "beskar.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    rendered = beskar(environment, fleet, "render")
    assert rendered.returncode == 0, rendered.stderr
    nova = (fleet / "apps" / SITE / "03-openstack" / "13-nova.yaml").read_text()
    nova_digest = lock["quay.io/airshipit/nova:2025.1-ubuntu_noble"]["digest"]
    assert f"quay.io__airshipit__nova:2025.1-ubuntu_noble@{nova_digest}" in nova

    build = beskar(environment, fleet, "build", SITE, "--format", "json")
    assert build.returncode == 0, build.stderr
    pulled = independent_images(json.loads(build.stdout)["objects"])
    assert pulled, "no images built"
    for image in pulled:  # every image of every pod spec and operator setting, pinned to the locked digest
        name, _, digest = image.partition("@")
        upstream_name = name.removeprefix(f"{mirror.host}/cache/").replace("__", "/")
        assert digest == lock[upstream_name]["digest"], image

    # The pinned site still verifies: by digest now.
    assert beskar(environment, fleet, "images", "verify", "--site", SITE, "--insecure").returncode == 0


class _Garbage(http.server.BaseHTTPRequestHandler):
    """A web server that is not a registry: 200 and HTML for everything."""

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"<html>welcome</html>")

    do_GET = do_HEAD = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def bad_registries(tmp_path_factory, registries):
    """(name, mirror host, extra args, expected message) of a registry that is down, one that refuses the
    credentials (docker-registry with htpasswd; auth.json with a wrong password) and one that answers garbage."""
    work = tmp_path_factory.mktemp("bad-registries")
    guarded = start_registry(work / "guarded", auth=("beskar", "right"))
    garbage = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=garbage.serve_forever, daemon=True)
    thread.start()
    authfile = work / "auth.json"
    authfile.write_text(json.dumps({"auths": {guarded.host: {
        "auth": base64.b64encode(b"beskar:wrong").decode()}}}))
    down = f"127.0.0.1:{free_port()}"
    yield [("down", down, [], f"registry {down} is not reachable"),
           ("refuses", guarded.host, ["--authfile", str(authfile)], f"registry {guarded.host} refused the credentials"),
           ("garbage", f"127.0.0.1:{garbage.server_address[1]}", [], "without a manifest digest")]
    garbage.shutdown()
    garbage.server_close()
    guarded.stop()


def test_a_registry_down_refusing_or_not_a_registry_is_one_message_exit_2_and_no_lock(
        environment, fleet, bad_registries, tmp_path):
    for name, host, extra, message in bad_registries:
        root = tmp_path / name
        shutil.copytree(fleet, root, ignore=shutil.ignore_patterns("images.lock.yaml"))
        settings = (root / "beskar.yaml").read_text()
        mirror_host = yaml.safe_load(settings)["defaults"]["mirror"]["registry"].split("/")[0]
        (root / "beskar.yaml").write_text(settings.replace(mirror_host, host))
        for command in ("verify", "lock") if name == "down" else ("lock",):  # lock verifies first
            result = beskar(environment, root, "images", command, "--site", SITE, "--insecure", *extra)
            assert result.returncode == 2, (name, command, result.stdout, result.stderr)
            assert message in result.stderr, (name, result.stderr)
            assert "Traceback" not in result.stderr
            assert result.stderr.count("error:") == 1
        assert not (root / "sites" / SITE / "images.lock.yaml").exists(), name
