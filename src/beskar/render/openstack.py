"""Values of the openstack-helm charts: images, placement, endpoints, networking, Ceph and overrides."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable, Mapping

from beskar.catalog import Catalog, ComponentSpec
from beskar.catalog.upgrades import Pins, pins_during
from beskar.model import Purpose, Role, Site
from beskar.model.base import DEFAULT_MTU
from beskar.model.site import Network
from beskar.render.images import mirror_image, pinned

Values = dict[str, Any]


def put(values: Values, path: str, value: Any) -> None:
    """Set a dotted path, creating mappings on the way."""
    *parents, leaf = path.split(".")
    node = values
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def deep_merge(base: Values, overlay: Values) -> Values:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def chart_values(site: Site, spec: ComponentSpec, catalog: Catalog, deployed: frozenset[str],
                 locks: Mapping[str, str] | None = None) -> Values:
    """Everything Beskar sets in one openstack-helm chart's values, user overrides applied last."""
    skeleton = catalog.values_skeleton(spec.chart)
    values: Values = {}
    pins = site_pins(site, catalog, deployed)[spec.chart]
    mirror = site.mirror.registry if site.mirror else None
    layout = site.mirror.layout if site.mirror else "flat"
    # Only keys the chart reads: some upstream pin files name images the chart no longer has.
    keys = ((skeleton.get("images") or {}).get("tags") or {}).keys()
    values["images"] = {"tags": {key: mirror_image(pins[key], mirror, layout) for key in sorted(keys) if key in pins}}
    for group, selector in sorted(catalog.node_selectors(spec.chart).items()):
        key, _, value = selector.partition("=")
        put(values, f"labels.{group}.node_selector_key", key)
        put(values, f"labels.{group}.node_selector_value", value)
    _endpoints(values, site, skeleton, catalog, deployed)
    component = site.openstack.component(spec.name) if spec.model is None else None
    replicas = component.replicas if component is not None else None
    if replicas is not None:
        for name in sorted((skeleton.get("pod") or {}).get("replicas") or {}):
            put(values, f"pod.replicas.{name}", replicas)
    specific = _SPECIFIC.get(spec.chart)
    if specific is not None:
        specific(values, site, catalog)
    if component is not None:
        if component.conf:
            values["conf"] = deep_merge(values.get("conf", {}), component.conf)
        if component.values:
            values = deep_merge(values, component.values)
    if locks:  # after the user's values: an image they set through the mirror is pinned as well
        tags = (values.get("images") or {}).get("tags") or {}
        for key, image in tags.items():
            if isinstance(image, str):
                tags[key] = pinned(image, locks, mirror, layout)
    return values


def site_pins(site: Site, catalog: Catalog, deployed: frozenset[str]) -> Pins:
    """The site's image pins: its release's, or mid-upgrade its release's with the done stages at the target's."""
    openstack = site.openstack
    if openstack.upgrade is None:
        return catalog.images(openstack.release, openstack.distro)
    charts = frozenset(catalog.components[name].chart for name in deployed
                       if catalog.components[name].from_openstack_helm)
    return pins_during(catalog, openstack.release, openstack.upgrade.to, openstack.distro, charts,
                       tuple(openstack.upgrade.done))


def _endpoints(values: Values, site: Site, skeleton: Values, catalog: Catalog, deployed: frozenset[str]) -> None:
    endpoints = skeleton.get("endpoints")
    if not isinstance(endpoints, dict):
        return
    values["endpoints"] = {"cluster_domain_suffix": site.kubernetes.cluster_domain}
    public = {spec.endpoint: spec for spec in catalog.components.values() if spec.endpoint and spec.name in deployed}
    for section, body in sorted(endpoints.items()):
        if not isinstance(body, dict):
            continue
        spec = public.get(section)
        if spec is not None:
            service = site.openstack.component(spec.name)
            name = getattr(service, "public_name", None) or spec.public_name
            put(values, f"endpoints.{section}.host_fqdn_override.public.host", f"{name}.{site.domain}")
            if site.tls:
                put(values, f"endpoints.{section}.scheme.public", "https")
                ports = body.get("port") or {}
                if ports:
                    put(values, f"endpoints.{section}.port.{sorted(ports)[0]}.public", 443)
        if section == "identity" and isinstance(body.get("auth"), dict):
            for user, fields in sorted(body["auth"].items()):
                if isinstance(fields, dict) and "region_name" in fields:
                    put(values, f"endpoints.identity.auth.{user}.region_name", site.region)


