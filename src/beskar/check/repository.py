"""A Flux repository as the tree rules see it: files, clusters, and the objects each cluster applies together."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterator, Mapping, TypeVar

from beskar.check.documents import YamlFile, emitted_yaml, parse_yaml
from beskar.check.findings import Finding, report
from beskar.check.builds import Build, RealBuild
from beskar.check.kustomize import KUSTOMIZATION_FILES, YAML_SUFFIXES, Kustomize
from beskar.check.resources import Problem, Resource, is_object, resource_of
from beskar.check.schemas import namespaced

T = TypeVar("T")
DEFAULT_NAMESPACE = "default"
BOOTSTRAP_SOURCE = ("flux-system", "flux-system")  # created by `flux bootstrap`, also when not committed


@dataclass(frozen=True)
class ClusterFacts:
    """What a fleet knows about a cluster (one per site) that a hand-written repository does not say."""

    mirror: str | None = None
    release: str | None = None
    upgrading_to: str | None = None  # mid-upgrade, the stages carried so far run this release's images


@dataclass(frozen=True)
class TreeOptions:
    """Settings of the tree rules: per-cluster facts, a mirror for all clusters, and chart values skeletons."""

    clusters: dict[str, ClusterFacts] = field(default_factory=dict)
    mirror: str | None = None
    charts: dict[str, dict[str, Any]] | None = None  # chart -> values skeleton, from --charts DIR

    def facts(self, cluster: str) -> ClusterFacts:
        facts = self.clusters.get(cluster, ClusterFacts())
        return ClusterFacts(facts.mirror or self.mirror, facts.release, facts.upgrading_to)


@dataclass
class Cluster:
    """One cluster's entry point (e.g. clusters/<name>) and everything Flux applies to it from there."""

    name: str
    directory: str
    resources: list[Resource] = field(default_factory=list)
    reached: set[str] = field(default_factory=set)
    paths: list[str] = field(default_factory=list)  # directories its Flux Kustomizations build


def built_directories(repository: FluxRepository) -> list[str]:
    """The directories with a kustomization file that Flux builds as a whole for some cluster."""
    kustomizations = {posixpath.dirname(p) for p in repository.paths if posixpath.basename(p) in KUSTOMIZATION_FILES}
    return sorted(kustomizations & repository.roots)


@dataclass
class FluxRepository:
    """The input of the tree rules. Pure: built from file contents; nothing here reads the disk."""

    files: dict[str, YamlFile]
    paths: frozenset[str]
    clusters: dict[str, Cluster]
    problems: list[Problem]
    options: TreeOptions = field(default_factory=TreeOptions)
    stale: tuple[Any, ...] = ()  # tree.Difference of the committed rendered tree (beskar check)
    patch_files: frozenset[str] = frozenset()  # files kustomizations read as patches, not as objects
    # What several rules derive from the same objects (e.g. every image), computed once per run: see `derived`.
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def derived(self, name: str, compute: Callable[[FluxRepository], T]) -> T:
        """`compute(self)`, computed once for all the rules that ask by the same name (the repository does not
        change while they run; the result is shared, so never changed by a rule)."""
        if name not in self._derived:
            self._derived[name] = compute(self)
        return self._derived[name]

    def documents(self) -> Iterator[tuple[YamlFile, Any]]:
        for path in sorted(self.files):
            for document in self.files[path].documents:
                yield self.files[path], document

    def objects(self) -> Iterator[Resource]:
        """Every object written in the repository, once, as written (also those no cluster applies)."""
        for _, document in self.documents():
            if is_object(document.data):
                yield resource_of(document)

    @cached_property
    def roots(self) -> set[str]:
        """Directories Flux builds: cluster entry points, the paths of Flux Kustomizations, and the directories of
    the kustomizations those read."""
        found = {c.directory for c in self.clusters.values() if c.directory}
        for cluster in self.clusters.values():
            found.update(cluster.paths)
            # and every kustomization they read, also out of their path (`../base`)
            found.update(posixpath.dirname(p) for p in cluster.reached
                         if posixpath.basename(p) in KUSTOMIZATION_FILES and posixpath.dirname(p))
        return found

    def problems_of(self, rule: str) -> Iterator[Finding]:
        """The problems the builds met for a rule, as its findings."""
        for problem in self.problems:
            if problem.rule == rule:
                yield report(rule, problem.message, file=problem.file, line=problem.line, hint=problem.hint)


