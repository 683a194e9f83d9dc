"""Patches as kustomize applies them to the objects built so far: which objects a target selects, strategic-merge
and JSON 6902 patches, and the problems kustomize reports for them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from beskar.check.documents import Document
from beskar.check.resources import Problem, Resource, is_object, json_patch, merge_patch
from beskar.check.schemas import builtins

_JSON_OPERATIONS = {"add", "remove", "replace", "move", "copy", "test"}


@dataclass
class Patched:
    """The objects after one patch, the problems it met, and whether kustomize refuses the build for them."""

    resources: list[Resource]
    problems: list[Problem] = field(default_factory=list)
    failed: bool = False


def apply(resources: list[Resource], patch: Document, target: dict[str, Any] | None, listed_at: tuple[str, int],
          directory: str, incomplete: bool) -> Patched:
    """`patch` applied to every object `target` selects (no target: the object the patch names itself).

    `listed_at` is the file and line of the kustomization entry that lists the patch; `incomplete` says the build
    has objects Beskar does not see, which a target that selects nothing here may select."""
    resources = list(resources)
    operations = isinstance(patch.data, list)
    if operations:
        for index, operation in enumerate(patch.data):
            if not isinstance(operation, dict) or operation.get("op") not in _JSON_OPERATIONS \
                    or not isinstance(operation.get("path"), str):
                what = operation.get("op") if isinstance(operation, dict) else operation
                return Patched(resources, [Problem(
                    "tree/kustomization", patch.file, patch.line_of((index,)),
                    f"JSON patch operation {what!r} is not one kustomize applies "
                    "(op: add, remove, replace, move, copy or test, with a path)")], failed=True)
    explicit = target is not None
    if target is None:
        if not is_object(patch.data):
            return Patched(resources)
        metadata = patch.data.get("metadata") if isinstance(patch.data.get("metadata"), dict) else {}
        target = {"kind": patch.data["kind"], "name": metadata.get("name")}
        if metadata.get("namespace"):
            target["namespace"] = metadata["namespace"]
    patched = Patched(resources)
    matched = False
    for position, resource in enumerate(resources):
        if not selects(target, resource):
            continue
        matched = True
        if operations:
            data, failure = json_patch(resource.data, patch.data)
            if failure:
                patched.failed = True
                patched.problems.append(Problem("tree/missing-patch-target", patch.file, patch.line,
                                                f"JSON patch on {resource.label()}: {failure}"))
            resources[position] = resource.copy(data=data)
        else:
            keyed = f"{resource.api_version} {resource.kind}" in builtins()["kinds"]
            body = patch.data
            if explicit:  # a patch with a target keeps each object's own name
                body = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
                metadata = dict(body.get("metadata") or {}) if isinstance(body.get("metadata"), dict) else {}
                metadata.pop("name", None)
                metadata.pop("namespace", None)
                body["metadata"] = metadata
            data = merge_patch(resource.data, body, keyed)
            resources[position] = resource.copy(data=data, overrides=resource.overrides + [(patch, ())])
    if not matched and not (explicit and incomplete):
        described = ", ".join(f"{k}={v}" for k, v in sorted(target.items()) if isinstance(v, str))
        if not explicit:
            patched.failed = True  # kustomize refuses a patch that names no object; a target may select none
        patched.problems.append(Problem(
            "tree/missing-patch-target", listed_at[0], listed_at[1],
            f"patch matches no resource of {directory or '.'} ({described})",
            "the target's kind, name and namespace must match a resource of this kustomization"))
    return patched


def _matches(pattern: Any, actual: str) -> bool:
    try:
        return re.fullmatch(str(pattern), actual) is not None
    except re.error:  # kustomize reads these as regular expressions; a broken one matches literally
        return str(pattern) == actual


def selects(target: dict[str, Any], resource: Resource) -> bool:
    """Whether a patch target (kind, name, namespace, group, version, label and annotation selectors) selects
    the object; names match the object's name before a prefix, suffix or hash was added too."""
    group, _, version = resource.api_version.rpartition("/")
    names = {resource.name} | ({resource.origin_name} if resource.origin_name else set())
    for key in ("kind", "name", "namespace", "group", "version"):
        wanted = target.get(key)
        if wanted is None:
            continue
        if key == "name":
            if not any(_matches(wanted, name) for name in names):
                return False
        elif key in ("kind", "namespace"):
            if not _matches(wanted, resource.kind if key == "kind" else resource.namespace):
                return False
        elif str(wanted) != (group if key == "group" else version):
            return False
    metadata = resource.data.get("metadata") if isinstance(resource.data.get("metadata"), dict) else {}
    for key, field_name in (("labelSelector", "labels"), ("annotationSelector", "annotations")):
        selector = target.get(key)
        if isinstance(selector, str) and selector:
            values = metadata.get(field_name) if isinstance(metadata.get(field_name), dict) else {}
            for term in selector.split(","):
                name, equals, value = term.partition("=")
                name, value = name.strip().rstrip("!"), value.strip()
                if equals and term.strip()[len(name):].startswith("!="):
                    if values.get(name) == value:
                        return False
                elif equals:
                    if values.get(name) != value.lstrip("="):
                        return False
                elif name not in values:
                    return False
    return True
