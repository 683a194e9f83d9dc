"""Tree rules on each object alone: readable YAML, its schema, and whether its API version is still served."""

from __future__ import annotations

from typing import Iterator

from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.check.repository import FluxRepository
from beskar.check.resources import Resource
from beskar.check.schemas import ApiStatus, api_status, crd_versions, kubernetes_version, schema_errors


def cluster_site(name: str) -> str | None:
    return None if name == "." else name


def applied(repository: FluxRepository) -> Iterator[tuple[str | None, Resource]]:
    """Every object each cluster applies (after patches), with the cluster's name."""
    for name in sorted(repository.clusters):
        for resource in repository.clusters[name].resources:
            yield cluster_site(name), resource


def unapplied(repository: FluxRepository) -> Iterator[Resource]:
    """Objects in files no cluster reads (checked as written); patch files are not objects of their own."""
    reached = set().union(*(c.reached for c in repository.clusters.values())) if repository.clusters else set()
    for resource in repository.objects():
        if resource.file not in reached and resource.file not in repository.patch_files:
            yield resource


@rule("tree/yaml", Severity.ERROR, Scope.TREE,
      "Every YAML file parses: no syntax errors, no duplicate keys (kustomize and Flux reject both).")
def yaml_flaws(repository: FluxRepository) -> Iterator[Finding]:
    for path, parsed in sorted(repository.files.items()):
        for flaw in parsed.flaws:
            yield report("tree/yaml", flaw.message, file=path, line=flaw.line)


@rule("tree/schema", Severity.ERROR, Scope.TREE,
      f"Every object matches its schema: Flux CRDs (all versions) and Kubernetes {kubernetes_version()} built-in "
      "kinds.")
def schema(repository: FluxRepository) -> Iterator[Finding]:
    checked = [(site, r) for site, r in applied(repository)] + [(None, r) for r in unapplied(repository)]
    for site, resource in checked:
        if resource.generator is not None:
            continue
        # Flux decrypts SOPS files before applying them, which removes the `sops` metadata block.
        data = resource.data if "sops" not in resource.data else {k: v for k, v in resource.data.items() if k != "sops"}
        for error in schema_errors(data):
            yield report("tree/schema", f"{resource.label()}: {error.path}: {error.message}",
                         **resource.at(error.location), hint=error.hint, site=site)


@rule("tree/deprecated-api", Severity.WARNING, Scope.TREE,
      "Flux objects use a current API version (v2beta1 HelmRelease, v1beta2 Kustomization ... are deprecated).")
def deprecated_api(repository: FluxRepository) -> Iterator[Finding]:
    for resource in repository.objects():
        status, _ = api_status(resource.api_version, resource.kind)
        if status is ApiStatus.DEPRECATED:
            crd = crd_versions()[(resource.api_version, resource.kind)]
            current = next(v.api_version for v in crd_versions().values()
                           if v.kind == crd.kind and v.group == crd.group and not v.deprecated)
            yield report("tree/deprecated-api",
                         f"{resource.kind} {resource.name}: {resource.api_version} is deprecated",
                         **resource.at(("apiVersion",)),
                         hint=f"use {current}; Flux 2.7 and later no longer serve {crd.version}, and the fields "
                              "that changed are listed in the Flux upgrade notes")


@rule("tree/unknown-api", Severity.ERROR, Scope.TREE,
      "Objects of a known kind use an API version that Flux or Kubernetes serves.")
def unknown_api(repository: FluxRepository) -> Iterator[Finding]:
    for resource in repository.objects():
        status, known = api_status(resource.api_version, resource.kind)
        if status is ApiStatus.UNSERVED:
            yield report("tree/unknown-api",
                         f"{resource.kind} {resource.name}: {resource.api_version} is not a served API version "
                         f"of {resource.kind}", **resource.at(("apiVersion",)),
                         hint=f"served: {', '.join(known)}")
