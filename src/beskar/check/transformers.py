"""Kustomize's built-in transformers as pure functions on objects: namespace, name prefix and suffix, labels,
annotations, images, replicas, content hashes of generated names, and the references that follow renames."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, Iterator

from beskar.check.resources import Resource
from beskar.check.schemas import namespaced

WORKLOADS = {"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "ReplicationController"}
_POD_SPECS = {**{kind: ("spec", "template", "spec") for kind in WORKLOADS | {"Job"}},
              "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"), "Pod": ("spec",)}
_HASH_LETTERS = str.maketrans("013ae", "ghkmt")


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data.get("metadata"), dict):
        data["metadata"] = {}
    return data["metadata"]


def _at(data: Any, path: tuple[str, ...], create: bool) -> dict[str, Any] | None:
    """The mapping at `path`, made when `create` and missing; None when absent or not a mapping."""
    node = data
    for key in path:
        if not isinstance(node, dict):
            return None
        if not isinstance(node.get(key), dict):
            if not create or node.get(key) is not None:
                return None
            node[key] = {}
        node = node[key]
    return node if isinstance(node, dict) else None


def set_namespace(resource: Resource, namespace: str) -> Resource:
    """`namespace:` of a kustomization: every namespaced object moves there, and a Namespace object is renamed."""
    if resource.kind == "Namespace" and resource.api_version == "v1":
        data = copy.deepcopy(resource.data)
        _metadata(data)["name"] = namespace
        return resource.copy(data=data, previous=_moved(resource))
    if not namespaced(resource.api_version, resource.kind):
        return resource
    data = copy.deepcopy(resource.data)
    _metadata(data)["namespace"] = namespace
    if resource.kind in ("RoleBinding", "ClusterRoleBinding") and isinstance(data.get("subjects"), list):
        for subject in data["subjects"]:
            # kustomize moves the ServiceAccounts a binding names along with the objects it moves
            if isinstance(subject, dict) and subject.get("kind") == "ServiceAccount" \
                    and subject.get("namespace") in (None, "", resource.namespace or "default"):
                subject["namespace"] = namespace
    return resource.copy(data=data, namespace=namespace, previous=_moved(resource))


def _moved(resource: Resource) -> tuple[tuple[str, str], ...]:
    """The object's ids before a rename or a move: what it had, and the one it has now."""
    return resource.previous + ((resource.name, resource.namespace),)


def rename(resource: Resource, prefix: str, suffix: str) -> Resource:
    if resource.kind in ("Namespace", "CustomResourceDefinition") or not (prefix or suffix):
        return resource
    data = copy.deepcopy(resource.data)
    metadata = _metadata(data)
    origin = resource.origin_name if resource.origin_name is not None else resource.name
    metadata["name"] = f"{prefix}{metadata.get('name', '')}{suffix}"
    return resource.copy(data=data, origin_name=origin, previous=_moved(resource))


def add_labels(resource: Resource, labels: dict[str, str], selectors: bool, templates: bool) -> Resource:
    """commonLabels (selectors and templates too) or a `labels:` entry (metadata, and what it includes)."""
    if not labels:
        return resource
    data = copy.deepcopy(resource.data)
    targets: list[tuple[tuple[str, ...], bool]] = [(("metadata", "labels"), True)]
    kind = resource.kind
    if selectors:
        if kind in WORKLOADS:
            targets.append((("spec", "selector", "matchLabels"), kind != "ReplicationController"))
        if kind in ("Service", "ReplicationController"):
            targets.append((("spec", "selector"), True))
        if kind == "Job":
            targets.append((("spec", "selector", "matchLabels"), False))
        if kind == "CronJob":
            targets.append((("spec", "jobTemplate", "spec", "selector", "matchLabels"), False))
        if kind == "PodDisruptionBudget":
            targets.append((("spec", "selector", "matchLabels"), False))
        if kind == "NetworkPolicy":
            targets.append((("spec", "podSelector", "matchLabels"), False))
    if selectors or templates:
        if kind in WORKLOADS | {"Job"}:
            targets.append((("spec", "template", "metadata", "labels"), True))
        if kind == "CronJob":
            targets.append((("spec", "jobTemplate", "metadata", "labels"), True))
            targets.append((("spec", "jobTemplate", "spec", "template", "metadata", "labels"), True))
        if kind == "StatefulSet" and isinstance(resource.spec.get("volumeClaimTemplates"), list):
            for claim in data["spec"]["volumeClaimTemplates"]:
                if isinstance(claim, dict):
                    found = _at(claim, ("metadata", "labels"), True)
                    if found is not None:
                        found.update(labels)
    for path, create in targets:
        found = _at(data, path, create)
        if found is not None:
            found.update(labels)
    return resource.copy(data=data)


def add_annotations(resource: Resource, annotations: dict[str, str]) -> Resource:
    if not annotations:
        return resource
    data = copy.deepcopy(resource.data)
    _at(data, ("metadata", "annotations"), True).update(annotations)
    paths = []
    if resource.kind in WORKLOADS | {"Job"}:
        paths.append(("spec", "template", "metadata", "annotations"))
    if resource.kind == "CronJob":
        paths += [("spec", "jobTemplate", "metadata", "annotations"),
                  ("spec", "jobTemplate", "spec", "template", "metadata", "annotations")]
    for path in paths:
        found = _at(data, path, True)
        if found is not None:
            found.update(annotations)
    return resource.copy(data=data)


