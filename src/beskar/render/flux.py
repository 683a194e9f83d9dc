"""Flux and Kustomize objects as plain documents: sources, Kustomizations, HelmReleases, namespaces."""

from __future__ import annotations

from typing import Any

FLUX_NAMESPACE = "flux-system"
FLEET_SOURCE = "fleet"
CHART_SOURCE = "openstack-helm"


def kustomization_file(resources: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(resources),
    }


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"name": name}}}


def git_repository(name: str, url: str, ref: dict[str, str], interval: str) -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
        "spec": {"interval": interval, "url": url, "ref": ref},
    }


def helm_repository(name: str, url: str, interval: str = "1h") -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
        "spec": {"interval": interval, "url": url},
    }


def oci_repository(name: str, url: str, version: str, interval: str) -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
        "spec": {
            "interval": interval,
            "url": url,
            "ref": {"semver": version},
            "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                              "operation": "copy"},
        },
    }


def flux_kustomization(name: str, path: str, depends_on: list[str], key_secret: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": "10m",
        "retryInterval": "2m",
        "timeout": "30m",
        "path": path,
        "prune": True,
        "wait": True,
        "sourceRef": {"kind": "GitRepository", "name": FLEET_SOURCE},
        "decryption": {"provider": "sops", "secretRef": {"name": key_secret}},
    }
    if depends_on:
        spec["dependsOn"] = [{"name": d} for d in depends_on]
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
        "spec": spec,
    }


def helm_release(
    name: str,
    namespace: str,
    chart: dict[str, Any],
    values: dict[str, Any],
    depends_on: list[dict[str, str]],
    values_from: list[dict[str, str]],
    disable_wait: bool,
) -> dict[str, Any]:
    """A HelmRelease that installs into and stores its state in its own namespace."""
    remediation = {"remediation": {"retries": 3}}
    install: dict[str, Any] = {"createNamespace": False, **remediation}
    upgrade: dict[str, Any] = dict(remediation)
    if disable_wait:
        # Helm's wait holds back the charts' DB init/sync jobs (see FIELD-NOTES).
        install["disableWait"] = True
        upgrade["disableWait"] = True
    spec: dict[str, Any] = {
        "releaseName": name,
        "interval": "30m",
        "timeout": "30m",
        "targetNamespace": namespace,
        "storageNamespace": namespace,
        **chart,
        "install": install,
        "upgrade": upgrade,
    }
    if depends_on:
        spec["dependsOn"] = depends_on
    if values_from:
        spec["valuesFrom"] = values_from
    spec["values"] = values
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
