"""Cloud entities as the site declares them: domains, projects, quotas, flavor families and flavors, networks."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, IPvAnyAddress, IPvAnyNetwork, model_validator

from beskar.model.flavors import FlavorName, FlavorNameError, parse_flavor_name
from beskar.model.strict import Strict as _Strict


def _spec_text(value: Any) -> Any:
    # Nova stores extra specs and aggregate metadata as strings; YAML reads `true` and `2000` as other types.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


SpecValue = Annotated[str, BeforeValidator(_spec_text)]
Name = Annotated[str, Field(min_length=1, max_length=64)]
QuotaLimit = Annotated[int, Field(ge=-1, description="-1 is unlimited")]
FamilyName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*$")]


class PciAlias(_Strict):
    """A nova PCI alias: flavors ask for `<n>x-<name>` devices of this vendor and product."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*$")]
    vendor_id: Annotated[str, BeforeValidator(_spec_text), Field(pattern=r"^[0-9a-f]{4}$")]
    product_id: Annotated[str, BeforeValidator(_spec_text), Field(pattern=r"^[0-9a-f]{4}$")]
    device_type: Literal["type-PCI", "type-PF", "type-VF"] = "type-PF"


class FlavorFamily(_Strict):
    """Computes of one kind: nova's allocation ratios on them, their host aggregate and their flavors' extra specs."""

    name: FamilyName
    cpu_allocation_ratio: float = Field(gt=0, le=64)
    ram_allocation_ratio: float = Field(default=1.0, gt=0, le=4)
    description: str = ""
    aggregate: bool = Field(default=True, description="keep a host aggregate of the family's computes")
    aggregate_key: str = Field(default="flavor", description="aggregate metadata <key>=<family> that the flavors' "
                               "aggregate_instance_extra_specs:<key> spec selects")
    availability_zone: str | None = None
    aggregate_metadata: dict[str, SpecValue] = {}
    cpu_policy: Literal["shared", "dedicated", "mixed"] | None = None
    io_limits: dict[str, int] = Field(default={}, description="quota:<key> extra specs, e.g. disk_total_iops_sec")
    pci_aliases: list[PciAlias] = []
    extra_specs: dict[str, SpecValue] = {}


class Quota(_Strict):
    """A project's quota: only the limits given are managed; the rest stay at the cloud's defaults."""

    instances: QuotaLimit | None = None
    cores: QuotaLimit | None = None
    ram: QuotaLimit | None = Field(default=None, description="MiB, as nova counts it")
    key_pairs: QuotaLimit | None = None
    server_groups: QuotaLimit | None = None
    server_group_members: QuotaLimit | None = None
    metadata_items: QuotaLimit | None = None
    networks: QuotaLimit | None = None
    subnets: QuotaLimit | None = None
    ports: QuotaLimit | None = None
    routers: QuotaLimit | None = None
    floating_ips: QuotaLimit | None = None
    security_groups: QuotaLimit | None = None
    security_group_rules: QuotaLimit | None = None
    volumes: QuotaLimit | None = None
    gigabytes: QuotaLimit | None = None
    snapshots: QuotaLimit | None = None
    backups: QuotaLimit | None = None
    backup_gigabytes: QuotaLimit | None = None

    def limits(self) -> dict[str, int]:
        return {key: value for key, value in self.model_dump().items() if value is not None}


class RoleAssignment(_Strict):
    """A role of a user or a group (by name, in `domain`, default the project's) on the project."""

    role: Name
    user: Name | None = None
    group: Name | None = None
    domain: Name | None = None

    @model_validator(mode="after")
    def _one_actor(self) -> RoleAssignment:
        if (self.user is None) == (self.group is None):
            raise ValueError("a role assignment names exactly one of 'user' or 'group'")
        return self


class Domain(_Strict):
    name: Name
    description: str = ""
    enabled: bool = True


class Group(_Strict):
    name: Name
    domain: Name = "Default"
    description: str = ""


class Project(_Strict):
    """A project: identity, ownership (contacts), quota, who may work in it, and which private flavors it sees."""

    name: Name
    domain: Name = "Default"
    description: str = ""
    enabled: bool = True
    parent: Name | None = Field(default=None, description="another project of the same domain")
    tags: list[Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^,/]+$")]] = []
    contacts: list[str] = []
    properties: dict[str, SpecValue] = {}
    quota: Quota | None = None
    roles: list[RoleAssignment] | None = Field(default=None, description="when given, the project's complete "
                                               "role assignments; when absent, assignments are not managed")
    flavors: list[str] = Field(default=[], description="private flavors this project may use")