def cluster_directories(paths: frozenset[str], files: dict[str, YamlFile]) -> list[str]:
    """`clusters/<name>/` when the repository has them; else directories holding `flux-system/gotk-sync.yaml`;
    else the repository root."""
    named = sorted({p.split("/")[1] for p in paths if p.startswith("clusters/") and p.count("/") >= 2})
    if named:
        return [f"clusters/{name}" for name in named]
    bootstrapped = sorted(posixpath.dirname(posixpath.dirname(p)) for p in paths
                          if p.endswith("flux-system/gotk-sync.yaml"))
    return bootstrapped or [""]


def load_repository(contents: dict[str, str], other_paths: frozenset[str] = frozenset(),
                    options: TreeOptions | None = None, own_urls: frozenset[str] = frozenset(),
                    real: dict[str, RealBuild] | None = None,
                    emitted: Mapping[str, list[Any]] | None = None,
                    parsed: Mapping[str, YamlFile] | None = None) -> FluxRepository:
    """Parse every YAML file given (path relative to the root -> text) and resolve each cluster's objects.

    `other_paths` names files that exist but whose content the rules do not need; `real` holds the real
    kustomize's builds of directories, used instead of Beskar's own; `emitted` holds the documents a render has
    just emitted as the text of some of the paths, which are then taken as they are instead of parsed again
    (known to be plain: see `plain_documents`); `parsed` holds files already parsed from the same texts.
    """
    if emitted or parsed:
        emitted, parsed = emitted or {}, parsed or {}
        files = {path: emitted_yaml(path, text, emitted[path], plain=True) if path in emitted else
                 parsed[path] if path in parsed else parse_yaml(path, text)
                 for path, text in sorted(contents.items()) if path.endswith(YAML_SUFFIXES)}
        texts = {path: text for path, text in contents.items() if not path.endswith(YAML_SUFFIXES)}
        kustomize = Kustomize(files, frozenset(contents) | other_paths, texts, real)
    else:
        kustomize = Kustomize.of(contents, other_paths, real)
    files, paths = kustomize.files, kustomize.paths
    clusters = {}
    for directory in cluster_directories(paths, files):
        name = posixpath.basename(directory) or "."
        clusters[name] = _resolve(kustomize, Cluster(name, directory), own_urls)
    return FluxRepository(files, paths, clusters, kustomize.problems, options or TreeOptions(),
                          patch_files=kustomize.patch_files())


def _resolve(kustomize: Kustomize, cluster: Cluster, own_urls: frozenset[str]) -> Cluster:
    """Follow the cluster's Flux Kustomizations from its entry point, each path once."""
    # The repository root (no clusters/): everything not under the path of some Flux Kustomization.
    entry = kustomize.build(cluster.directory) if cluster.directory else _root_build(kustomize)
    pending = [r.copy() for r in entry.resources]
    cluster.reached |= entry.reached
    built = {cluster.directory}
    here: set[tuple[str, str]] = set()  # sources whose Kustomizations found their path in this repository
    unresolved: list[Resource] = []
    while pending:
        resource = pending.pop(0)
        if not resource.namespace and _namespaced(resource):
            resource = resource.copy(namespace=DEFAULT_NAMESPACE)
        cluster.resources.append(resource)
        if not resource.is_flux_kustomization():
            continue
        directory = _directory_here(resource, cluster.resources + pending)
        if directory is None:
            continue  # built from another artifact than this repository (an OCIRepository, a Bucket ...)
        if kustomize.is_directory(directory) or directory == "":
            here.add(_source_key(resource))
            if directory not in cluster.paths:
                cluster.paths.append(directory)
            if directory in built:
                continue  # e.g. flux-system's own Kustomization, which points back at the entry point
            built.add(directory)
            build = kustomize.build(directory)
            cluster.reached |= build.reached
            label = f"{resource.namespace}/{resource.name}"
            target = resource.spec.get("targetNamespace")
            for applied in build.resources:
                changes: dict[str, Any] = {"applied_by": label}
                if isinstance(target, str) and target and _namespaced(applied):
                    changes["namespace"] = target
                pending.append(applied.copy(**changes))
        elif _source_kind(resource) == "GitRepository":
            unresolved.append(resource)
    for resource in unresolved:
        if _source_key(resource) in here or _own_source(resource, cluster, own_urls):
            file, line = resource.where(("spec", "path"))
            kustomize.problems.append(Problem(
                "tree/missing-resource", file, line,
                f"Kustomization {resource.name}: path {resource.spec.get('path')!r} does not exist in this "
                "repository", "paths are relative to the repository root, e.g. ./apps/<cluster>"))
    return cluster


