"""Tree rules across objects: unique names, sources, dependsOn (namespace-aware, no cycles), valuesFrom keys."""

from __future__ import annotations

from typing import Any, Iterator

from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.check.repository import BOOTSTRAP_SOURCE, Cluster, FluxRepository
from beskar.check.resources import Resource
from beskar.check.rules_tree_schema import cluster_site

SOURCE_KINDS = {"GitRepository", "HelmRepository", "OCIRepository", "Bucket", "HelmChart", "ExternalArtifact"}


def _group(resource: Resource) -> str:
    return resource.api_version.rpartition("/")[0]


def _index(cluster: Cluster) -> dict[tuple[str, str, str], list[Resource]]:
    """(kind, namespace, name) -> the objects the cluster applies under it, and the ExternalArtifacts that its
    ArtifactGenerators produce (Flux 2.7)."""
    found: dict[tuple[str, str, str], list[Resource]] = {}
    for resource in cluster.resources:
        found.setdefault((resource.kind, resource.namespace, resource.name), []).append(resource)
        if resource.kind == "ArtifactGenerator":
            for artifact in resource.spec.get("artifacts") or []:
                if isinstance(artifact, dict) and isinstance(artifact.get("name"), str):
                    found.setdefault(("ExternalArtifact", resource.namespace, artifact["name"]), []).append(resource)
    return found


@rule("tree/duplicate-name", Severity.ERROR, Scope.TREE,
      "No two objects of one kind share a name and namespace in what a cluster applies, across files and "
      "Kustomizations.")
def duplicate_names(repository: FluxRepository) -> Iterator[Finding]:
    for name, cluster in sorted(repository.clusters.items()):
        seen: dict[tuple[str, str, str, str], Resource] = {}
        for resource in cluster.resources:
            key = (_group(resource), resource.kind, resource.namespace, resource.name)
            first = seen.setdefault(key, resource)
            if first is resource:
                continue
            file, line = first.where()
            if first.applied_by == resource.applied_by:  # both in one kustomize build
                why = ("; kustomize refuses to build them together (may not add resource with an already "
                       "registered id), so Flux applies nothing of that build")
            else:
                why = f"; Flux Kustomizations {first.applied_by or 'flux-system'} and " \
                      f"{resource.applied_by or 'flux-system'} both apply it and fight over it"
            yield report("tree/duplicate-name",
                         f"{resource.label()} is defined twice{why}; the first is at {file}:{line}", **resource.at(),
                         hint="rename one or remove it", site=cluster_site(name))


