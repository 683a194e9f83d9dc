"""One site rendered into its Flux tree: clusters/<site>/ and apps/<site>/<NN-layer>/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from beskar.catalog import Catalog, ComponentSpec, Credential, chart_credentials
from beskar.catalog.upgrades import charts_at_target_ref
from beskar.fleet.image_lock import ImageLock
from beskar.model import Site
from beskar.render import flux
from beskar.render.hosts import render_hosts
from beskar.render.kubespray import render_kubespray
from beskar.render.maas import render_maas
from beskar.render.openstack import chart_values
from beskar.render.support import support_values
from beskar.tree import Tree

COMMON_SECRET = "common"
# The site's encrypted Secret, copied as it is into the first layer whose releases read it.
SECRET_FILE = "00-common-encryptedsecret.yaml"


@dataclass(frozen=True)
class SecretNeed:
    """A key the site's Secret `common` must hold, how to generate it, and which releases read it."""

    key: str
    kind: str
    readers: tuple[str, ...]


@dataclass
class RenderedSite:
    name: str
    tree: Tree
    components: list[ComponentSpec] = field(default_factory=list)
    secrets: list[SecretNeed] = field(default_factory=list)


def deployed_components(site: Site, catalog: Catalog) -> list[ComponentSpec]:
    """The catalog components this site runs, in layer and file order."""
    chosen = []
    for spec in catalog.components.values():
        if spec.model == "monitoring":
            enabled = site.monitoring.enabled
        elif spec.model in ("ingress", "ceph"):
            enabled = True
        else:
            enabled = site.openstack.component(spec.name).enabled
        if enabled:
            chosen.append(spec)
    return sorted(chosen, key=lambda s: (s.layer, s.order, s.name))


def _namespace_of(spec: ComponentSpec, site: Site) -> str:
    return spec.namespace or site.openstack.namespace


def render_site(site: Site, catalog: Catalog, fleet_settings: dict[str, Any], bootstrapped: bool = False,
                secrets_file: bytes | None = None, image_lock: ImageLock | None = None) -> RenderedSite:
    """The complete Flux tree of one site. Pure: same site, catalog and secrets file bytes, same output."""
    components = deployed_components(site, catalog)
    locks = image_lock.digests() if image_lock else {}
    deployed = frozenset(spec.name for spec in components)
    source = f"sites/{site.name}/site.yaml"
    tree = Tree()
    needs: dict[str, tuple[str, set[str]]] = {}

    layers: dict[str, list[tuple[str, list[Any]]]] = {}
    namespaces = sorted({_namespace_of(spec, site) for spec in components})
    layers.setdefault("00-common", []).append(("00-namespaces.yaml", [flux.namespace(n) for n in namespaces]))
    for spec in components:
        credentials = chart_credentials(catalog, spec.name, deployed) if spec.from_openstack_helm else []
        for credential in credentials:
            kind, readers = needs.setdefault(credential.key, (credential.kind.value, set()))
            readers.add(spec.name)
        release = _helm_release(site, spec, catalog, deployed, credentials, components, locks)
        layers.setdefault(spec.layer, []).append((spec.file_name, [release]))

    apps = f"apps/{site.name}"
    layer_names = [layer.name for layer in catalog.layers if layer.name in layers]
    readers = {reader for _, names in needs.values() for reader in names}
    secret_layer = next((spec.layer for spec in components if spec.name in readers), None)
    for layer in layer_names:
        files = layers[layer]
        for file_name, documents in files:
            tree.add(f"{apps}/{layer}/{file_name}", documents, source)
        resources = [f for f, _ in files]
        if secrets_file is not None and layer == secret_layer:
            tree.add_raw(f"{apps}/{layer}/{SECRET_FILE}", secrets_file, f"sites/{site.name}/secrets.sops.yaml")
            resources.append(SECRET_FILE)
        tree.add(f"{apps}/{layer}/kustomization.yaml", [flux.kustomization_file(resources)], source)

    clusters = f"clusters/{site.name}"
    tree.add(f"{clusters}/sources.yaml", _sources(site, catalog, components, fleet_settings), source)
    previous: list[str] = []
    for layer in layer_names:
        name = _kustomization_name(layer)
        tree.add(f"{clusters}/{layer}.yaml", [flux.flux_kustomization(
            name, f"./{apps}/{layer}", previous[-1:], f"sops-age-key-{site.name}")], source)
        previous.append(name)
    resources = ["sources.yaml", *[f"{layer}.yaml" for layer in layer_names]]
    if bootstrapped:
        resources.append("flux-system")
    tree.add(f"{clusters}/kustomization.yaml", [flux.kustomization_file(resources)], source)

    # Below Kubernetes: the same site as Kubespray, host-configuration and MAAS inventories.
    tree.update(render_kubespray(site, catalog, source))
    tree.update(render_hosts(site, catalog, source))
    tree.update(render_maas(site, catalog, source))

    secrets = [SecretNeed(key, kind, tuple(sorted(readers))) for key, (kind, readers) in sorted(needs.items())]
    return RenderedSite(site.name, tree, components, secrets)


