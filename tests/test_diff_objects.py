"""The object layer of `beskar diff` on plain object lists: semantic diff, config files by line, secrets as digests,
chart label noise, and every risk flag."""
from __future__ import annotations

import base64
import copy
import json

from beskar.diff import Change, Manifest, Risk
from beskar.diff.objects import diff_objects
from beskar.diff.risks import flags, scheduled_nodes
from beskar.diff.structure import compare, dotted
from beskar.diff.texts import diff_text, masked_line

NOVA_CONF = """[DEFAULT]
cpu_allocation_ratio = 3.0
ram_allocation_ratio = 1.0
[database]
connection = mysql+pymysql://nova:{password}@mariadb.openstack.svc:3306/nova
[keystone_authtoken]
password = {password}
memcache_secret_key = {password}
username = nova
"""
NODES = {
    "cmp-1": {"openstack-compute-node": "enabled", "beskar.io/flavor-family": "e1"},
    "cmp-2": {"openstack-compute-node": "enabled", "beskar.io/flavor-family": "c2"},
    "cmp-3": {"openstack-compute-node": "enabled", "beskar.io/flavor-family": "c2"},
    "ctl-1": {"openstack-control-plane": "enabled"},
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _labels(version: str) -> dict:
    return {"app": "nova", "helm.sh/chart": f"nova-{version}", "app.kubernetes.io/version": version}


def _daemonset(name: str, family: str, checksum: str, version: str = "2026.1.0") -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "openstack",
                                                                 "labels": _labels(version)},
        "spec": {"selector": {"matchLabels": {"app": "nova"}}, "template": {
            "metadata": {"labels": _labels(version), "annotations": {"configmap-etc-hash": checksum}},
            "spec": {"nodeSelector": {"openstack-compute-node": "enabled"},
                     "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                         "nodeSelectorTerms": [{"matchExpressions": [
                             {"key": "beskar.io/flavor-family", "operator": "In", "values": [family]}]}]}}},
                     "containers": [{"name": "nova-compute", "image": "mirror/quay.io__airshipit__nova:2025.1-ubuntu_noble",
                                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}}}}


def _objects(ratio: str = "3.0", password: str = "s3cret-Passw0rd-123", checksum: str = "aaa",
             version: str = "2026.1.0") -> list[Manifest]:
    conf = NOVA_CONF.replace("3.0", ratio).format(password=password)
    objects = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nova-etc", "namespace": "openstack",
                                                            "labels": _labels(version)},
         "data": {"nova.conf": _b64(conf), "token": _b64(password)}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nova-bin", "namespace": "openstack"},
         "data": {"policy.yaml": "a: 1\nb: 2\n", "start.sh": "#!/bin/sh\nexec nova-compute\n"}},
        _daemonset("nova-compute-e1", "e1", "aaa", version),
        _daemonset("nova-compute-c2", "c2", checksum, version),
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "nova-db-sync", "namespace": "openstack"},
         "spec": {"template": {"spec": {"containers": [{"name": "db-sync", "image": "nova:2025.1"}]}}}},
    ]
    return [Manifest("03-openstack", "nova", body) for body in objects]


def test_structure_matches_named_items_and_brackets_dotted_keys():
    old = {"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]},
           "labels": {"app.kubernetes.io/name": "n"}}
    new = copy.deepcopy(old)
    new["spec"]["containers"].reverse()
    new["spec"]["containers"][0]["image"] = "y:2"
    new["labels"]["app.kubernetes.io/name"] = "m"
    leaves = [(dotted(leaf.path), leaf.old, leaf.new) for leaf in compare(old, new)]
    assert leaves == [("spec.containers[b].image", "y:1", "y:2"), ('labels["app.kubernetes.io/name"]', "n", "m")]


def test_config_file_in_a_secret_by_line_with_credentials_as_digests():
    base, head = _objects(), _objects(ratio="2.5", password="An0ther-Passw0rd-456")
    changes = {str(c.key): c for c in diff_objects(base, head, salt="t")}
    secret = changes["Secret openstack/nova-etc"]
    text = next(t for t in secret.texts if t.path == 'data["nova.conf"]')
    assert text.format == "ini"
    assert "[DEFAULT]" in text.lines and "-cpu_allocation_ratio = 3.0" in text.lines
    assert "+cpu_allocation_ratio = 2.5" in text.lines
    shown = json.dumps([list(t.lines) for t in secret.texts] + [[f.old, f.new] for f in secret.fields])
    for value in ("s3cret-Passw0rd-123", "An0ther-Passw0rd-456"):
        assert value not in shown
    assert any(line.startswith("-password = <secret sha256:") for line in text.lines)
    assert any(line.startswith("+connection = <secret sha256:") for line in text.lines)
    token = next(f for f in secret.fields if f.path == "data.token")
    assert token.secret and token.old != token.new and token.old.startswith("sha256:")


