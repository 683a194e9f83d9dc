"""The machines below Kubernetes: BMCs, MACs, disks, kernel tuning and the settings every host gets."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from beskar.model.base import IPAddress, Text
from beskar.model.strict import BY_VALUE, Strict

_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def _mac(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted all-digit MAC such as 52:54:00:12:34:56 as a base-60 number.
        raise ValueError(f"reads as the number {value}: quote MAC addresses made of digits only")
    if not isinstance(value, str):
        return value
    text = value.strip().lower().replace("-", ":")
    if not _MAC.fullmatch(text):
        raise ValueError(f"{value!r} is not a MAC address (six hex pairs, e.g. b8:ca:3a:16:00:11)")
    if int(text[:2], 16) & 1:
        raise ValueError(f"{value!r} is a multicast MAC address; a NIC has a unicast one")
    return text


def _ssh_key(value: str) -> str:
    kind = value.split(" ", 1)[0]
    if not re.fullmatch(r"(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+)", kind) \
            or len(value.split()) < 2:
        raise ValueError("is not an OpenSSH public key line (e.g. 'ssh-ed25519 AAAA... alice@example.org')")
    return value


MacAddress = Annotated[str, BeforeValidator(_mac)]
SecretKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class PowerType(StrEnum):
    IPMI = "ipmi"
    REDFISH = "redfish"
    MANUAL = "manual"


class Bmc(Strict):
    """A machine's baseboard management controller, as MAAS powers it. The password stays in SOPS."""

    address: IPAddress
    power_type: Annotated[PowerType, BY_VALUE] = PowerType.IPMI
    user: str = "maas"
    password_key: SecretKey | None = Field(
        default=None, description="key in sites/<site>/secrets.sops.yaml holding the BMC password; "
                                  "default bmc.<node>.password")

    def secret_key(self, node: str) -> str:
        return self.password_key or f"bmc.{node}.password"


class Disks(Strict):
    """How MAAS lays out the boot disk (MAAS storage layouts); other disks stay blank for Ceph."""

    layout: Literal["flat", "lvm", "bcache", "blank"] = "lvm"
    root_device: str | None = Field(default=None, description="boot disk name as MAAS sees it, e.g. sda or nvme0n1")
    root_size_gib: int | None = Field(default=None, ge=8)


class KernelTuning(Strict):
    """Kernel command line for computes: huge pages for guest memory, IOMMU for PCI passthrough."""

    hugepage_size: Literal["2M", "1G"] = "1G"
    hugepages: int = Field(default=0, ge=0, description="number of huge pages reserved at boot")
    iommu: Literal["off", "intel", "amd"] = "off"
    extra_args: list[str] = []

    def cmdline(self) -> list[str]:
        args = []
        if self.hugepages:
            args += [f"default_hugepagesz={self.hugepage_size}", f"hugepagesz={self.hugepage_size}",
                     f"hugepages={self.hugepages}"]
        if self.iommu == "intel":
            args += ["intel_iommu=on", "iommu=pt"]
        elif self.iommu == "amd":
            args += ["iommu=pt"]  # the AMD IOMMU is on by default; pass-through mode keeps host DMA fast
        return args + list(self.extra_args)


class SshKey(Strict):
    name: str = Field(description="whose key (lists of keys merge by name across layers)")
    key: Annotated[str, AfterValidator(_ssh_key)]


SysctlKey = Annotated[str, Field(pattern=r"^[a-z0-9_][a-z0-9_.\-/]*$")]


class Hosts(Strict):
    """What every host of the site gets from the host playbook, and how MAAS installs it."""

    admin_user: str = Field(default="ubuntu", description="the user MAAS creates and Ansible logs in as")
    os_series: str = Field(default="jammy", description="Ubuntu series MAAS deploys")
    dns_servers: list[IPAddress] = []
    search_domains: list[str] = []
    ntp_servers: list[str] = []
    ssh_keys: list[SshKey] = []
    sysctl: dict[SysctlKey, Text] = {}
    packages: list[str] = []
    compute: KernelTuning = Field(default=KernelTuning(), description="kernel tuning of compute nodes")
