"""Schema validation: built-in kinds judged as kubernetes-validate judges them, Flux CRDs strict, API versions."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from beskar.check.schemas import ApiStatus, api_status, builtins, namespaced, schema_errors

ROOT = Path(__file__).resolve().parents[1]
VENDORED = ROOT / "src/beskar/check/data/kubernetes/v1.32.json"
POD = {"containers": [{"name": "app", "image": "nginx:1.27.3", "ports": [{"containerPort": 80}],
                       "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}]}
TEMPLATE = {"metadata": {"labels": {"app": "a"}}, "spec": POD}
SELECTOR = {"matchLabels": {"app": "a"}}
SPECS = {
    "Namespace": {}, "ConfigMap": {"data": {"a": "b"}}, "Secret": {"type": "Opaque", "stringData": {"a": "b"}},
    "Service": {"spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": "http"}]}},
    "ServiceAccount": {}, "Pod": {"spec": POD},
    "PersistentVolumeClaim": {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    "PersistentVolume": {"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                  "hostPath": {"path": "/srv"}}},
    "LimitRange": {"spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}}]}},
    "ResourceQuota": {"spec": {"hard": {"pods": "10"}}},
    "Endpoints": {"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]},
    "Deployment": {"spec": {"replicas": 2, "selector": SELECTOR, "template": TEMPLATE}},
    "StatefulSet": {"spec": {"serviceName": "a", "selector": SELECTOR, "template": TEMPLATE}},
    "DaemonSet": {"spec": {"selector": SELECTOR, "template": TEMPLATE}},
    "Job": {"spec": {"template": {"spec": {**POD, "restartPolicy": "Never"}}}},
    "CronJob": {"spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {
        "spec": {**POD, "restartPolicy": "OnFailure"}}}}}},
    "Ingress": {"spec": {"rules": [{"host": "a.example.org", "http": {"paths": [{
        "path": "/", "pathType": "Prefix", "backend": {"service": {"name": "a", "port": {"number": 80}}}}]}}]}},
    "IngressClass": {"spec": {"controller": "k8s.io/ingress-nginx"}},
    "NetworkPolicy": {"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
    "Role": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    "RoleBinding": {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"},
                    "subjects": [{"kind": "ServiceAccount", "name": "a", "namespace": "n"}]},
    "ClusterRole": {"rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]},
    "ClusterRoleBinding": {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "a"},
                           "subjects": [{"kind": "Group", "name": "ops", "apiGroup": "rbac.authorization.k8s.io"}]},
    "StorageClass": {"provisioner": "rook-ceph.rbd.csi.ceph.com", "parameters": {"imageFeatures": "layering"}},
    "PodDisruptionBudget": {"spec": {"minAvailable": 1, "selector": SELECTOR}},
    "PriorityClass": {"value": 1000, "description": "important"},
    "HorizontalPodAutoscaler": {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "a", "apiVersion": "apps/v1"},
                                         "maxReplicas": 5}},
}


def objects() -> list[dict]:
    found = []
    for key in sorted(builtins()["kinds"]):
        api_version, kind = key.split(" ")
        metadata = {"name": "a", "labels": {"app": "a"}} | ({"namespace": "n"} if namespaced(api_version, kind) else {})
        found.append({"apiVersion": api_version, "kind": kind, "metadata": metadata, **SPECS[kind]})
    return found


def broken_variants(valid: dict) -> list[dict]:
    """An unknown field, a wrong type, and a bad name field: three ways to break any object."""
    unknown = copy.deepcopy(valid)
    unknown["metadata"]["namspace"] = "n"
    wrong = copy.deepcopy(valid)
    wrong["metadata"]["labels"] = ["app"]
    extra = copy.deepcopy(valid)
    extra["spek"] = {}
    return [unknown, wrong, extra]


def test_every_vendored_kind_has_a_valid_sample():
    assert {o["kind"] for o in objects()} == set(SPECS)
    for document in objects():
        assert schema_errors(document) == [], document["kind"]


def test_verdicts_agree_with_kubernetes_validate():
    validate = pytest.importorskip("kubernetes_validate")
    version = builtins()["kubernetes"]
    checked = 0
    for valid in objects():
        for document in [valid, *broken_variants(valid)]:
            try:
                validate.validate(document, version, strict=True)
                theirs = True
            except validate.ValidationError:
                theirs = False
            assert (schema_errors(document) == []) == theirs, (document["kind"], schema_errors(document))
            checked += 1
    assert checked == 4 * len(SPECS)


def test_unknown_fields_of_flux_objects_are_errors_but_values_are_free():
    release = {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "a", "namespace": "n"},
               "spec": {"interval": "5m", "chart": {"spec": {"chart": "a", "sourceRef": {"kind": "HelmRepository",
                                                                                         "name": "r"}}},
                        "values": {"anything": {"goes": [1, 2]}}}}
    assert schema_errors(release) == []
    release["spec"]["upgrade"] = {"remediaton": {"retries": 3}}
    (error,) = schema_errors(release)
    assert error.location == ("spec", "upgrade", "remediaton") and error.hint == "did you mean 'remediation'?"


@pytest.mark.parametrize("api_version, kind, status", [
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease", ApiStatus.CURRENT),
    ("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease", ApiStatus.DEPRECATED),
    ("kustomize.toolkit.fluxcd.io/v1beta2", "Kustomization", ApiStatus.DEPRECATED),
    ("helm.toolkit.fluxcd.io/v3", "HelmRelease", ApiStatus.UNSERVED),
    ("extensions/v1beta1", "Ingress", ApiStatus.UNSERVED),
    ("batch/v1beta1", "CronJob", ApiStatus.UNSERVED),
    ("cert-manager.io/v1", "Certificate", ApiStatus.UNKNOWN),
])
def test_api_status(api_version, kind, status):
    assert api_status(api_version, kind)[0] is status


def test_vendored_schemas_are_what_the_tool_derives(tmp_path):
    validate = pytest.importorskip("kubernetes_validate")
    recorded = json.loads(VENDORED.read_text())["source"]
    if not recorded.startswith(f"kubernetes-validate {validate.__version__} "):
        pytest.skip(f"vendored from {recorded}; installed kubernetes-validate is {validate.__version__}")
    subprocess.run([sys.executable, str(ROOT / "tools/derive_k8s_schemas.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    assert (tmp_path / VENDORED.name).read_bytes() == VENDORED.read_bytes()


def test_compiled_validators_are_kept_between_processes_and_a_bad_cache_is_compiled_again(tmp_path, monkeypatch):
    from beskar.check import schemas

    monkeypatch.setenv("BESKAR_CACHE", str(tmp_path))
    schema = {"type": "object", "properties": {"replicas": {"type": "integer", "default": 1}},
              "additionalProperties": False}
    for attempt in range(3):
        validate = schemas._compiled(schema, "test")
        body = {}
        validate(body)
        assert body == {}  # defaults are not filled into the object checked
        with pytest.raises(schemas.fastjsonschema.JsonSchemaException):
            validate({"replicas": "two"})
        kept = list((tmp_path / "schemas").glob("*.marshal"))
        assert len(kept) == 1
        if attempt == 1:
            kept[0].write_bytes(b"not bytecode")