def test_same_secret_value_gives_the_same_digest_and_placeholders_stay_readable():
    assert masked_line("password = x1", "s") == masked_line("password = x1", "s")
    assert masked_line("password = x1", "s") != masked_line("password = x2", "s")
    assert masked_line("password = BESKAR_SECRET.nova.oslo_db.nova.password", "s").endswith(".password")
    assert "pass@" not in masked_line("transport_url = rabbit://nova:pass@rabbitmq:5672/", "s")
    assert masked_line("connection = mysql://nova:BESKAR_SECRET.nova.oslo_db.nova.password@db/nova",
                       "s").endswith("@db/nova")
    assert masked_line("username = nova", "s") == "username = nova"


def test_yaml_inside_a_configmap_is_diffed_after_sorting_its_keys():
    change = diff_text('data["policy.yaml"]', "b: 2\na: 1\n", "a: 1\nb: 3\n")
    assert change.format == "yaml" and change.lines == ("@@ line 2", "-b: 2", "+b: 3")
    assert diff_text('data["nova_keystone_authtoken.conf"]', "a = 1\n", "a = 2\n").format == "ini"
    assert diff_text("data.start", "#!/bin/sh\nexec a\n", "#!/bin/sh\nexec b\n").format == "text"


def test_chart_version_labels_fold_unless_all():
    base, head = _objects(), _objects(version="2026.2.0")
    assert diff_objects(base, head) == []  # only chart labels moved
    everything = diff_objects(base, head, everything=True)
    assert {str(c.key) for c in everything} == {"Secret openstack/nova-etc", "DaemonSet openstack/nova-compute-e1",
                                                "DaemonSet openstack/nova-compute-c2"}
    assert all('labels["helm.sh/chart"]' in " ".join(f.path for f in c.fields) for c in everything)


def test_only_the_daemonset_whose_template_changed_restarts_on_its_nodes():
    base, head = _objects(), _objects(checksum="bbb")
    changes = diff_objects(base, head)
    found = flags(changes, base, head, NODES)
    assert [(f.risk, f.subject, f.nodes) for f in found] == [
        (Risk.RESTART, "DaemonSet openstack/nova-compute-c2", 2)]
    assert scheduled_nodes(head[2].body, NODES) == 1


def test_risk_flags_of_each_kind():
    def manifest(body):
        return Manifest("03-openstack", "x", body)

    statefulset = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "o"},
                   "spec": {"replicas": 3, "selector": {"matchLabels": {"a": "1"}}, "volumeClaimTemplates": [
                       {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "5Gi"}}}}],
                            "template": {"spec": {"containers": [{"name": "db", "image": "m:2025.1"}]}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "o"},
               "spec": {"selector": {"app": "api"}}}
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "api", "namespace": "o"},
           "spec": {"minAvailable": 1}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "cephclusters.ceph.rook.io"}, "spec": {"versions": [{"name": "v1"}]}}
    release = {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "ingress", "namespace": "o"},
               "spec": {"chart": {"spec": {"chart": "ingress-nginx", "version": "4.12.1"}}}}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "sync", "namespace": "o"},
           "spec": {"template": {"spec": {"containers": [{"name": "s", "image": "nova:2025.1-ubuntu_noble"}]}}}}
    gone = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "namespace": "o"}}
    base = [manifest(b) for b in (statefulset, service, pdb, crd, release, job, gone)]
    changed = [copy.deepcopy(b) for b in (statefulset, service, pdb, crd, release, job)]
    changed[0]["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "10Gi"
    changed[1]["spec"]["selector"] = {"app": "api2"}
    changed[2]["spec"]["minAvailable"] = 2
    changed[3]["spec"]["versions"].append({"name": "v2"})
    changed[4]["spec"]["chart"]["spec"]["version"] = "4.13.0"
    changed[5]["spec"]["template"]["spec"]["containers"][0]["image"] = "nova:2025.2-ubuntu_noble"
    head = [manifest(b) for b in changed]
    found = {(f.risk, f.subject) for f in flags(diff_objects(base, head), base, head, {})}
    assert found == {
        (Risk.IMMUTABLE, "StatefulSet o/db"),
        (Risk.SERVICE_SELECTOR, "Service o/api"),
        (Risk.PDB_TIGHTENED, "PodDisruptionBudget o/api"),
        (Risk.CRD, "CustomResourceDefinition cephclusters.ceph.rook.io"),
        (Risk.CHART_VERSION, "HelmRelease o/ingress"),
        (Risk.JOB_RERUN, "Job o/sync"),
        (Risk.IMAGE_RELEASE, "Job o/sync"),
        (Risk.PRUNED, "ConfigMap o/old"),
    }


def test_added_and_removed_objects_are_listed_without_fields():
    base, head = _objects(), _objects()[:-1]
    changes = diff_objects(base, head)
    assert [(str(c.key), c.change, c.fields) for c in changes] == [("Job openstack/nova-db-sync", Change.REMOVED, ())]


def test_a_daemonset_no_node_runs_restarts_nothing():
    base, head = _objects(), _objects(checksum="bbb")
    found = flags(diff_objects(base, head), base, head, {"ctl-1": NODES["ctl-1"]})
    assert found == []