def _kustomization_name(layer: str) -> str:
    return "apps-" + re.sub(r"^\d+-", "", layer)


def staged_charts(site: Site, catalog: Catalog, components: list[ComponentSpec]) -> tuple[str, frozenset[str]]:
    """Mid-upgrade to a release whose images need another openstack-helm ref: that ref and the charts whose stage
    is done, which take their chart from it (a second GitRepository) while the others stay at the site's ref.
    Nothing when the site names its own ref (`charts.ref`) or takes charts from a Helm or OCI repository."""
    upgrade, charts = site.openstack.upgrade, site.charts
    if upgrade is None or charts.type != "git" or charts.ref:
        return "", frozenset()
    deployed = frozenset(spec.chart for spec in components if spec.from_openstack_helm)
    moved = charts_at_target_ref(catalog, site.openstack.release, upgrade.to, site.openstack.distro, deployed,
                                 tuple(upgrade.done))
    return (catalog.releases[upgrade.to].charts_ref, moved) if moved else ("", frozenset())


def staged_source(ref: str) -> str:
    return f"{flux.CHART_SOURCE}-{ref}"


def _chart_reference(site: Site, spec: ComponentSpec, staged: tuple[str, frozenset[str]]) -> dict[str, Any]:
    if not spec.from_openstack_helm:
        return {"chart": {"spec": {
            "chart": spec.chart, "version": spec.version or "*",
            "sourceRef": {"kind": "HelmRepository", "name": spec.source, "namespace": flux.FLUX_NAMESPACE}}}}
    charts = site.charts
    if charts.type == "git":
        return {"chart": {"spec": {
            "chart": f"./{spec.chart}", "reconcileStrategy": "Revision",
            "sourceRef": {"kind": "GitRepository",
                          "name": staged_source(staged[0]) if spec.chart in staged[1] else flux.CHART_SOURCE,
                          "namespace": flux.FLUX_NAMESPACE}}}}
    if charts.type == "helm":
        return {"chart": {"spec": {
            "chart": spec.chart, "version": charts.version or "*",
            "sourceRef": {"kind": "HelmRepository", "name": flux.CHART_SOURCE, "namespace": flux.FLUX_NAMESPACE}}}}
    return {"chartRef": {"kind": "OCIRepository", "name": f"{flux.CHART_SOURCE}-{spec.chart}",
                         "namespace": flux.FLUX_NAMESPACE}}


def _helm_release(site: Site, spec: ComponentSpec, catalog: Catalog, deployed: frozenset[str],
                  credentials: list[Credential], components: list[ComponentSpec],
                  locks: Mapping[str, str]) -> dict[str, Any]:
    namespace = _namespace_of(spec, site)
    by_name = {c.name: c for c in components}
    depends_on = []
    for dependency in spec.depends_on:
        if dependency in deployed:
            entry = {"name": dependency}
            other = _namespace_of(by_name[dependency], site)
            if other != namespace:
                entry["namespace"] = other
            depends_on.append(entry)
    if spec.from_openstack_helm:
        values = chart_values(site, spec, catalog, deployed, locks)
    else:
        values = support_values(site, spec, catalog, locks)
    values_from = [
        {"kind": "Secret", "name": COMMON_SECRET, "valuesKey": c.key, "targetPath": c.target}
        for c in credentials
    ]
    reference = _chart_reference(site, spec, staged_charts(site, catalog, components))
    return flux.helm_release(spec.name, namespace, reference, values, depends_on, values_from, spec.disable_wait)


def _sources(site: Site, catalog: Catalog, components: list[ComponentSpec],
             fleet_settings: dict[str, Any]) -> list[dict[str, Any]]:
    repository = fleet_settings.get("repository") or {}
    documents = [flux.git_repository(
        flux.FLEET_SOURCE,
        repository.get("url", "https://gitlab.example.org/cloud/fleet.git"),
        {"branch": repository.get("branch", "main")},
        "1m",
    )]
    charts = site.charts
    if any(spec.from_openstack_helm for spec in components):
        if charts.type == "git":
            ref = charts.ref or catalog.releases[site.openstack.release].charts_ref
            kind = "commit" if re.fullmatch(r"[0-9a-f]{40}", ref) else "tag"
            documents.append(flux.git_repository(flux.CHART_SOURCE, charts.url, {kind: ref}, charts.interval))
            staged, _ = staged_charts(site, catalog, components)
            if staged:
                documents.append(flux.git_repository(staged_source(staged), charts.url, {"tag": staged},
                                                     charts.interval))
        elif charts.type == "helm":
            documents.append(flux.helm_repository(flux.CHART_SOURCE, charts.url, charts.interval))
        else:
            for chart in sorted({spec.chart for spec in components if spec.from_openstack_helm}):
                documents.append(flux.oci_repository(f"{flux.CHART_SOURCE}-{chart}",
                                                     f"{charts.url.rstrip('/')}/{chart}",
                                                     charts.version or "*", charts.interval))
    for name in sorted({spec.source for spec in components if not spec.from_openstack_helm}):
        documents.append(flux.helm_repository(name, catalog.helm_repositories[name]))
    return documents
