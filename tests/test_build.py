"""`beskar build` of the example fleet through the real charts: every release, fidelity, determinism, atomicity,
and bad input (each at the HelmRelease's file:line, exit 2, nothing written)."""
from __future__ import annotations

import base64
import configparser
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from beskar.check import schemas
from beskar.operations import compilation
from beskar.operations.renders import _cached as cached_render
from build_sources import HELM_REPOSITORY, Served, source_arguments

EXPECTED_RELEASES = {"ingress-nginx", "rook-ceph", "rook-ceph-cluster", "kube-prometheus-stack", "keystone", "nova",
                     "neutron", "mariadb", "memcached", "rabbitmq", "glance", "cinder", "placement", "openvswitch",
                     "libvirt", "heat", "barbican", "horizon", "ceph-adapter-rook"}
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")


def _secret_file(obj, key: str) -> str:
    return base64.b64decode(obj.body["data"][key]).decode()


def _ini(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.read_string(text)
    return parser


def _pod_spec(body) -> dict:
    spec = body.get("spec") or {}
    if body["kind"] == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return spec if body["kind"] == "Pod" else spec["template"]["spec"]


def test_every_release_of_the_example_fleet_builds_and_validates(built_fleet):
    _, builds = built_fleet
    assert [b.site for b in builds] == ["prod-brno", "prod-ostrava"]
    for site in builds:
        assert not site.failures, site.failures
        assert EXPECTED_RELEASES <= {r.release for r in site.releases}
        for release in site.releases:
            assert release.objects, f"{site.site}/{release.release} built no object"
            assert release.chart is not None and release.chart.digest.startswith("sha256:")
        invalid = [(o.key, e.path, e.message) for o in site.objects() for e in schemas.schema_errors(o.body)]
        assert not invalid, invalid[:10]
        kinds = {o.kind for o in site.objects()}
        assert {"Deployment", "StatefulSet", "DaemonSet", "Job", "ConfigMap", "Secret", "Service", "Ingress",
                "CustomResourceDefinition", "HelmRelease", "Kustomization", "GitRepository"} <= kinds
        counted = sum(1 for o in site.objects() if schemas.knows(o.body))
        print(f"{site.site}: {len(site.releases)} releases, {sum(1 for _ in site.objects())} objects, "
              f"{counted} validated against a schema")
    brno = builds[0]
    assert brno.release("nova").chart.version == "2026.1.0"  # the fleet's pinned tag
    assert brno.release("ingress-nginx").chart.version == "4.12.8"  # `4.12.*` resolved from the index
    assert brno.release("designate") is not None and builds[1].release("designate") is None


def test_each_flavor_family_daemonset_carries_its_cpu_allocation_ratio(built_fleet):
    root, builds = built_fleet
    compiled = compilation.compile_fleet(root)
    for site in builds:
        model = compiled.sites[site.site]
        nova = site.release("nova")
        daemonsets = [o for o in nova.objects if o.kind == "DaemonSet" and o.name.startswith("nova-compute")]
        seen = {}
        for daemonset in daemonsets:
            spec = _pod_spec(daemonset.body)
            terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            families = {v for t in terms["nodeSelectorTerms"] for e in t["matchExpressions"]
                        if e["key"] == "beskar-flavor-family" and e["operator"] == "In" for v in e["values"]}
            secrets = [v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v]
            conf = next(_secret_file(site.find("Secret", "openstack", s), "nova.conf") for s in secrets
                        if site.find("Secret", "openstack", s) is not None
                        and "nova.conf" in site.find("Secret", "openstack", s).body.get("data", {}))
            ratio = float(_ini(conf).get("DEFAULT", "cpu_allocation_ratio"))
            for family in families:
                seen[family] = ratio
        with_computes = {n.flavor_family for n in model.nodes if n.flavor_family}
        expected = {f.name: f.cpu_allocation_ratio for f in model.flavor_families if f.name in with_computes}
        assert seen == expected and len(expected) >= 2


def test_neutron_and_keystone_carry_the_site_networks_and_endpoint(built_fleet):
    root, builds = built_fleet
    compiled = compilation.compile_fleet(root)
    for site in builds:
        model = compiled.sites[site.site]
        providers = [n for n in model.networks if n.purpose == "provider"]
        neutron_etc = site.find("Secret", "openstack", "neutron-etc")
        ml2 = _ini(_secret_file(neutron_etc, "ml2_conf.ini"))
        for network in providers:
            physnet = network.physnet or "external"
            assert f"{physnet}:{network.mtu}" in ml2.get("ml2", "physical_network_mtus")
            if network.vlan:
                assert f"{physnet}:{network.vlan}:{network.vlan}" in ml2.get("ml2_type_vlan", "network_vlan_ranges")
        agent = _ini(_secret_file(neutron_etc, "openvswitch_agent.ini"))
        assert agent.get("ovs", "bridge_mappings") == ",".join(
            f"{n.physnet or 'external'}:{n.bridge or 'br-ex'}" for n in providers)
        hosts = {rule["host"] for o in site.release("keystone").objects if o.kind == "Ingress"
                 for rule in o.body["spec"].get("rules", [])}
        assert f"identity.{model.domain}" in hosts


def test_every_image_of_the_openstack_helm_charts_comes_through_the_mirror(built_fleet):
    # Upstream charts (ingress-nginx, rook, kube-prometheus-stack) keep their registries: mirroring them is issue 14.
    root, builds = built_fleet
    compiled = compilation.compile_fleet(root)
    for site in builds:
        mirror = compiled.sites[site.site].mirror.registry
        images = set()
        for release in site.releases:
            if release.chart.source_kind != "GitRepository":
                continue
            for obj in release.objects:
                if obj.kind in WORKLOADS:
                    spec = _pod_spec(obj.body)
                    images |= {c["image"] for c in spec.get("containers", []) + spec.get("initContainers", [])}
        assert images
        assert sorted(i for i in images if not i.startswith(mirror + "/")) == []


def test_no_secret_value_in_the_build_without_show_secrets(built_fleet):
    _, builds = built_fleet
    brno = builds[0]
    assert all(r.placeholders for r in brno.releases)  # no SOPS key in the test environment
    conf = _secret_file(brno.find("Secret", "openstack", "nova-etc"), "nova.conf")
    assert "BESKAR_SECRET.nova.oslo_db.nova.password" in conf
    common = brno.find("Secret", "openstack", "common")
    assert "sops" not in common.body and all(v.startswith("BESKAR_SECRET.") for v in common.body["stringData"].values())


def _cli_env(cache: Path, seed: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
    env.update(BESKAR_CACHE=str(cache), PYTHONHASHSEED=seed, NO_COLOR="1", COLUMNS="200")
    return env


def _build_cli(fleet: Path, args: list[str], cache: Path, seed: str = "0", timeout: float = 300):
    return subprocess.run([sys.executable, "-m", "beskar", "build", "-C", str(fleet), *args], capture_output=True,
                          env=_cli_env(cache, seed), timeout=timeout)


def test_same_bytes_twice_any_hash_seed_cold_or_cached(built_fleet, example_sources, build_cache, tmp_path):
    root, _ = built_fleet
    args = ["prod-brno", "--release", "keystone,memcached", *source_arguments(example_sources)]
    warm = _build_cli(root, args, build_cache, seed="1")
    cold = _build_cli(root, args + ["-j", "1"], tmp_path / "cold-cache", seed="2")
    assert warm.returncode == 0, warm.stderr
    assert cold.returncode == 0, cold.stderr
    assert warm.stdout == cold.stdout and b"kind: Deployment" in warm.stdout
    first = _build_cli(root, args + ["--output", str(tmp_path / "a")], build_cache, seed="3")
    second = _build_cli(root, args + ["--output", str(tmp_path / "b")], tmp_path / "cold-cache", seed="4")
    assert first.returncode == second.returncode == 0
    files_a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*.yaml")}
    files_b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*.yaml")}
    assert files_a == files_b
    assert Path("prod-brno/03-openstack/keystone/Deployment-keystone-api.yaml") in files_a


def test_progress_one_line_per_release_on_stderr_and_none_with_json(built_fleet, example_sources, tmp_path):
    root, _ = built_fleet
    args = ["prod-brno", "--release", "keystone,memcached", *source_arguments(example_sources)]
    lines = []
    for run in ("cold", "again"):  # rendered, then the whole site from the cache
        done = _build_cli(root, args, tmp_path / "cache")
        assert done.returncode == 0, done.stderr
        lines.append([line for line in done.stderr.decode().splitlines() if line.startswith("[")])
    how = ("built", "from the cache")
    for found, expected in zip(lines, how):
        assert [line.split("] ")[0] for line in found] == ["[1/2", "[2/2"], found
        assert sorted(line.split("] ")[1] for line in found) == [f"prod-brno keystone {expected}",
                                                                 f"prod-brno memcached {expected}"]
    as_json = _build_cli(root, [*args, "--format", "json"], tmp_path / "cache")
    assert as_json.returncode == 0, as_json.stderr
    assert not [line for line in as_json.stderr.decode().splitlines() if line.startswith("[")], as_json.stderr
    assert {o["release"] for o in json.loads(as_json.stdout)["objects"] if o["release"]} == {"keystone", "memcached"}


def test_a_killed_build_leaves_no_output_and_no_corrupt_cache(built_fleet, example_sources, tmp_path):
    root, builds = built_fleet
    cache, output = tmp_path / "cache", tmp_path / "out"
    args = ["prod-brno", "--release", "nova,neutron,keystone,glance", "--output", str(output), "-j", "2",
            *source_arguments(example_sources)]
    process = subprocess.Popen([sys.executable, "-m", "beskar", "build", "-C", str(root), *args],
                               env=_cli_env(cache, "0"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list((cache / "renders").rglob("*.json")) and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not list(output.rglob("*.yaml")) if output.exists() else True
    for entry in (cache / "renders").rglob("*.json"):
        assert cached_render(cache, entry.stem) is not None, f"{entry} is corrupt"
    # Corrupt what is there: a render entry and a file of a chart; both are detected and made again.
    renders = sorted((cache / "renders").rglob("*.json"))
    if renders:
        renders[0].write_text(renders[0].read_text()[:-40])
    charts = sorted((cache / "charts").glob("*/*/values.yaml"))
    if charts:
        charts[0].write_text("corrupted: true\n")
    finished = _build_cli(root, args, cache)
    assert finished.returncode == 0, finished.stderr
    expected = {o.path for name in ("nova", "neutron", "keystone", "glance") for o in builds[0].release(name).objects}
    written = {p.relative_to(output).as_posix() for p in output.rglob("*.yaml")}
    assert expected <= written
    nova = next(o for o in builds[0].release("nova").objects if o.kind == "Deployment")
    assert f"name: {nova.name}" in (output / nova.path).read_text()


# ---- bad input: one clear message at the HelmRelease's file:line, exit 2, no traceback, nothing written

@pytest.fixture
def fleet_copy(built_fleet, tmp_path) -> Path:
    root = tmp_path / "fleet"
    shutil.copytree(built_fleet[0], root)
    return root


def _fails(fleet: Path, sources: dict[str, str], cache: Path, tmp_path: Path, *extra: str) -> str:
    output = tmp_path / "never"
    done = _build_cli(fleet, ["prod-brno", "--output", str(output), *source_arguments(sources), *extra], cache)
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert not output.exists()
    return stderr


def _line_of(fleet: Path, file: str, text: str) -> int:
    emitted = compilation.compile_fleet(fleet, ["prod-brno"]).emitted()[file].decode().splitlines()
    return next(i for i, line in enumerate(emitted, 1) if text in line)


def _small_git_repository(path: Path, charts: list[str], osh: Path) -> Path:
    path.mkdir()
    for chart in charts:
        shutil.copytree(osh / chart, path / chart)
    for command in (["init", "-q", "-b", "main"], ["add", "-A"],
                    ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "some charts"],
                    ["tag", "2026.1.0"]):
        subprocess.run(["git", *command], cwd=path, check=True, capture_output=True)
    return path


def test_bad_input_chart_not_at_the_ref(fleet_copy, example_sources, osh_clone, build_cache, tmp_path):
    repository = _small_git_repository(tmp_path / "osh-small", ["helm-toolkit", "keystone"], osh_clone)
    stderr = _fails(fleet_copy, {**example_sources, "openstack-helm": str(repository)}, build_cache, tmp_path)
    file = "apps/prod-brno/03-openstack/13-nova.yaml"
    assert f"{file}:{_line_of(fleet_copy, file, 'chart:')}" in stderr
    assert "chart ./nova is not in GitRepository flux-system/openstack-helm" in stderr and "tag 2026.1.0" in stderr


def _repository_copy(tmp_path: Path, edit) -> Path:
    folder = tmp_path / "repository"
    shutil.copytree(HELM_REPOSITORY, folder)
    edit(folder)
    return folder


@pytest.mark.parametrize("case", ["no-version", "corrupt-archive", "unreachable"])
def test_bad_input_helm_repository(case, fleet_copy, example_sources, tmp_path):
    file = "apps/prod-brno/01-support/01-ingress-nginx.yaml"

    def renamed(folder: Path) -> None:
        index = folder / "index.yaml"
        index.write_text(index.read_text().replace("version: 4.12.8", "version: 4.13.0"))

    def corrupted(folder: Path) -> None:
        archive = folder / "ingress-nginx-4.12.8.tgz"
        archive.write_bytes(archive.read_bytes()[:-100] + b"\0" * 100)

    if case == "unreachable":
        served, location = None, "http://127.0.0.1:9"
    else:
        served = Served(_repository_copy(tmp_path, renamed if case == "no-version" else corrupted))
        location = served.url
    try:
        stderr = _fails(fleet_copy, {**example_sources, "ingress-nginx": location}, tmp_path / "cache", tmp_path)
    finally:
        if served:
            served.stop()
    assert f"{file}:{_line_of(fleet_copy, file, 'chart:')}" in stderr
    assert {"no-version": "no version of chart ingress-nginx in HelmRepository flux-system/ingress-nginx satisfies "
                          "'4.12.*' (it has 4.13.0)",
            "corrupt-archive": "corrupt archive ingress-nginx-4.12.8",
            "unreachable": "cannot read the index of HelmRepository flux-system/ingress-nginx"}[case] in stderr


def test_bad_input_template_error_from_site_values(fleet_copy, example_sources, build_cache, tmp_path):
    site = fleet_copy / "sites/prod-brno/site.yaml"
    site.write_text(site.read_text().replace("openstack:\n", "openstack:\n  memcached: {values: {manifests: broken}}\n", 1))
    stderr = _fails(fleet_copy, example_sources, build_cache, tmp_path, "--release", "memcached")
    file = "apps/prod-brno/03-openstack/04-memcached.yaml"
    assert f"{file}:{_line_of(fleet_copy, file, 'values:')}" in stderr
    assert "HelmRelease memcached does not render" in stderr and "can't evaluate field statefulset" in stderr


def test_bad_input_values_from_key_the_secret_lacks(fleet_copy, example_sources, build_cache, tmp_path):
    secrets = fleet_copy / "sites/prod-brno/secrets.sops.yaml"
    secrets.write_text("".join(line for line in secrets.read_text().splitlines(keepends=True)
                               if not line.strip().startswith("nova.oslo_db.nova.password:")))
    stderr = _fails(fleet_copy, example_sources, build_cache, tmp_path, "--release", "nova")
    file = "apps/prod-brno/03-openstack/13-nova.yaml"
    line = _line_of(fleet_copy, file, "valuesKey: nova.oslo_db.nova.password")
    assert f"{file}:{line}" in stderr
    assert "Secret openstack/common has no key 'nova.oslo_db.nova.password'" in stderr


def test_unknown_chart_source_override_is_an_input_error(fleet_copy, tmp_path, build_cache):
    done = _build_cli(fleet_copy, ["prod-brno", "--chart-source", "openstack-helm"], build_cache)
    assert done.returncode == 2 and b"is not NAME=PATH" in done.stderr


def test_secret_values_only_with_show_secrets(built_fleet, example_sources, build_cache, tmp_path):
    root, _ = built_fleet
    key = root / "demo-keys" / "DEMO-prod-brno.agekey"
    from beskar.operations import secrets as site_secrets
    from beskar.secrets import age

    values, _ = site_secrets.show(root, "prod-brno", lambda: age.load_identities([key], {}))
    password = values["keystone.oslo_db.keystone.password"]
    args = ["prod-brno", "--release", "keystone", "--kind", "Secret", *source_arguments(example_sources)]
    env = {**_cli_env(build_cache, "0"), "SOPS_AGE_KEY_FILE": str(key)}
    hidden = subprocess.run([sys.executable, "-m", "beskar", "build", "-C", str(root), *args], capture_output=True,
                            env=env, timeout=300)
    shown = subprocess.run([sys.executable, "-m", "beskar", "build", "-C", str(root), *args, "--show-secrets"],
                           capture_output=True, env=env, timeout=300)
    assert hidden.returncode == shown.returncode == 0, hidden.stderr + shown.stderr

    def decoded(stdout: bytes) -> str:
        import yaml
        bodies = [d for d in yaml.safe_load_all(stdout) if d]
        return "\n".join(base64.b64decode(v).decode(errors="replace") for b in bodies
                         for v in (b.get("data") or {}).values())

    assert password not in decoded(hidden.stdout) and password.encode() not in hidden.stdout
    assert "BESKAR_SECRET.keystone.oslo_db.keystone.password" in decoded(hidden.stdout)
    assert password in decoded(shown.stdout)
    for entry in build_cache.rglob("*.json"):  # nothing on disk holds the value either
        assert password not in entry.read_text()


def test_charts_list_and_clean(built_fleet, build_cache, tmp_path):
    listed = subprocess.run([sys.executable, "-m", "beskar", "charts", "list", "--format", "json"], capture_output=True,
                            env=_cli_env(build_cache, "0"), timeout=120)
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert {"git", "chart"} <= {e["kind"] for e in entries}
    assert any(e["kind"] == "git" and e["ref"] == "tag 2026.1.0" for e in entries)
    assert any(e["kind"] == "chart" and e["ref"] == "4.12.8" for e in entries)
    other = tmp_path / "cache"
    (other / "renders" / "ab").mkdir(parents=True)
    (other / "renders" / "ab" / "abc.json").write_text("{}")
    cleaned = subprocess.run([sys.executable, "-m", "beskar", "charts", "clean"], capture_output=True,
                             env=_cli_env(other, "0"), timeout=120)
    assert cleaned.returncode == 0 and not any(other.iterdir())


def _progress_lines(done) -> list[str]:
    return sorted(line.split("] ", 1)[1] for line in done.stderr.decode().splitlines() if line.startswith("["))


def test_a_change_to_one_site_renders_only_the_release_it_changes(fleet_copy, example_sources, tmp_path):
    args = ["--release", "nova,keystone", *source_arguments(example_sources)]
    cache = tmp_path / "cache"
    first = _build_cli(fleet_copy, args, cache)
    assert first.returncode == 0, first.stderr
    assert _progress_lines(first) == sorted(f"{site} {release} built" for site in ("prod-brno", "prod-ostrava")
                                            for release in ("keystone", "nova"))
    site = fleet_copy / "sites" / "prod-brno" / "site.yaml"
    site.write_text(site.read_text().replace("cpu_allocation_ratio: 3.0", "cpu_allocation_ratio: 2.5", 1))
    second = _build_cli(fleet_copy, args, cache)
    assert second.returncode == 0, second.stderr
    assert _progress_lines(second) == ["prod-brno keystone from the cache", "prod-brno nova built",
                                       "prod-ostrava keystone from the cache", "prod-ostrava nova from the cache"]
    # The stored builds are the builds: the same bytes as a build with an empty cache.
    again = _build_cli(fleet_copy, args, cache)
    cold = _build_cli(fleet_copy, args, tmp_path / "cold")
    assert again.returncode == cold.returncode == 0
    assert again.stdout == cold.stdout and b"kind: DaemonSet" in again.stdout
    assert _progress_lines(again) == sorted(f"{site} {release} from the cache" for site in ("prod-brno", "prod-ostrava")
                                            for release in ("keystone", "nova"))