def _containers(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers", "ephemeralContainers") and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict))
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


def set_images(resource: Resource, images: list[dict[str, Any]]) -> Resource:
    """`images:` of a kustomization: new names, tags and digests of the containers' images."""
    if not images or not any(True for _ in _containers(resource.data)):
        return resource
    data = copy.deepcopy(resource.data)
    for container in _containers(data):
        image = container.get("image")
        if not isinstance(image, str):
            continue
        name, tag, digest = _split(image)
        for entry in images:
            if entry.get("name") != name:
                continue
            name = str(entry.get("newName") or name)
            if entry.get("digest"):
                tag, digest = "", str(entry["digest"])
            elif entry.get("newTag") is not None:
                tag, digest = str(entry["newTag"]), ""
            container["image"] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
            break
    return resource.copy(data=data)


def _split(image: str) -> tuple[str, str, str]:
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:], digest
    return name, "", digest


def set_replicas(resource: Resource, replicas: list[dict[str, Any]]) -> Resource:
    for entry in replicas:
        if entry.get("name") == resource.name and resource.kind in WORKLOADS and isinstance(entry.get("count"), int):
            data = copy.deepcopy(resource.data)
            _at(data, ("spec",), True)["replicas"] = entry["count"]
            return resource.copy(data=data)
    return resource


def _go_json(value: Any) -> str:
    """JSON as Go's encoding/json writes it (sorted keys, no spaces, <, > and & escaped)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def content_hash(resource: Resource) -> str:
    """The suffix kustomize appends to a generated name: ten characters of a SHA-256 of the object's content."""
    data = resource.data
    encoded: dict[str, Any] = {"kind": resource.kind, "name": "", "data": data.get("data") or {}}
    if resource.kind == "Secret":
        encoded["type"] = data.get("type", "")
    if data.get("binaryData"):
        encoded["binaryData"] = data["binaryData"]
    if data.get("immutable") is True:
        encoded["immutable"] = True
    return hashlib.sha256(_go_json(encoded).encode("utf-8")).hexdigest()[:10].translate(_HASH_LETTERS)


def hash_name(resource: Resource) -> Resource:
    data = copy.deepcopy(resource.data)
    metadata = _metadata(data)
    origin = resource.origin_name if resource.origin_name is not None else resource.name
    metadata["name"] = f"{metadata.get('name', '')}-{content_hash(resource)}"
    return resource.copy(data=data, origin_name=origin, hashed=False, previous=_moved(resource))


def _pod_spec(data: dict[str, Any], kind: str) -> dict[str, Any] | None:
    path = _POD_SPECS.get(kind)
    return _at(data, path, False) if path else None


def _references(data: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(kind referred to, the mapping holding the name, its key) of every name reference kustomize follows."""
    pod = _pod_spec(data, kind)
    if pod is not None:
        for volume in pod.get("volumes") or []:
            if not isinstance(volume, dict):
                continue
            for key, referred, field in (("configMap", "ConfigMap", "name"), ("secret", "Secret", "secretName"),
                                         ("persistentVolumeClaim", "PersistentVolumeClaim", "claimName")):
                if isinstance(volume.get(key), dict):
                    yield referred, volume[key], field
            projected = volume.get("projected")
            for source in (projected.get("sources") or []) if isinstance(projected, dict) else []:
                for key, referred in (("configMap", "ConfigMap"), ("secret", "Secret")):
                    if isinstance(source, dict) and isinstance(source.get(key), dict):
                        yield referred, source[key], "name"
        for container in _containers(pod):
            for item in container.get("envFrom") or []:
                for key, referred in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if isinstance(item, dict) and isinstance(item.get(key), dict):
                        yield referred, item[key], "name"
            for item in container.get("env") or []:
                source = item.get("valueFrom") if isinstance(item, dict) else None
                for key, referred in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if isinstance(source, dict) and isinstance(source.get(key), dict):
                        yield referred, source[key], "name"
        for item in pod.get("imagePullSecrets") or []:
            if isinstance(item, dict):
                yield "Secret", item, "name"
        if isinstance(pod.get("serviceAccountName"), str):
            yield "ServiceAccount", pod, "serviceAccountName"
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        if isinstance(data.get("roleRef"), dict) and isinstance(data["roleRef"].get("kind"), str):
            yield data["roleRef"]["kind"], data["roleRef"], "name"
        for subject in data.get("subjects") or []:
            if isinstance(subject, dict) and subject.get("kind") == "ServiceAccount":
                yield "ServiceAccount", subject, "name"
    if kind == "Ingress":
        for tls in (data.get("spec") or {}).get("tls") or [] if isinstance(data.get("spec"), dict) else []:
            if isinstance(tls, dict):
                yield "Secret", tls, "secretName"


def follow_renames(resources: list[Resource]) -> list[Resource]:
    """Point references at the final names of the objects they name (after prefixes, suffixes and hashes)."""
    renamed: dict[tuple[str, str], list[Resource]] = {}
    for resource in resources:
        # a reference holds the name as written, or (set by a replacement) one the object had on the way
        names = {name for name, _ in resource.previous} | {resource.origin_name}
        for name in sorted(n for n in names if n is not None and n != resource.name):
            renamed.setdefault((resource.kind, name), []).append(resource)
    if not renamed:
        return resources
    result = []
    for resource in resources:
        data = copy.deepcopy(resource.data)
        changed = False
        for kind, holder, key in _references(data, resource.kind):
            targets = renamed.get((kind, str(holder.get(key))))
            if not targets:
                continue
            namespace = holder.get("namespace") if kind == "ServiceAccount" and holder.get("namespace") \
                else resource.namespace
            same = [t for t in targets if not t.namespace or t.namespace == namespace]
            if not same:
                continue  # an object of that name in another namespace, which the reference does not mean
            holder[key] = same[0].name
            changed = True
        result.append(resource.copy(data=data) if changed else resource)
    return result