def _provider_networks(site: Site) -> list[Network]:
    return [n for n in site.networks if n.purpose == Purpose.PROVIDER]


def _uniform_device(site: Site, network: Network, role: Role | None = None, tagged: bool = True) -> str | None:
    """The device every attached node uses for the network (with its VLAN suffix), if they all agree."""
    devices = set()
    for node in site.nodes:
        if role is not None and role not in node.roles:
            continue
        for attachment in node.networks:
            if attachment.name == network.name:
                suffix = f".{network.vlan}" if tagged and network.vlan else ""
                devices.add(attachment.device + suffix)
    return devices.pop() if len(devices) == 1 else None


def _neutron(values: Values, site: Site, catalog: Catalog) -> None:
    neutron = site.openstack.neutron
    tunnel = site.network(Purpose.TUNNEL)
    providers = _provider_networks(site)
    if tunnel is not None:
        put(values, "network.interface.tunnel_network_cidr", str(tunnel.cidr))
        device = _uniform_device(site, tunnel)
        if device:
            put(values, "network.interface.tunnel", device)
        physical_mtu = tunnel.mtu
    else:
        physical_mtu = max((n.mtu for n in providers), default=DEFAULT_MTU)
    put(values, "conf.neutron.DEFAULT.global_physnet_mtu", physical_mtu)
    put(values, "conf.plugins.ml2_conf.ml2.tenant_network_types", neutron.tunnel_type)
    put(values, "conf.plugins.ml2_conf.ml2.physical_network_mtus",
        ",".join(f"{_physnet(n)}:{n.mtu}" for n in providers))
    put(values, "conf.plugins.openvswitch_agent.agent.tunnel_types", neutron.tunnel_type)
    put(values, "conf.plugins.openvswitch_agent.ovs.bridge_mappings",
        ",".join(f"{_physnet(n)}:{n.bridge or 'br-ex'}" for n in providers))
    vlans = [n for n in providers if n.vlan]
    flats = [n for n in providers if not n.vlan]
    if vlans:
        put(values, "conf.plugins.ml2_conf.ml2_type_vlan.network_vlan_ranges",
            ",".join(f"{_physnet(n)}:{n.vlan}:{n.vlan}" for n in vlans))
    put(values, "conf.plugins.ml2_conf.ml2_type_flat.flat_networks", ",".join(_physnet(n) for n in flats) or "")
    bridges = {}
    for network in providers:
        # VLAN provider networks are tagged by OVS, so the bridge gets the untagged trunk device.
        device = _uniform_device(site, network, Role.NETWORK, tagged=False)
        if device:
            bridges[network.bridge or "br-ex"] = device
    if bridges:
        put(values, "conf.auto_bridge_add", dict(sorted(bridges.items())))


def _physnet(network: Network) -> str:
    return network.physnet or network.name


