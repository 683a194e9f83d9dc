"""The typed site: what one OpenStack cloud is made of, as the fleet declares it."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import Field

# Purpose, Role and the field types are the site's vocabulary; importers find them here too.
from beskar.model.base import (DEFAULT_MTU, DnsLabel, IPAddress, IPNetwork, Mtu, Purpose, Role,  # noqa: F401
                               Text, VlanId)
from beskar.model.entities import Cloud, FlavorFamily
from beskar.model.hosts import Bmc, Disks, Hosts, KernelTuning, MacAddress
from beskar.model.openstack import OpenStack
from beskar.model.secrets import SecretsSettings
from beskar.model.strict import BY_VALUE, Strict


class Pool(Strict):
    start: IPAddress
    end: IPAddress


class Network(Strict):
    """An L2/L3 network of the site; `provider` networks carry tenant traffic out (floating IPs)."""

    name: DnsLabel
    purpose: Annotated[Purpose, BY_VALUE]
    cidr: IPNetwork
    vlan: VlanId | None = None
    gateway: IPAddress | None = None
    mtu: Mtu = DEFAULT_MTU
    physnet: str | None = Field(default=None, description="neutron physical network name (provider networks)")
    bridge: str | None = Field(default=None, description="OVS bridge for the physical network (provider networks)")
    pools: list[Pool] = []
    description: str = ""


class Interface(Strict):
    name: str
    mac: MacAddress | None = None
    mtu: Mtu | None = None


class Bond(Strict):
    name: str
    interfaces: list[str] = Field(min_length=1)
    mode: Literal["802.3ad", "active-backup", "balance-rr", "balance-xor", "balance-tlb", "balance-alb"] = "802.3ad"
    mtu: Mtu | None = None


class Attachment(Strict):
    """A node on a network: the device it uses (interface or bond) and its address there."""

    name: DnsLabel = Field(description="the network's name")
    device: str
    address: IPAddress | None = None
    bridge: str | None = Field(default=None, description="a Linux bridge over the device that carries the address")


class Node(Strict):
    name: DnsLabel
    roles: list[Annotated[Role, BY_VALUE]] = Field(min_length=1)
    flavor_family: str | None = None
    gpus: dict[str, Annotated[int, Field(ge=1)]] = Field(default={}, description="GPU model -> count, e.g. {a100: 4}")
    rack: str | None = None
    interfaces: list[Interface] = []
    bonds: list[Bond] = []
    networks: list[Attachment] = []
    bmc: Bmc | None = None
    boot_interface: str | None = Field(default=None, description="the interface MAAS PXE-boots from "
                                                                 "(default: the first with a MAC)")
    disks: Disks = Field(default_factory=Disks)
    kernel: KernelTuning | None = Field(default=None, description="kernel tuning (default: hosts.compute on computes)")

    def has(self, role: Role) -> bool:
        return role in self.roles

    def address_on(self, network: str) -> IPAddress | None:
        return next((a.address for a in self.networks if a.name == network), None)


class Kubernetes(Strict):
    version: Text = "v1.32.5"
    pod_cidr: IPNetwork = ipaddress.IPv4Network("10.233.64.0/18")
    service_cidr: IPNetwork = ipaddress.IPv4Network("10.233.0.0/18")
    api_vip: IPAddress
    network_plugin: Literal["calico", "cilium", "flannel"] = "calico"
    proxy_mode: Literal["ipvs", "iptables"] = "ipvs"
    cluster_domain: str = "cluster.local"


class ChartSource(Strict):
    """Where the openstack-helm charts come from."""

    type: Literal["git", "helm", "oci"] = "git"
    url: str = "https://opendev.org/openstack/openstack-helm.git"
    ref: Text | None = Field(default=None, description="git tag, branch or commit (type git); default from the catalog")
    version: Text | None = Field(default=None, description="chart version or range (types helm and oci)")
    interval: str = "1h"


class Mirror(Strict):
    registry: str = Field(description="e.g. mirror.example.org/cache; images become REGISTRY/upstream__path:tag")
    layout: Literal["flat", "nested"] = Field(
        default="flat", description="flat: REGISTRY/quay.io__airshipit__nova:tag; nested: REGISTRY/quay.io/airshipit/nova:tag")


class CephPool(Strict):
    pool: str
    user: str


class CephPools(Strict):
    glance: CephPool = CephPool(pool="images", user="glance")
    cinder: CephPool = CephPool(pool="volumes", user="cinder")
    nova: CephPool = CephPool(pool="vms", user="cinder")


class ExternalCeph(Strict):
    fsid: str
    monitors: list[str] = Field(min_length=1)


class Ceph(Strict):
    mode: Literal["external", "internal"] = "external"
    external: ExternalCeph | None = None
    replicas: int = Field(default=3, ge=1, le=7)
    storage_class: str = Field(default="general", description="StorageClass of the RBD pool for PVCs")
    pools: CephPools = CephPools()


class Ingress(Strict):
    class_name: str = "nginx"
    replicas: int = Field(default=2, ge=1)
    values: dict[str, Any] = {}


class Monitoring(Strict):
    enabled: bool = True
    retention: str = "15d"


class Site(Strict):
    """One OpenStack cloud: all three layers merged and typed."""

    name: DnsLabel
    profile: str | None = None
    description: str = ""
    region: str = "RegionOne"
    domain: str = Field(description="public DNS domain; public endpoints are <name>.<domain>")
    tls: bool = True
    mirror: Mirror | None = None
    charts: ChartSource = ChartSource()
    kubernetes: Kubernetes
    networks: list[Network] = Field(min_length=1)
    nodes: list[Node] = Field(min_length=1)
    ceph: Ceph = Ceph()
    ingress: Ingress = Ingress()
    openstack: OpenStack
    flavor_families: list[FlavorFamily] = []
    monitoring: Monitoring = Monitoring()
    secrets: SecretsSettings = SecretsSettings()
    hosts: Hosts = Field(default_factory=Hosts)
    cloud: Cloud = Cloud()

    def network(self, purpose: Purpose) -> Network | None:
        return next((n for n in self.networks if n.purpose == purpose), None)

    def nodes_with(self, role: Role) -> list[Node]:
        return [node for node in self.nodes if role in node.roles]

