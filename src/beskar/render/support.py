"""Values of the upstream charts around OpenStack: ingress-nginx, Rook and the monitoring stack."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from beskar.catalog import Catalog, ComponentSpec
from beskar.model import Site
from beskar.render.images import chart_image_values
from beskar.render.openstack import deep_merge

Values = dict[str, Any]

def _ingress(site: Site, catalog: Catalog) -> Values:
    values = {
        "controller": {
            "replicaCount": site.ingress.replicas,
            "ingressClassResource": {"name": site.ingress.class_name, "default": True},
            "ingressClass": site.ingress.class_name,
            "nodeSelector": catalog.placement("support"),
            "kind": "Deployment",
        }
    }
    return deep_merge(values, site.ingress.values)


def _rook_operator(site: Site, catalog: Catalog) -> Values:
    support = catalog.placement("support")
    return {
        "nodeSelector": support,
        "csi": {"provisionerNodeAffinity": ",".join(f"{key}={value}" for key, value in support.items())},
        "monitoring": {"enabled": site.monitoring.enabled},
    }


def _rook_cluster(site: Site, catalog: Catalog) -> Values:
    ceph = site.ceph
    pool_class = {
        "name": ceph.storage_class,
        "enabled": True,
        "isDefault": True,
        "reclaimPolicy": "Delete",
        "allowVolumeExpansion": True,
        "parameters": {"imageFeatures": "layering"},
    }
    if ceph.mode == "external":
        return {
            "operatorNamespace": catalog.ceph_namespace,
            "cephClusterSpec": {"external": {"enable": True}, "crashCollector": {"disable": True},
                                "healthCheck": {"daemonHealth": {"mon": {"disabled": False, "interval": "45s"}}}},
            "cephBlockPools": [{"name": "kubernetes", "spec": {"replicated": {"size": ceph.replicas}},
                                "storageClass": pool_class}],
            "cephFileSystems": [],
            "cephObjectStores": [],
            "monitoring": {"enabled": site.monitoring.enabled},
        }
    return {
        "operatorNamespace": catalog.ceph_namespace,
        "cephClusterSpec": {
            "mon": {"count": 3},
            "storage": {"useAllNodes": False, "useAllDevices": True},
            "placement": {"osd": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": key, "operator": "In", "values": [value]}
                    for key, value in catalog.placement("ceph-osd").items()]}]}}}},
        },
        "cephBlockPools": [{"name": "kubernetes", "spec": {"failureDomain": "host",
                                                           "replicated": {"size": ceph.replicas}},
                            "storageClass": pool_class}],
        "cephFileSystems": [],
        "cephObjectStores": [],
        "monitoring": {"enabled": site.monitoring.enabled},
    }


def _monitoring(site: Site, catalog: Catalog) -> Values:
    return {
        "prometheus": {"prometheusSpec": {
            "retention": site.monitoring.retention,
            "nodeSelector": catalog.placement("support"),
            "externalLabels": {"site": site.name, "region": site.region},
            "storageSpec": {"volumeClaimTemplate": {"spec": {
                "storageClassName": site.ceph.storage_class,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "100Gi"}}}}},
        }},
        "alertmanager": {"alertmanagerSpec": {"nodeSelector": catalog.placement("support")}},
        "grafana": {"nodeSelector": catalog.placement("support"),
                    "ingress": {"enabled": True, "ingressClassName": site.ingress.class_name,
                                "hosts": [f"grafana.{site.domain}"]}},
    }


SUPPORT_VALUES: dict[str, Callable[[Site, Catalog], Values]] = {
    "ingress-nginx": _ingress,
    "rook-ceph": _rook_operator,
    "rook-ceph-cluster": _rook_cluster,
    "kube-prometheus-stack": _monitoring,
}


def support_values(site: Site, spec: ComponentSpec, catalog: Catalog, locks: Mapping[str, str]) -> Values:
    """The chart's values: every image through the site's mirror (in the chart's own layout, locked digests
    pinned), then Beskar's settings, then the user's."""
    images = catalog.image_knowledge.charts.get(spec.chart, ())
    mirror = site.mirror.registry if site.mirror else None
    layout = site.mirror.layout if site.mirror else "flat"
    return deep_merge(chart_image_values(images, mirror, layout, locks), SUPPORT_VALUES[spec.name](site, catalog))