def _nova(values: Values, site: Site, catalog: Catalog) -> None:
    nova = site.openstack.nova
    put(values, "conf.nova.DEFAULT.cpu_allocation_ratio", nova.cpu_allocation_ratio)
    put(values, "conf.nova.DEFAULT.ram_allocation_ratio", nova.ram_allocation_ratio)
    label = catalog.node_labels["flavor_family_label"]
    used = {node.flavor_family for node in site.nodes_with(Role.COMPUTE) if node.flavor_family}
    overrides = [
        {
            "label": {"key": label, "values": [family.name]},
            "conf": {"nova": {"DEFAULT": {"cpu_allocation_ratio": family.cpu_allocation_ratio,
                                          "ram_allocation_ratio": family.ram_allocation_ratio}}},
        }
        for family in site.flavor_families
        if family.name in used
    ]
    if overrides:
        put(values, "conf.overrides.nova_compute.labels", overrides)
    # GPU families: nova-api and the computes need the PCI aliases their flavors name (pci_passthrough:alias).
    aliases = sorted({(a.name, a.vendor_id, a.product_id, a.device_type) for family in site.flavor_families
                      if family.name in used for a in family.pci_aliases})
    if aliases:
        put(values, "conf.nova.pci.alias", {"type": "multistring", "values": [
            json.dumps({"name": n, "vendor_id": v, "product_id": p, "device_type": t}) for n, v, p, t in aliases]})
    management = site.network(Purpose.MANAGEMENT)
    if management is not None:
        put(values, "conf.hypervisor.host_network_cidr", str(management.cidr))
        put(values, "conf.libvirt.live_migration_network_cidr", str(management.cidr))
    put(values, "network.ssh.enabled", True)
    pools = site.ceph.pools
    put(values, "conf.ceph.enabled", True)
    put(values, "conf.ceph.cinder.user", pools.cinder.user)
    put(values, "conf.nova.libvirt.images_type", "rbd")
    put(values, "conf.nova.libvirt.images_rbd_pool", pools.nova.pool)
    put(values, "conf.nova.libvirt.rbd_user", pools.nova.user)
    if site.ceph.mode == "external":
        put(values, "manifests.job_storage_init", False)


def _glance(values: Values, site: Site, catalog: Catalog) -> None:
    pool = site.ceph.pools.glance
    values["storage"] = "rbd"
    for section in ("glance_store", "rbd"):
        put(values, f"conf.glance.{section}.rbd_store_pool", pool.pool)
        put(values, f"conf.glance.{section}.rbd_store_user", pool.user)
    if site.ceph.mode == "external":
        put(values, "manifests.job_storage_init", False)


def _cinder(values: Values, site: Site, catalog: Catalog) -> None:
    pool = site.ceph.pools.cinder
    put(values, "conf.cinder.DEFAULT.enabled_backends", "rbd1")
    put(values, "conf.backends.rbd1.rbd_pool", pool.pool)
    put(values, "conf.backends.rbd1.rbd_user", pool.user)
    if site.ceph.mode == "external":
        put(values, "manifests.job_storage_init", False)
        put(values, "manifests.job_backup_storage_init", False)


def _libvirt(values: Values, site: Site, catalog: Catalog) -> None:
    put(values, "conf.ceph.enabled", True)
    put(values, "conf.ceph.cinder.user", site.ceph.pools.cinder.user)


def _stateful(values: Values, site: Site, catalog: Catalog) -> None:
    put(values, "volume.class_name", site.ceph.storage_class)


def _mariadb(values: Values, site: Site, catalog: Catalog) -> None:
    _stateful(values, site, catalog)
    # The chart's backup CronJob rendered duplicate keys that Flux's post-renderer rejects (FIELD-NOTES).
    put(values, "manifests.cron_job_mariadb_backup", False)


def _ceph_adapter(values: Values, site: Site, catalog: Catalog) -> None:
    values["ceph_cluster_namespace"] = catalog.ceph_namespace
    if site.ceph.external is not None:
        put(values, "conf.ceph.global.mon_host", ",".join(site.ceph.external.monitors))
        put(values, "conf.ceph.global.mon_count", len(site.ceph.external.monitors))


_SPECIFIC: dict[str, Callable[[Values, Site, Catalog], None]] = {
    "neutron": _neutron,
    "nova": _nova,
    "glance": _glance,
    "cinder": _cinder,
    "libvirt": _libvirt,
    "mariadb": _mariadb,
    "rabbitmq": _stateful,
    "ceph-adapter-rook": _ceph_adapter,
}
