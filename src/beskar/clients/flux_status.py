"""A site's Flux objects read live from its cluster (kubeconfig context) with the `kubernetes` client, as the List
`kubectl get kustomizations,helmreleases -A -o json` prints: the status `beskar upgrade` gates on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# (group, version, plural, kind): the Flux APIs the gate reads (plan/upgrades.not_ready).
FLUX_KINDS = (("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization"),
              ("helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease"))


class ClusterUnreachable(Exception):
    """The cluster could not be read: no client installed, no such context, the API refused or did not answer."""


def as_list(listed: dict[str, Any], group: str, version: str, kind: str) -> list[dict[str, Any]]:
    """The items of one custom-object list, each with its apiVersion and kind (a List response may leave them to
    the list itself)."""
    return [{**item, "apiVersion": item.get("apiVersion") or f"{group}/{version}", "kind": item.get("kind") or kind}
            for item in listed.get("items") or [] if isinstance(item, dict)]


def read_flux_status(context: str | None = None, kubeconfig: Path | None = None,
                     timeout: float = 20.0) -> dict[str, Any]:
    """Every Kustomization and HelmRelease of the cluster the kubeconfig context names (the current one when None)."""
    try:  # an optional dependency: only live status reading needs it
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config.config_exception import ConfigException
        from urllib3.exceptions import HTTPError
    except ImportError:
        raise ClusterUnreachable("the `kubernetes` Python client is not installed (pip install kubernetes), "
                                 "or pass --cluster-status FILE") from None
    try:
        api = client.CustomObjectsApi(config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig else None, context=context))
        items: list[dict[str, Any]] = []
        for group, version, plural, kind in FLUX_KINDS:
            listed = api.list_cluster_custom_object(group, version, plural, _request_timeout=timeout)
            items.extend(as_list(listed, group, version, kind))
    except ConfigException as error:
        raise ClusterUnreachable(f"kubeconfig: {error}") from None
    except ApiException as error:
        raise ClusterUnreachable(f"the API server answered {error.status} {error.reason}") from None
    except (HTTPError, OSError) as error:  # connection refused, timeouts, TLS
        raise ClusterUnreachable(f"cannot reach the API server: {error}") from None
    return {"apiVersion": "v1", "kind": "List", "items": items}
