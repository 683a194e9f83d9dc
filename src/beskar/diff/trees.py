"""The rendered-tree diff: files added, changed and removed per site, and what changed inside the inventories."""

from __future__ import annotations

from typing import Any

import yaml

from beskar.diff.changes import Area, Change, FileChange, Manifest
from beskar.diff.objects import document_changes
from beskar.tree import Tree

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def area_of(path: str) -> Area:
    parts = path.split("/")
    if parts[0] == "inventory" and len(parts) > 2:
        if parts[2] == "kubespray":
            return Area.KUBESPRAY
        if parts[2] == "hosts":
            return Area.HOSTS
        return Area.MAAS
    return Area.FLUX


def _documents(tree: Tree, path: str) -> list[Any]:
    if path in tree.files:
        return tree.files[path]
    return [d for d in yaml.load_all(tree.raw[path], Loader=_Loader) if d is not None]


def _paths(tree: Tree | None) -> set[str]:
    return set(tree.files) | set(tree.raw) if tree is not None else set()


def _same(old: Tree, new: Tree, path: str) -> bool:
    if path in old.raw or path in new.raw:
        return old.raw.get(path) == new.raw.get(path)
    return old.files.get(path) == new.files.get(path)


def diff_trees(base: Tree | None, head: Tree | None) -> list[FileChange]:
    """Every file of the site's rendered tree that differs, sorted by path.

    Flux files (clusters/, apps/) are listed only: their objects are diffed object by object. Inventories, host
    vars (netplan) and the MAAS plan are diffed field by field, files inside values line by line.
    """
    before, after = _paths(base), _paths(head)
    changes = []
    for path in sorted(before | after):
        area = area_of(path)
        if path not in before:
            changes.append(FileChange(path, area, Change.ADDED))
        elif path not in after:
            changes.append(FileChange(path, area, Change.REMOVED))
        elif not _same(base, head, path):
            fields, texts = [], []
            if area is not Area.FLUX:
                fields, texts, _ = document_changes(_by_document(_documents(base, path)),
                                                    _by_document(_documents(head, path)))
            changes.append(FileChange(path, area, Change.CHANGED, tuple(fields), tuple(texts)))
    return changes


def _by_document(documents: list[Any]) -> Any:
    """One document as itself; several keyed by their position, so a path names the document it is in."""
    return documents[0] if len(documents) == 1 else {f"document {i + 1}": d for i, d in enumerate(documents)}


def tree_manifests(tree: Tree) -> list[Manifest]:
    """The Kubernetes objects of a rendered Flux tree (HelmReleases, Flux Kustomizations, sources, Namespaces,
    the encrypted Secret), with the layer each is applied by; kustomize's own kustomization.yaml is not one."""
    manifests = []
    for path in sorted(_paths(tree)):
        parts = path.split("/")
        if parts[0] not in ("clusters", "apps") or parts[-1] == "kustomization.yaml":
            continue
        layer = parts[2] if parts[0] == "apps" and len(parts) > 3 else "cluster"
        for document in _documents(tree, path):
            if isinstance(document, dict) and document.get("kind") and isinstance(document.get("metadata"), dict):
                release = ""
                manifests.append(Manifest(layer, release, document))
    return manifests