def _reference(resource: Resource, path: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = resource.data
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _source_refs(resource: Resource) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    if resource.kind == "HelmRelease":
        paths = [("spec", "chart", "spec", "sourceRef"), ("spec", "chartRef")]
    elif resource.is_flux_kustomization() or resource.kind == "HelmChart":
        paths = [("spec", "sourceRef")]
    elif resource.kind == "ArtifactGenerator":
        sources = resource.spec.get("sources")
        paths = [("spec", "sources", i) for i in range(len(sources))] if isinstance(sources, list) else []
    else:
        return
    for path in paths:
        reference = _reference(resource, path)
        if reference is not None:
            yield path, reference


@rule("tree/missing-source", Severity.ERROR, Scope.TREE,
      "Every HelmRelease chart sourceRef and chartRef, and every Kustomization sourceRef, names a source of that "
      "kind defined in that namespace.")
def missing_sources(repository: FluxRepository) -> Iterator[Finding]:
    for name, cluster in sorted(repository.clusters.items()):
        index = _index(cluster)
        for resource in cluster.resources:
            for path, reference in _source_refs(resource):
                kind, source = reference.get("kind"), reference.get("name")
                namespace = reference.get("namespace") or resource.namespace
                if not isinstance(kind, str) or not isinstance(source, str):
                    continue  # the schema rule reports a malformed reference
                if (kind, namespace, source) in index or (namespace, source) == BOOTSTRAP_SOURCE:
                    continue
                elsewhere = sorted(ns for (k, ns, n) in index if k == kind and n == source)
                hint = (f"a {kind} {source} exists in namespace {', '.join(elsewhere)}: set namespace there"
                        if elsewhere else f"define the {kind} (e.g. in clusters/<cluster>/sources.yaml)")
                yield report("tree/missing-source",
                             f"{resource.label()} uses {kind} {namespace}/{source}, which is not defined",
                             **resource.at(path), hint=hint, site=cluster_site(name))


def _dependencies(resource: Resource) -> Iterator[tuple[int, str, str]]:
    depends = resource.spec.get("dependsOn")
    if resource.kind not in ("HelmRelease", "Kustomization") or not isinstance(depends, list):
        return
    for index, entry in enumerate(depends):
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            yield index, entry.get("namespace") or resource.namespace, entry["name"]


@rule("tree/missing-dependency", Severity.ERROR, Scope.TREE,
      "Every dependsOn names an object of the same kind in the given namespace (default: the object's own).")
def missing_dependencies(repository: FluxRepository) -> Iterator[Finding]:
    for name, cluster in sorted(repository.clusters.items()):
        index = _index(cluster)
        for resource in cluster.resources:
            for position, namespace, target in _dependencies(resource):
                if (resource.kind, namespace, target) in index:
                    continue
                elsewhere = sorted(ns for (k, ns, n) in index if k == resource.kind and n == target)
                hint = (f"{resource.kind} {target} is in namespace {', '.join(elsewhere)}: add "
                        f"`namespace: {elsewhere[0]}` to the dependsOn entry" if elsewhere
                        else f"no {resource.kind} named {target} is applied to this cluster")
                yield report("tree/missing-dependency",
                             f"{resource.label()} depends on {resource.kind} {namespace}/{target}, which does not "
                             "exist", **resource.at(("spec", "dependsOn", position)), hint=hint,
                             site=cluster_site(name))


@rule("tree/dependency-cycle", Severity.ERROR, Scope.TREE,
      "dependsOn between HelmReleases, and between Kustomizations, has no cycle (Flux would wait forever).")
def dependency_cycles(repository: FluxRepository) -> Iterator[Finding]:
    for name, cluster in sorted(repository.clusters.items()):
        for kind in ("HelmRelease", "Kustomization"):
            nodes = {(r.namespace, r.name): r for r in cluster.resources if r.kind == kind}
            edges = {key: sorted({(ns, n) for _, ns, n in _dependencies(r) if (ns, n) in nodes})
                     for key, r in nodes.items()}
            for cycle in _cycles(edges):
                first = nodes[cycle[0]]
                path = " -> ".join(f"{ns}/{n}" for ns, n in cycle + [cycle[0]])
                yield report("tree/dependency-cycle", f"{kind} dependsOn cycle: {path}",
                             **first.at(("spec", "dependsOn")), hint="remove one of these dependsOn entries",
                             site=cluster_site(name))


def _cycles(edges: dict[Any, list[Any]]) -> Iterator[list[Any]]:
    """One cycle per strongly connected component that has one (Tarjan), starting at its smallest node."""
    index: dict[Any, int] = {}
    low: dict[Any, int] = {}
    stack: list[Any] = []
    on_stack: set[Any] = set()
    components = []

    def visit(node: Any) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges[node]:
                components.append(set(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    for component in sorted(components, key=min):
        yield _shortest_cycle(min(component), component, edges)


def _shortest_cycle(start: Any, component: set[Any], edges: dict[Any, list[Any]]) -> list[Any]:
    """Breadth-first from `start` back to it, inside its component."""
    previous: dict[Any, Any] = {}
    queue = [start]
    while queue:
        current = queue.pop(0)
        for target in edges[current]:
            if target == start:
                cycle = [current]
                while cycle[-1] != start:
                    cycle.append(previous[cycle[-1]])
                return list(reversed(cycle))
            if target in component and target not in previous:
                previous[target] = current
                queue.append(target)
    return [start]


@rule("tree/values-from-key", Severity.ERROR, Scope.TREE,
      "Every HelmRelease valuesFrom key exists in its ConfigMap or Secret when that object is in the repository "
      "(SOPS keeps key names readable).")
def values_from_keys(repository: FluxRepository) -> Iterator[Finding]:
    for name, cluster in sorted(repository.clusters.items()):
        index = _index(cluster)
        for resource in cluster.resources:
            entries = resource.spec.get("valuesFrom") if resource.kind == "HelmRelease" else None
            for position, entry in enumerate(entries if isinstance(entries, list) else []):
                if not isinstance(entry, dict) or entry.get("optional") is True:
                    continue
                kind, source = entry.get("kind"), entry.get("name")
                key = entry.get("valuesKey") or "values.yaml"
                holders = index.get((kind, resource.namespace, source), [])
                if not holders:
                    continue  # created outside the repository (or reported by another rule)
                keys = set()
                for holder in holders:
                    for section in ("data", "stringData", "binaryData"):
                        if isinstance(holder.data.get(section), dict):
                            keys |= set(holder.data[section])
                if key not in keys:
                    import difflib

                    close = difflib.get_close_matches(str(key), sorted(keys), n=1)
                    file, line = holders[0].where()
                    yield report("tree/values-from-key",
                                 f"{resource.label()} reads key {key!r} of {kind} {source}, which has no such key",
                                 **resource.at(("spec", "valuesFrom", position, "valuesKey")),
                                 hint=(f"did you mean {close[0]!r}? " if close else "") + f"({kind} at {file}:{line})",
                                 site=cluster_site(name))


_ISSUER_ANNOTATIONS = {"cert-manager.io/cluster-issuer": "ClusterIssuer", "cert-manager.io/issuer": "Issuer"}


def _issuer_refs(resource: Resource) -> Iterator[tuple[tuple[Any, ...], str, str]]:
    """(path, kind, name) of the cert-manager issuers an object asks for: a Certificate's (or
    CertificateRequest's) issuerRef, and the annotations of an Ingress or Gateway."""
    if _group(resource) == "cert-manager.io" and resource.kind in ("Certificate", "CertificateRequest"):
        reference = resource.spec.get("issuerRef")
        if isinstance(reference, dict) and isinstance(reference.get("name"), str) \
                and reference.get("group") in (None, "", "cert-manager.io"):
            yield ("spec", "issuerRef", "name"), str(reference.get("kind") or "Issuer"), reference["name"]
    metadata = resource.data.get("metadata") if isinstance(resource.data.get("metadata"), dict) else {}
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    for annotation, kind in _ISSUER_ANNOTATIONS.items():
        if isinstance(annotations.get(annotation), str):
            yield ("metadata", "annotations", annotation), kind, annotations[annotation]


@rule("tree/missing-issuer", Severity.WARNING, Scope.TREE,
      "Every cert-manager issuerRef (and cert-manager.io/cluster-issuer or issuer annotation) names an Issuer or "
      "ClusterIssuer that the cluster defines.")
def missing_issuers(repository: FluxRepository) -> Iterator[Finding]:
    for name, cluster in sorted(repository.clusters.items()):
        issuers = {(r.kind, r.namespace, r.name) for r in cluster.resources
                   if r.kind in ("Issuer", "ClusterIssuer") and _group(r) == "cert-manager.io"}
        if not issuers and not any(_group(r) == "cert-manager.io" for r in cluster.resources):
            continue  # no cert-manager object here at all: the issuers come from elsewhere
        for resource in cluster.resources:
            for path, kind, issuer in _issuer_refs(resource):
                namespace = resource.namespace if kind == "Issuer" else ""
                if (kind, namespace, issuer) in issuers:
                    continue
                defined = sorted(f"{k} {n}" for k, _, n in issuers)
                yield report("tree/missing-issuer",
                             f"{resource.label()} asks cert-manager for {kind} "
                             f"{namespace + '/' if namespace else ''}{issuer}, which the cluster does not define",
                             **resource.at(path), site=cluster_site(name),
                             hint=f"defined: {', '.join(defined)}" if defined else
                             f"define the {kind}, or correct the name")
