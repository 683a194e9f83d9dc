"""Tree rules on the layout: files nothing lists, listed files and patch targets that do not exist, a stale tree."""

from __future__ import annotations

import re
from typing import AbstractSet, Iterator

from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.check.kustomization import YAML_SUFFIXES
from beskar.check.repository import FluxRepository

# Files set aside by renaming: app.yaml.disabled, app.yaml.bak, app.disabled.yaml, app.yaml.orig, app.yaml~ ...
_SET_ASIDE = re.compile(r"(\.ya?ml\.[A-Za-z0-9_-]+|\.(disabled|off|bak|old|orig|skip)\.ya?ml|\.ya?ml~)$")


def _under(path: str, directories: AbstractSet[str]) -> str | None:
    """The deepest of the directories ("" the root) that holds the path."""
    directory = path
    while directory:
        directory = directory.rpartition("/")[0]
        if directory in directories:
            return directory
    return None


@rule("tree/orphan-file", Severity.WARNING, Scope.TREE,
      "Every YAML file under a directory Flux builds is listed (directly or not) by its kustomization.yaml.")
def orphan_files(repository: FluxRepository) -> Iterator[Finding]:
    reached = set().union(*(c.reached for c in repository.clusters.values())) if repository.clusters else set()
    for path in sorted(repository.paths):
        if not path.endswith(YAML_SUFFIXES) or path in reached or _SET_ASIDE.search(path):
            continue
        root = _under(path, repository.roots)
        if root is None:
            continue
        yield report("tree/orphan-file", f"{path} is under {root or '.'}, which Flux builds, but no "
                     "kustomization.yaml lists it, so Flux never applies it", file=path, line=1,
                     hint="add it to the resources of the kustomization.yaml beside it, or delete it")


@rule("tree/disabled-file", Severity.INFO, Scope.TREE,
      "Files set aside by renaming (.disabled, .bak, .orig ...) under a directory Flux builds.")
def disabled_files(repository: FluxRepository) -> Iterator[Finding]:
    for path in sorted(repository.paths):
        if _SET_ASIDE.search(path) and _under(path, repository.roots) is not None:
            yield report("tree/disabled-file", f"{path} looks set aside; Flux ignores it", file=path, line=1,
                         hint="delete it when it is no longer needed: git keeps the history")


@rule("tree/missing-resource", Severity.ERROR, Scope.TREE,
      "Every resources entry, patch file, generator file and Kustomization path exists.")
def missing_resources(repository: FluxRepository) -> Iterator[Finding]:
    yield from repository.problems_of("tree/missing-resource")


@rule("tree/kustomization", Severity.ERROR, Scope.TREE,
      "Every kustomization.yaml is one kustomize builds: a mapping of known fields of the right shape, not empty, "
      "no cycle of resources, JSON patch operations kustomize knows, and patches without a target that match.")
def kustomizations(repository: FluxRepository) -> Iterator[Finding]:
    yield from repository.problems_of("tree/kustomization")


@rule("tree/not-an-object", Severity.ERROR, Scope.TREE,
      "Every YAML document of a file that kustomize or Flux builds is a Kubernetes object (apiVersion, kind).")
def not_objects(repository: FluxRepository) -> Iterator[Finding]:
    yield from repository.problems_of("tree/not-an-object")


@rule("tree/missing-patch-target", Severity.ERROR, Scope.TREE,
      "Every patch of a kustomization.yaml matches a resource it builds (and a JSON patch's paths exist).")
def missing_patch_targets(repository: FluxRepository) -> Iterator[Finding]:
    yield from repository.problems_of("tree/missing-patch-target")


@rule("tree/stale", Severity.ERROR, Scope.TREE,
      "The committed rendered tree is what `beskar render` writes now (beskar check only).")
def stale_tree(repository: FluxRepository) -> Iterator[Finding]:
    words = {"created": "is missing", "updated": "is stale", "deleted": "should no longer exist"}
    for difference in repository.stale:
        change = getattr(difference.change, "value", str(difference.change))
        yield report("tree/stale", f"{difference.path} {words.get(change, change)}", file=difference.path, line=1,
                     hint="run `beskar render` and commit the result")
