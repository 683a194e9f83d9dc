"""Vendor the JSON schemas of the Kubernetes built-in kinds Beskar validates, from the kubernetes-validate package."""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

KUBERNETES = "1.32"
SOURCE_DIR = f"v{KUBERNETES}.0-local-strict"
OUT = Path(__file__).resolve().parents[1] / "src" / "beskar" / "check" / "data" / "kubernetes"

# (apiVersion, kind, namespaced): the kinds GitOps repositories commonly carry next to Flux objects.
KINDS = [
    ("v1", "Namespace", False), ("v1", "ConfigMap", True), ("v1", "Secret", True), ("v1", "Service", True),
    ("v1", "ServiceAccount", True), ("v1", "Pod", True), ("v1", "PersistentVolumeClaim", True),
    ("v1", "PersistentVolume", False), ("v1", "LimitRange", True), ("v1", "ResourceQuota", True),
    ("v1", "Endpoints", True),
    ("apps/v1", "Deployment", True), ("apps/v1", "StatefulSet", True), ("apps/v1", "DaemonSet", True),
    ("batch/v1", "Job", True), ("batch/v1", "CronJob", True),
    ("networking.k8s.io/v1", "Ingress", True), ("networking.k8s.io/v1", "IngressClass", False),
    ("networking.k8s.io/v1", "NetworkPolicy", True),
    ("rbac.authorization.k8s.io/v1", "Role", True), ("rbac.authorization.k8s.io/v1", "RoleBinding", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", False),
    ("storage.k8s.io/v1", "StorageClass", False), ("policy/v1", "PodDisruptionBudget", True),
    ("scheduling.k8s.io/v1", "PriorityClass", False), ("autoscaling/v2", "HorizontalPodAutoscaler", True),
]
# Kept out of the vendored subset: documentation and Kubernetes' own extensions, which validation ignores,
# and `format` (int32, byte, ...), which kubernetes-validate does not assert either.
DROPPED = re.compile(r"^(description|x-kubernetes-.*|format|\$schema|\$id)$")
REF = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(.+)$")


def schema_file(kind: str, api_version: str) -> str:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{group_version}.json"


def clean(node, refs: set[str]):
    """Drop documentation keys and point `$ref`s at `#/definitions/`, collecting the names referred to."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key == "$ref":
                name = REF.match(value).group(1)
                refs.add(name)
                result[key] = f"#/definitions/{name}"
            elif key in ("properties", "definitions"):  # keys of these are names, not keywords
                result[key] = {name: clean(child, refs) for name, child in value.items()}
            elif not DROPPED.match(key):
                result[key] = clean(value, refs)
        return result
    if isinstance(node, list):
        return [clean(item, refs) for item in node]
    return node


def derive(source: Path, package_version: str) -> dict:
    all_defs = json.loads((source / "_definitions.json").read_text())["$defs"]
    kinds, definitions = {}, {}
    pending: set[str] = set()
    for api_version, kind, namespaced in KINDS:
        schema = clean(json.loads((source / schema_file(kind, api_version)).read_text()), pending)
        kinds[f"{api_version} {kind}"] = {"namespaced": namespaced, "schema": schema}
    while pending:
        name = pending.pop()
        if name not in definitions:
            found: set[str] = set()
            definitions[name] = clean(all_defs[name], found)
            pending |= found - set(definitions)
    return {"kubernetes": KUBERNETES, "source": f"kubernetes-validate {package_version} {SOURCE_DIR}",
            "kinds": kinds, "definitions": dict(sorted(definitions.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    import kubernetes_validate  # the source package: pip install kubernetes-validate

    source = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / SOURCE_DIR
    args.out.mkdir(parents=True, exist_ok=True)
    data = derive(source, kubernetes_validate.__version__)
    target = args.out / f"v{KUBERNETES}.json"
    target.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{target}: {len(data['kinds'])} kinds, {len(data['definitions'])} definitions, "
          f"{target.stat().st_size:,} bytes (kubernetes-validate {kubernetes_validate.__version__})")


if __name__ == "__main__":
    main()