class Flavor(_Strict):
    """A flavor declared by name; vCPUs, RAM and disks follow from the name unless given (legacy names)."""

    name: Name
    family: FamilyName | None = None
    vcpus: int | None = Field(default=None, ge=1)
    ram: int | None = Field(default=None, ge=1, description="MiB")
    disk: int | None = Field(default=None, ge=0, description="root disk, GiB")
    ephemeral: int | None = Field(default=None, ge=0, description="GiB")
    swap: int = Field(default=0, ge=0, description="MiB")
    public: bool = True
    description: str = ""
    projects: list[str] = Field(default=[], description="projects that may use the flavor when it is not public")
    extra_specs: dict[str, SpecValue] = {}

    @model_validator(mode="after")
    def _sizes(self) -> Flavor:
        try:
            parse_flavor_name(self.name)
        except FlavorNameError as error:
            if self.vcpus is None or self.ram is None:
                raise ValueError(f"{error}; a flavor whose name does not follow the grammar gives vcpus and ram") \
                    from None
        return self

    def parsed(self) -> FlavorName | None:
        try:
            return parse_flavor_name(self.name)
        except FlavorNameError:
            return None

    def sizes(self) -> FlavorName:
        """The effective sizes: explicit fields over what the name says."""
        parsed = self.parsed() or FlavorName(self.family or "", 0, 0)
        return FlavorName(
            family=self.family or parsed.family, vcpus=self.vcpus or parsed.vcpus, ram_mib=self.ram or parsed.ram_mib,
            disk_gib=parsed.disk_gib if self.disk is None else self.disk,
            ephemeral_gib=parsed.ephemeral_gib if self.ephemeral is None else self.ephemeral,
            pin=parsed.pin, smt=parsed.smt, gpus=parsed.gpus, gpu=parsed.gpu)


class Aggregate(_Strict):
    """A host aggregate beyond (or refining, by the same name) the ones computed per flavor family."""

    name: Name
    availability_zone: str | None = None
    metadata: dict[str, SpecValue] = {}
    hosts: list[str] | None = Field(default=None, description="explicit hosts; a family's aggregate takes "
                                    "the family's compute nodes")


class ExternalNetwork(_Strict):
    """The external provider network; VLAN, CIDR, gateway, MTU and pools come from the site's network."""

    network: str | None = Field(default=None, description="the site network (purpose provider); default: the first")
    name: Name | None = Field(default=None, description="neutron name; default: the site network's name")
    subnet: Name | None = Field(default=None, description="neutron subnet name; default: <name>-subnet")
    description: str = ""
    # Restatements, as Terraform repositories carry them: checked against the site's network model.
    vlan: int | None = None
    cidr: IPvAnyNetwork | None = None
    mtu: int | None = Field(default=None, description="at most the site network's MTU")


class AddressRange(_Strict):
    start: IPvAnyAddress
    end: IPvAnyAddress


class Subnet(_Strict):
    name: Name
    cidr: IPvAnyNetwork
    gateway: IPvAnyAddress | None = None
    dhcp: bool = True
    dns_nameservers: list[IPvAnyAddress] = []
    pools: list[AddressRange] = []


class Network(_Strict):
    """A network the admin project owns and shares (or not) with every project."""

    name: Name
    shared: bool = True
    mtu: int | None = Field(default=None, ge=68, le=9216)
    description: str = ""
    subnets: list[Subnet] = []


class Router(_Strict):
    name: Name
    external_gateway: bool = Field(default=True, description="gateway on the external network")
    description: str = ""
    interfaces: list[str] = Field(default=[], description="subnets (by name) the router attaches to")


class SecurityGroupRule(_Strict):
    """A rule added to every declared project's `default` security group."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    direction: Literal["ingress", "egress"] = "ingress"
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    protocol: Literal["tcp", "udp", "icmp", "ipv6-icmp"] | None = None
    port_min: int | None = Field(default=None, ge=0, le=65535)
    port_max: int | None = Field(default=None, ge=0, le=65535)
    remote_ip_prefix: IPvAnyNetwork | None = None


class Image(_Strict):
    name: Name
    url: str = Field(description="where Beskar downloads the image from (http, https or file)")
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    disk_format: Literal["qcow2", "raw", "vmdk", "vdi", "iso", "vhd", "vhdx", "ami", "aki", "ari"] = "qcow2"
    container_format: Literal["bare", "ovf", "ova", "docker", "ami", "aki", "ari"] = "bare"
    visibility: Literal["public", "private", "shared", "community"] = "public"
    min_disk: int = Field(default=0, ge=0)
    min_ram: int = Field(default=0, ge=0)
    properties: dict[str, SpecValue] = {}


class Cloud(_Strict):
    """The content of the running cloud, reconciled through its APIs by `beskar entities`."""

    credentials: str | None = Field(default=None, description="the clouds.yaml entry with admin credentials "
                                    "for this site; default: the site's name")
    domains: list[Domain] = []
    groups: list[Group] = []
    projects: list[Project] = []
    flavors: list[Flavor] = []
    aggregates: list[Aggregate] = []
    external_network: ExternalNetwork | None = None
    networks: list[Network] = []
    routers: list[Router] = []
    default_security_group_rules: list[SecurityGroupRule] = []
    images: list[Image] = []


E_MAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
