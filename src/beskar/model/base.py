"""The field types every part of the site model shares: addresses, names, MTUs, roles and purposes."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Any, Annotated

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, PlainValidator


def _address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value
    try:
        return ipaddress.ip_network(str(value))
    except ValueError as error:
        # ipaddress explains host bits set and bad prefixes well; keep its reason.
        raise ValueError(f"{value!r} is not a CIDR: {error}") from None


IPAddress = Annotated[ipaddress.IPv4Address | ipaddress.IPv6Address, PlainValidator(_address),
                      PlainSerializer(str, when_used="json")]
IPNetwork = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, PlainValidator(_network),
                      PlainSerializer(str, when_used="json")]


def _dns_label(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", value):
        raise ValueError(f"{value!r} is not a DNS label (lowercase a-z, 0-9 and '-', at most 63)")
    return value


def _as_text(value: Any) -> Any:
    # YAML reads `release: 2025.1` and `version: 1.32` as floats; they are names.
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Text = Annotated[str, BeforeValidator(_as_text)]
VlanId = Annotated[int, Field(ge=1, le=4094)]
Mtu = Annotated[int, Field(ge=576, le=9216)]
DEFAULT_MTU = 1500  # what Linux gives a device whose MTU nobody sets, and a network's unless it says otherwise


class Role(StrEnum):
    CONTROL_PLANE = "control-plane"
    COMPUTE = "compute"
    STORAGE = "storage"
    NETWORK = "network"


class Purpose(StrEnum):
    MANAGEMENT = "management"
    STORAGE = "storage"
    TUNNEL = "tunnel"
    PROVIDER = "provider"
    OOB = "oob"  # out-of-band: the BMCs' network; hosts are not attached to it
