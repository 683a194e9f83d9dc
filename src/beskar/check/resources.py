"""Objects as a cluster applies them: effective data, namespace, and the file and line that set each part."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from beskar.check.documents import Document, Path
from beskar.check.schemas import namespaced


@dataclass(frozen=True)
class Problem:
    """Something a build found wrong, reported later by the rule it belongs to."""

    rule: str
    file: str
    line: int
    message: str
    hint: str | None = None


FLUX_KUSTOMIZATION_GROUP = "kustomize.toolkit.fluxcd.io/"
KUSTOMIZE_GROUP = "kustomize.config.k8s.io/"


@dataclass
class Resource:
    """An object of the repository, after the kustomize patches and namespaces that apply to it."""

    data: dict[str, Any]
    document: Document
    namespace: str  # "" for cluster-scoped kinds
    # Patch documents that changed the object, oldest first, each with the path of the object's root in it.
    overrides: list[tuple[Document, Path]] = field(default_factory=list)
    # For objects a kustomize generator makes: the generator entry's path in the kustomization file.
    generator: Path | None = None
    applied_by: str | None = None  # the Flux Kustomization (namespace/name) that applies it, if any
    # The name as written, before kustomize's prefixes, suffixes and hashes: references to it follow renames.
    origin_name: str | None = None
    hashed: bool = False  # a generated object that gets kustomize's content hash appended to its name
    # Every (name, namespace) the object had before its current one, oldest first (kustomize's previousNames and
    # previousNamespaces): replacements select by them, and references holding one follow the renames.
    previous: tuple[tuple[str, str], ...] = ()
    # Fields a kustomize replacement set: their path in the object -> the file and line of the replacement target.
    replaced: dict[Path, tuple[str, int]] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        return str(self.data.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def name(self) -> str:
        metadata = self.data.get("metadata")
        return str(metadata.get("name", "")) if isinstance(metadata, dict) else ""

    @property
    def file(self) -> str:
        return self.document.file

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.data.get("spec")
        return spec if isinstance(spec, dict) else {}

    def is_flux_kustomization(self) -> bool:
        return self.kind == "Kustomization" and self.api_version.startswith(FLUX_KUSTOMIZATION_GROUP)

    def where(self, path: Path = ()) -> tuple[str, int]:
        """File and line that set `path` of the object: the replacement that set it, a part of it or (below the
        top level) one of its own fields, else the last patch that has it, else the object's file."""
        if self.generator is not None:
            return self.document.file, self.document.line_of(self.generator)
        for length in range(len(path), 0, -1) if self.replaced else ():
            if path[:length] in self.replaced:
                return self.replaced[path[:length]]
        if self.replaced and len(path) >= 2:  # a reference (sourceRef ...) whose name a replacement set
            for replaced, where in self.replaced.items():
                if len(replaced) == len(path) + 1 and replaced[:-1] == path:
                    return where
        for document, root in reversed(self.overrides):
            if document.find(root + path) is not None:
                return document.file, document.line_of(root + path)
        return self.document.file, self.document.line_of(path)

    def at(self, path: Path = ()) -> dict[str, Any]:
        """`file=` and `line=` of `path`, for `report(...)`."""
        file, line = self.where(path)
        return {"file": file, "line": line}

    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    def copy(self, **changes: Any) -> Resource:
        fields = {"data": self.data, "document": self.document, "namespace": self.namespace,
                  "overrides": list(self.overrides), "generator": self.generator, "applied_by": self.applied_by,
                  "origin_name": self.origin_name, "hashed": self.hashed,
                  "previous": self.previous, "replaced": dict(self.replaced)}
        fields.update(changes)
        return Resource(**fields)


def is_object(data: Any) -> bool:
    """A Kubernetes object (not a kustomization file, values file or other YAML)."""
    return (isinstance(data, dict) and isinstance(data.get("apiVersion"), str) and isinstance(data.get("kind"), str)
            and not data["apiVersion"].startswith(KUSTOMIZE_GROUP))


def resource_of(document: Document) -> Resource:
    data = document.data
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    if not namespaced(data.get("apiVersion"), data.get("kind")):
        namespace = ""
    else:
        namespace = str(metadata.get("namespace") or "")  # "" until kustomize or Flux sets it
    return Resource(data, document, namespace)


def merge_patch(base: Any, patch: Any, keyed_lists: bool) -> Any:
    """A strategic-merge patch as kustomize applies it: maps merge, null deletes; lists of named items merge by
    name for built-in kinds, and replace for custom resources (kustomize has no merge keys for those)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        if patch.get("$patch") == "delete":
            return None
        merged = dict(base)
        for key, value in patch.items():
            if key.startswith("$"):
                continue
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = merge_patch(merged[key], value, keyed_lists)
            else:
                merged[key] = value
        return merged
    if keyed_lists and isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        by_name = {item["name"]: item for item in base}
        order = [item["name"] for item in base]
        for item in patch:
            if item["name"] in by_name:
                by_name[item["name"]] = merge_patch(by_name[item["name"]], item, keyed_lists)
            else:
                by_name[item["name"]] = item
                order.append(item["name"])
        return [by_name[name] for name in order if by_name[name] is not None]
    return patch


def _named(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and "name" in item for item in items)


def json_patch(data: Any, operations: list[Any]) -> tuple[Any, str | None]:
    """Apply RFC 6902 operations (add, replace, remove); returns the result and the first failure, if any."""
    import copy

    result = copy.deepcopy(data)
    for operation in operations:
        if not isinstance(operation, dict):
            return result, "a JSON patch operation must be a mapping"
        op, pointer = operation.get("op"), str(operation.get("path", ""))
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
        if op not in ("add", "replace", "remove") or not parts:
            continue  # move, copy and test do not change what the rules look at
        parent = result
        for part in parts[:-1]:
            parent = _step(parent, part)
            if parent is None:
                return result, f"path {pointer} does not exist"
        last = parts[-1]
        if isinstance(parent, list):
            if last == "-" and op == "add":
                parent.append(operation.get("value"))
                continue
            if not last.isdigit() or int(last) > len(parent) - (0 if op == "add" else 1):
                return result, f"path {pointer} does not exist"
            if op == "add":
                parent.insert(int(last), operation.get("value"))
            elif op == "replace":
                parent[int(last)] = operation.get("value")
            else:
                del parent[int(last)]
        elif isinstance(parent, dict):
            if op == "remove" and last not in parent:  # kustomize's replace of a missing key adds it
                return result, f"path {pointer} does not exist"
            if op == "remove":
                del parent[last]
            else:
                parent[last] = operation.get("value")
        else:
            return result, f"path {pointer} does not exist"
    return result, None


def _step(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return None
