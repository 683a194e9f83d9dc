"""The Kubespray inventory of a site: hosts.yaml with groups and node labels, and its group_vars."""

from __future__ import annotations

from typing import Any

from beskar.catalog import Catalog
from beskar.model import Node, Purpose, Role, Site
from beskar.render.netplan import management_device
from beskar.tree import Tree

API_PORT = 6443
RACK_LABEL = "topology.rook.io/rack"
# Flux installs everything above Kubernetes; Kubespray's own addons stay off except Helm.
ADDONS_OFF = ("registry_enabled", "metrics_server_enabled", "local_path_provisioner_enabled",
              "local_volume_provisioner_enabled", "gateway_api_enabled", "ingress_alb_enabled",
              "cert_manager_enabled", "metallb_enabled", "argocd_enabled", "node_feature_discovery_enabled")


def node_labels(node: Node, catalog: Catalog) -> dict[str, str]:
    """The Kubernetes labels of a node: its roles' labels, its flavor family, its rack."""
    labels: dict[str, str] = {}
    by_role = catalog.node_labels["roles"]
    for role in node.roles:
        labels.update(by_role.get(role.value, {}))
    if node.flavor_family:
        labels[catalog.node_labels["flavor_family_label"]] = node.flavor_family
    if node.rack:
        labels[RACK_LABEL] = node.rack
    return dict(sorted(labels.items()))


def hosts_file(site: Site, catalog: Catalog) -> dict[str, Any]:
    management = site.network(Purpose.MANAGEMENT)
    hosts: dict[str, Any] = {}
    control_plane = site.nodes_with(Role.CONTROL_PLANE)
    for node in site.nodes:
        address = str(node.address_on(management.name)) if management else node.name
        entry: dict[str, Any] = {"ansible_host": address, "ip": address, "access_ip": address}
        if node in control_plane:
            entry["etcd_member_name"] = f"etcd{control_plane.index(node) + 1}"
            device = management_device(site, node)
            if device:
                entry["kube_vip_interface"] = device
        entry["node_labels"] = node_labels(node, catalog)
        hosts[node.name] = entry
    members = {node.name: {} for node in control_plane}
    return {"all": {
        "hosts": hosts,
        "children": {
            "kube_control_plane": {"hosts": dict(members)},
            # Stacked etcd on the control plane, as in Kubespray's sample inventory.
            "etcd": {"hosts": dict(members)},
            # Every node runs workloads: the OpenStack control plane is pods on the control-plane nodes.
            "kube_node": {"hosts": {node.name: {} for node in site.nodes}},
            "k8s_cluster": {"children": {"kube_control_plane": {}, "kube_node": {}}},
        },
    }}


def group_vars(site: Site) -> dict[str, dict[str, Any]]:
    """group_vars file -> variables, named as in Kubespray's sample inventory."""
    kubernetes = site.kubernetes
    vip = str(kubernetes.api_vip)
    all_vars: dict[str, Any] = {
        "loadbalancer_apiserver": {"address": vip, "port": API_PORT},
        "loadbalancer_apiserver_localhost": False,
        # The host playbook runs chrony with the site's servers; Kubespray must not fight it.
        "ntp_enabled": False,
    }
    if site.hosts.dns_servers:
        all_vars["upstream_dns_servers"] = [str(a) for a in site.hosts.dns_servers]
    cluster = {
        # Kubespray names versions without the leading v (e.g. 1.32.5).
        "kube_version": kubernetes.version.removeprefix("v"),
        "kube_network_plugin": kubernetes.network_plugin,
        "kube_service_addresses": str(kubernetes.service_cidr),
        "kube_pods_subnet": str(kubernetes.pod_cidr),
        "kube_proxy_mode": kubernetes.proxy_mode,
        # kube-vip answers ARP for the API VIP; IPVS must then not answer for addresses it does not own.
        "kube_proxy_strict_arp": True,
        "cluster_name": kubernetes.cluster_domain,
        "container_manager": "containerd",
        "dns_mode": "coredns",
        "enable_nodelocaldns": True,
        "supplementary_addresses_in_ssl_keys": [vip, f"k8s.{site.domain}"],
    }
    addons: dict[str, Any] = {"helm_enabled": True, **{name: False for name in ADDONS_OFF}}
    addons.update({
        "kube_vip_enabled": True,
        "kube_vip_arp_enabled": True,
        "kube_vip_controlplane_enabled": True,
        "kube_vip_services_enabled": False,
        "kube_vip_address": vip,
    })
    return {"all/all.yml": all_vars, "k8s_cluster/k8s-cluster.yml": cluster, "k8s_cluster/addons.yml": addons}


def render_kubespray(site: Site, catalog: Catalog, source: str) -> Tree:
    """inventory/<site>/kubespray/: hosts.yaml and group_vars/{all,k8s_cluster}/."""
    tree = Tree()
    base = f"inventory/{site.name}/kubespray"
    tree.add(f"{base}/hosts.yaml", [hosts_file(site, catalog)], source)
    for path, variables in group_vars(site).items():
        tree.add(f"{base}/group_vars/{path}", [variables], source)
    return tree
