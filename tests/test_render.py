"""What the example fleet renders to: dependencies, networking, Ceph, endpoints, flavors, secrets."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from beskar.problems import InputError
import yaml

from beskar import tree as trees
from beskar.catalog import catalog
from beskar.fleet.examples import write_example
from beskar.operations.compilation import compile_fleet, render_fleet


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    root = tmp_path_factory.mktemp("render") / "fleet"
    write_example(root)
    return compile_fleet(root)


def release(compiled, site, name):
    for path, documents in compiled.rendered[site].tree.files.items():
        for document in documents:
            if document.get("kind") == "HelmRelease" and document["metadata"]["name"] == name:
                return document
    raise KeyError(name)


def releases(compiled, site):
    return [d for docs in compiled.rendered[site].tree.files.values() for d in docs if d.get("kind") == "HelmRelease"]


def test_depends_on_names_only_releases_of_the_site(compiled):
    for site in compiled.rendered:
        names = {(r["metadata"]["name"], r["metadata"]["namespace"]) for r in releases(compiled, site)}
        for r in releases(compiled, site):
            for dependency in r["spec"].get("dependsOn", []):
                namespace = dependency.get("namespace", r["metadata"]["namespace"])
                assert (dependency["name"], namespace) in names, (site, r["metadata"]["name"], dependency)
    # octavia is off in both sites, designate only in brno: nothing may wait on what is not there
    brno = {r["metadata"]["name"] for r in releases(compiled, "prod-brno")}
    ostrava = {r["metadata"]["name"] for r in releases(compiled, "prod-ostrava")}
    assert "designate" in brno and "designate" not in ostrava
    assert "octavia" not in brno | ostrava
    assert [d["name"] for d in release(compiled, "prod-brno", "nova")["spec"]["dependsOn"]] == [
        "keystone", "glance", "placement", "libvirt"]


def test_files_are_numbered_by_catalog_order(compiled):
    files = sorted(p for p in compiled.rendered["prod-brno"].tree.files if "/03-openstack/" in p)
    names = [Path(p).name for p in files]
    assert names[:4] == ["02-ceph-adapter-rook.yaml", "03-mariadb.yaml", "04-memcached.yaml", "05-rabbitmq.yaml"]
    assert "06-keystone.yaml" in names and names[-1] == "kustomization.yaml"


def test_flux_kustomizations_chain_layers_with_sops(compiled):
    tree = compiled.rendered["prod-brno"].tree.files
    chain = []
    for layer in ("00-common", "01-support", "02-ceph", "03-openstack", "04-lma"):
        (kustomization,) = tree[f"clusters/prod-brno/{layer}.yaml"]
        spec = kustomization["spec"]
        assert spec["path"] == f"./apps/prod-brno/{layer}"
        assert spec["decryption"] == {"provider": "sops", "secretRef": {"name": "sops-age-key-prod-brno"}}
        assert spec["prune"] is True and spec["wait"] is True
        chain.append((kustomization["metadata"]["name"], [d["name"] for d in spec.get("dependsOn", [])]))
    assert chain == [("apps-common", []), ("apps-support", ["apps-common"]), ("apps-ceph", ["apps-support"]),
                     ("apps-openstack", ["apps-ceph"]), ("apps-lma", ["apps-openstack"])]


def test_chart_source_is_pinned_to_the_release_ref(compiled):
    sources = compiled.rendered["prod-brno"].tree.files["clusters/prod-brno/sources.yaml"]
    chart_source = next(d for d in sources if d["metadata"]["name"] == "openstack-helm")
    assert chart_source["kind"] == "GitRepository"
    assert chart_source["spec"]["ref"] == {"tag": catalog().releases["2025.1"].charts_ref}
    fleet_source = next(d for d in sources if d["metadata"]["name"] == "fleet")
    assert fleet_source["spec"]["url"] == "https://gitlab.example.org/cloud/fleet.git"


def test_neutron_networking_follows_the_site_networks(compiled):
    values = release(compiled, "prod-brno", "neutron")["spec"]["values"]
    assert values["network"]["interface"]["tunnel"] == "bond0.2505"
    assert values["network"]["interface"]["tunnel_network_cidr"] == "10.16.5.0/24"
    assert values["conf"]["neutron"]["DEFAULT"]["global_physnet_mtu"] == 9000
    plugins = values["conf"]["plugins"]
    assert plugins["openvswitch_agent"]["ovs"]["bridge_mappings"] == "external:br-ex"
    assert plugins["ml2_conf"]["ml2_type_vlan"]["network_vlan_ranges"] == "external:2506:2506"
    assert plugins["ml2_conf"]["ml2"]["physical_network_mtus"] == "external:9000"
    assert values["conf"]["auto_bridge_add"] == {"br-ex": "bond0"}
    assert values["labels"]["agent"]["l3"] == {"node_selector_key": "openstack-network-node",
                                               "node_selector_value": "enabled"}
    ostrava = release(compiled, "prod-ostrava", "neutron")["spec"]["values"]
    assert ostrava["conf"]["plugins"]["ml2_conf"]["ml2"]["physical_network_mtus"] == "external:1500"


def test_nova_cpu_allocation_ratio_per_flavor_family(compiled):
    values = release(compiled, "prod-brno", "nova")["spec"]["values"]
    assert values["conf"]["nova"]["DEFAULT"]["cpu_allocation_ratio"] == 3.0
    overrides = values["conf"]["overrides"]["nova_compute"]["labels"]
    ratios = {o["label"]["values"][0]: o["conf"]["nova"]["DEFAULT"]["cpu_allocation_ratio"] for o in overrides}
    assert ratios == {"e1": 8.0, "c2": 2.0, "c3": 1.0, "g2": 1.0}
    assert {o["label"]["key"] for o in overrides} == {catalog().node_labels["flavor_family_label"]}
    # ostrava has no c3 computes: no override for a family nobody carries
    ostrava = release(compiled, "prod-ostrava", "nova")["spec"]["values"]
    assert {o["label"]["values"][0] for o in ostrava["conf"]["overrides"]["nova_compute"]["labels"]} == {"e1", "c2"}
    assert ostrava["conf"]["nova"]["DEFAULT"]["cpu_allocation_ratio"] == 4.0


def test_ceph_pools_and_users_for_glance_cinder_nova(compiled):
    glance = release(compiled, "prod-brno", "glance")["spec"]["values"]
    assert glance["storage"] == "rbd"
    assert glance["conf"]["glance"]["rbd"] == {"rbd_store_pool": "images", "rbd_store_user": "glance"}
    assert glance["manifests"]["job_storage_init"] is False
    cinder = release(compiled, "prod-brno", "cinder")["spec"]["values"]
    assert cinder["conf"]["backends"]["rbd1"] == {"rbd_pool": "volumes", "rbd_user": "cinder"}
    nova = release(compiled, "prod-brno", "nova")["spec"]["values"]
    assert nova["conf"]["nova"]["libvirt"]["images_rbd_pool"] == "vms"
    uuid_readers = {(r["metadata"]["name"], v["targetPath"]) for r in releases(compiled, "prod-brno")
                    for v in r["spec"].get("valuesFrom", []) if v["valuesKey"].endswith("rbd_secret_uuid")}
    assert uuid_readers == {("cinder", "conf.backends.rbd1.rbd_secret_uuid"), ("libvirt", "conf.ceph.cinder.secret_uuid"),
                            ("nova", "conf.ceph.cinder.secret_uuid"), ("nova", "conf.nova.libvirt.rbd_secret_uuid")}


def test_public_endpoints_under_the_site_domain(compiled):
    keystone = release(compiled, "prod-brno", "keystone")["spec"]["values"]["endpoints"]["identity"]
    assert keystone["host_fqdn_override"]["public"]["host"] == "identity.brno.cloud.example.org"
    assert keystone["scheme"]["public"] == "https"
    assert keystone["auth"]["admin"]["region_name"] == "brno"
    nova = release(compiled, "prod-ostrava", "nova")["spec"]["values"]["endpoints"]
    assert nova["compute"]["host_fqdn_override"]["public"]["host"] == "compute.ostrava.cloud.example.org"
    assert nova["cluster_domain_suffix"] == "cluster.local"


def test_profile_and_site_overrides_reach_the_values(compiled):
    nova = release(compiled, "prod-brno", "nova")["spec"]["values"]
    assert nova["conf"]["nova"]["DEFAULT"]["resume_guests_state_on_host_boot"] is True  # from the profile
    assert set(nova["pod"]["replicas"].values()) == {3}
    heat = release(compiled, "prod-ostrava", "heat")["spec"]["values"]
    assert set(heat["pod"]["replicas"].values()) == {1}  # site overrides the profile's 2


def test_secret_keys_are_exactly_what_the_releases_read(compiled):
    for site, rendered in compiled.rendered.items():
        read = {v["valuesKey"] for r in releases(compiled, site) for v in r["spec"].get("valuesFrom", [])}
        assert {need.key for need in rendered.secrets} == read
        assert all(v["name"] == "common" and v["kind"] == "Secret"
                   for r in releases(compiled, site) for v in r["spec"].get("valuesFrom", []))
    keys = {n.key: n for n in compiled.rendered["prod-brno"].secrets}
    assert "nova.oslo_db.nova.password" in keys
    assert keys["keystone.identity.admin.password"].readers[:2] == ("barbican", "cinder")
    assert keys["nova.network.ssh.private_key"].kind == "ssh_private_key"
    assert "designate.identity.designate.password" not in {n.key for n in compiled.rendered["prod-ostrava"].secrets}


def test_same_input_same_bytes_across_hash_seeds(tmp_path):
    outputs = []
    for seed in ("1", "4242"):
        root = tmp_path / f"seed{seed}"
        write_example(root)
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "beskar", "render", "-C", str(root)], env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        outputs.append({p.relative_to(root).as_posix(): p.read_bytes()
                        for p in sorted(root.rglob("*")) if p.is_file()})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) > 60


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".beskar" not in p.parts}


def test_render_check_reports_stale_missing_and_extra(tmp_path):
    root = tmp_path / "fleet"
    write_example(root)
    render_fleet(root)
    assert all(d.change is trees.Change.UNCHANGED for d in render_fleet(root, check=True)[1])
    nova = root / "apps/prod-brno/03-openstack/13-nova.yaml"
    nova.write_text(nova.read_text().replace("cpu_allocation_ratio: 3.0", "cpu_allocation_ratio: 9.0"))
    (root / "apps/prod-brno/03-openstack/06-keystone.yaml").unlink()
    (root / "apps/prod-brno/03-openstack/99-old.yaml").write_text(trees.GENERATED_MARK + " by hand\n")
    (root / "clusters/prod-brno/flux-system").mkdir()
    (root / "clusters/prod-brno/flux-system/gotk-sync.yaml").write_text("kind: hand-written\n")
    done = subprocess.run([sys.executable, "-m", "beskar", "render", "--check", "-C", str(root), "-o", "json"],
                          capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    report = yaml.safe_load(done.stdout)
    assert {(c["path"], c["change"]) for c in report["changes"]} == {
        ("apps/prod-brno/03-openstack/13-nova.yaml", "stale"),
        ("apps/prod-brno/03-openstack/06-keystone.yaml", "missing"),
        ("apps/prod-brno/03-openstack/99-old.yaml", "extra"),
    }
    render_fleet(root)
    assert (root / "clusters/prod-brno/flux-system/gotk-sync.yaml").read_text() == "kind: hand-written\n"
    assert not (root / "apps/prod-brno/03-openstack/99-old.yaml").exists()
    assert "cpu_allocation_ratio: 3.0" in nova.read_text()


def test_bootstrapped_site_lists_flux_system(tmp_path):
    root = tmp_path / "fleet"
    write_example(root)
    (root / "clusters/prod-brno/flux-system").mkdir(parents=True)
    (root / "clusters/prod-brno/flux-system/kustomization.yaml").write_text("resources: []\n")
    compiled = compile_fleet(root)
    (document,) = compiled.rendered["prod-brno"].tree.files["clusters/prod-brno/kustomization.yaml"]
    assert "flux-system" in document["resources"]
    (document,) = compiled.rendered["prod-ostrava"].tree.files["clusters/prod-ostrava/kustomization.yaml"]
    assert "flux-system" not in document["resources"]


def test_a_failed_write_leaves_the_previous_tree(tmp_path, monkeypatch):
    root = tmp_path / "fleet"
    write_example(root)
    render_fleet(root)
    before = snapshot(root)
    site = root / "sites/prod-brno/site.yaml"
    site.write_text(site.read_text().replace("cpu_allocation_ratio: 3.0", "cpu_allocation_ratio: 5.0")
                    .replace("region: brno", "region: brno-1"))
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(InputError, match="No space left on device; nothing was changed"):
        render_fleet(root)
    monkeypatch.undo()
    after = snapshot(root)
    assert {k: v for k, v in after.items() if not k.startswith("sites/")} == \
           {k: v for k, v in before.items() if not k.startswith("sites/")}
    changes = render_fleet(root)[1]  # the next run discards the half stage and writes everything
    assert sum(c.change is trees.Change.UPDATED for c in changes) > 5
    assert not (root / trees.JOURNAL_DIR).exists()


def test_a_killed_render_leaves_old_or_new_tree_never_a_mix(tmp_path):
    root = tmp_path / "fleet"
    write_example(root)
    render_fleet(root)
    site = root / "sites/prod-brno/site.yaml"
    site.write_text(site.read_text().replace("region: brno", "region: brno-2"))
    old = snapshot(root)
    new_root = tmp_path / "reference"
    shutil.copytree(root, new_root)
    render_fleet(new_root)
    new = snapshot(new_root)
    assert old != new
    outcomes = set()
    for delay in (0.05, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5):
        process = subprocess.Popen([sys.executable, "-m", "beskar", "render", "-C", str(root)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        trees.recover(root)  # what the next beskar command does first
        state = snapshot(root)
        assert state in (old, new), f"a mixed tree after a kill at {delay}s"
        outcomes.add("new" if state == new else "old")
        if state == new:  # put the old tree back for the next round
            for path, content in old.items():
                (root / path).write_bytes(content)
    assert outcomes  # at least one kill landed; which ones depends on the machine's speed


def test_sites_rendered_by_forked_workers_give_the_same_tree_record_and_figures(tmp_path, monkeypatch):
    from beskar.operations import emission, rendering

    results, trees_written = [], []
    for label, fewest in (("here", 10_000), ("forked", 1)):
        monkeypatch.setattr(emission, "MIN_PARALLEL_SITES", fewest)
        root = tmp_path / label
        write_example(root)
        results.append(rendering.render_tree(root))
        trees_written.append({p.relative_to(root).as_posix(): p.read_bytes()
                              for p in sorted(root.rglob("*")) if p.is_file() and "lock" not in p.name})
    assert results[0] == results[1] and len(results[0].sites) >= 2
    assert trees_written[0] == trees_written[1]
    assert any(path.startswith(".beskar/") for path in trees_written[0])  # the render record is compared too