def _path_of(resource: Resource) -> str:
    path = resource.spec.get("path")
    directory = posixpath.normpath(path.lstrip("/")) if isinstance(path, str) and path.strip("./") else "."
    return "" if directory == "." else directory


def _source_kind(resource: Resource) -> str:
    source = resource.spec.get("sourceRef")
    return str(source.get("kind") or "") if isinstance(source, dict) else ""


def _directory_here(resource: Resource, known: list[Resource]) -> str | None:
    """The directory of this repository a Flux Kustomization builds, or None when it builds another artifact.

    A GitRepository is taken for this repository when the path is here (or for the bootstrap source); an
    ExternalArtifact is this repository when an ArtifactGenerator copies a directory of it there.
    """
    kind = _source_kind(resource)
    if kind == "GitRepository":
        path = resource.spec.get("path")
        return _path_of(resource) if isinstance(path, str) or _source_key(resource) == BOOTSTRAP_SOURCE else None
    if kind == "ExternalArtifact":
        return _artifact_directory(resource, known)
    return None


def _artifact_directory(resource: Resource, known: list[Resource]) -> str | None:
    """Where an ArtifactGenerator's `copy` entries put the Kustomization's path, in this repository's terms."""
    namespace, name = _source_key(resource)
    path = _path_of(resource)
    for generator in known:
        if generator.kind != "ArtifactGenerator" or generator.namespace != namespace:
            continue
        own = {str(s.get("alias")) for s in generator.spec.get("sources") or []
               if isinstance(s, dict) and s.get("kind") == "GitRepository"
               and (str(s.get("namespace") or namespace), str(s.get("name"))) == BOOTSTRAP_SOURCE}
        for artifact in generator.spec.get("artifacts") or []:
            if not isinstance(artifact, dict) or artifact.get("name") != name:
                continue
            for copy in artifact.get("copy") or []:
                mapped = _copied(copy, own, path) if isinstance(copy, dict) else None
                if mapped is not None:
                    return mapped
    return None


def _copied(copy: dict[str, Any], aliases: set[str], path: str) -> str | None:
    """`from: "@repo/apps/base/**", to: "@artifact/base/"` puts artifact path base/x at apps/base/x."""
    source, target = str(copy.get("from") or ""), str(copy.get("to") or "")
    alias, _, inside = source.partition("/")
    if alias.lstrip("@") not in aliases or not target.startswith("@artifact/"):
        return None
    inside = inside.removesuffix("**").removesuffix("*").rstrip("/")
    placed = target.removeprefix("@artifact/").rstrip("/")
    if placed and path != placed and not path.startswith(placed + "/"):
        return None
    rest = path[len(placed):].lstrip("/") if placed else path
    return posixpath.normpath(posixpath.join(inside, rest)) if inside or rest else ""


def _source_key(resource: Resource) -> tuple[str, str]:
    source = resource.spec.get("sourceRef") if isinstance(resource.spec.get("sourceRef"), dict) else {}
    return str(source.get("namespace") or resource.namespace), str(source.get("name"))


def _namespaced(resource: Resource) -> bool:
    return namespaced(resource.api_version, resource.kind)


def _root_build(kustomize: Kustomize) -> Build:
    """The repository root as Flux would generate it, without the paths of the Flux Kustomizations found."""
    paths = set()
    for parsed in kustomize.files.values():
        for document in parsed.documents:
            if is_object(document.data):
                resource = resource_of(document)
                if resource.is_flux_kustomization() and isinstance(resource.spec.get("path"), str):
                    normalized = posixpath.normpath(resource.spec["path"].lstrip("/"))
                    if normalized != ".":
                        paths.add(normalized)
    return kustomize.scan("", paths)


def _own_source(resource: Resource, cluster: Cluster, own_urls: frozenset[str]) -> bool:
    """Whether the Kustomization reads this repository (so that its path must exist here)."""
    source = resource.spec.get("sourceRef") or {}
    if not isinstance(source, dict) or source.get("kind") != "GitRepository":
        return False
    namespace = source.get("namespace") or resource.namespace
    if (namespace, source.get("name")) == BOOTSTRAP_SOURCE:
        return True
    for other in cluster.resources:
        if other.kind == "GitRepository" and other.name == source.get("name") and other.namespace == namespace:
            return other.spec.get("url") in own_urls
    return False
