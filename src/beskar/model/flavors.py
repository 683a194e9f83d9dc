"""Flavor names as the field writes them (`c2.16core-30ram-100edisk-pin`) parsed into sizes and traits."""

from __future__ import annotations

import re
from dataclasses import dataclass

GRAMMAR = "<family>.<N>core-<M>ram[-<D>disk|-<E>edisk][-pin][-smt][-<n>x-<gpu>]"

_FAMILY = re.compile(r"[a-z][a-z0-9]*")
_NUMBER = r"(\d+(?:\.\d+)?)"
_GPU = re.compile(r"[a-z][a-z0-9]*")


@dataclass(frozen=True)
class FlavorName:
    """What a flavor name says: family, vCPUs, RAM (MiB), root and ephemeral disk (GiB), traits, GPUs."""

    family: str
    vcpus: int
    ram_mib: int
    disk_gib: int = 0
    ephemeral_gib: int = 0
    pin: bool = False
    smt: bool = False
    gpus: int = 0
    gpu: str | None = None

    def render(self) -> str:
        """The canonical name for these sizes and traits (parse(render(x)) == x)."""
        ram = self.ram_mib / 1024
        parts = [f"{self.family}.{self.vcpus}core", f"{int(ram) if ram.is_integer() else ram:g}ram"]
        if self.disk_gib:
            parts.append(f"{self.disk_gib}disk")
        if self.ephemeral_gib:
            parts.append(f"{self.ephemeral_gib}edisk")
        if self.pin:
            parts.append("pin")
        if self.smt:
            parts.append("smt")
        if self.gpus:
            parts.append(f"{self.gpus}x-{self.gpu}")
        return "-".join(parts)


class FlavorNameError(ValueError):
    """A name that does not follow the grammar; the message says which part is wrong."""


def _count(token: str, unit: str, name: str, what: str) -> float:
    match = re.fullmatch(_NUMBER + unit, token)
    if not match:
        raise FlavorNameError(f"flavor name {name!r}: expected {what} like '16{unit}', found {token!r} "
                              f"(names follow {GRAMMAR})")
    return float(match.group(1))


def parse_flavor_name(name: str) -> FlavorName:
    """Parse a flavor name; raise FlavorNameError naming the part that does not fit the grammar."""
    family, dot, rest = name.partition(".")
    if not dot or not _FAMILY.fullmatch(family):
        raise FlavorNameError(f"flavor name {name!r}: expected '<family>.' first, a lowercase family such as 'c2' "
                              f"(names follow {GRAMMAR})")
    tokens = rest.split("-")
    if len(tokens) < 2:
        raise FlavorNameError(f"flavor name {name!r}: expected '<N>core-<M>ram' after the family "
                              f"(names follow {GRAMMAR})")
    cores = _count(tokens[0], "core", name, "the vCPU count")
    ram = _count(tokens[1], "ram", name, "the RAM in GiB")
    if not cores.is_integer() or cores < 1:
        raise FlavorNameError(f"flavor name {name!r}: the vCPU count must be a whole number of at least 1")
    if ram <= 0 or not (ram * 1024).is_integer():
        raise FlavorNameError(f"flavor name {name!r}: the RAM must be positive and a whole number of MiB")
    fields: dict = {"family": family, "vcpus": int(cores), "ram_mib": int(ram * 1024)}
    order = ["disk", "pin", "smt", "gpu"]  # the optional parts, each at most once and in this order
    position = 0
    rest_tokens = tokens[2:]
    index = 0
    while index < len(rest_tokens):
        token = rest_tokens[index]
        disk = re.fullmatch(r"(\d+)(e?)disk", token)
        gpus = re.fullmatch(r"(\d+)x", token)
        if disk:
            part = "disk"
            size = int(disk.group(1))
            if size < 1:
                raise FlavorNameError(f"flavor name {name!r}: a disk size must be at least 1 GiB")
            fields["ephemeral_gib" if disk.group(2) else "disk_gib"] = size
        elif token in ("pin", "smt"):
            part = token
            fields[token] = True
        elif gpus:
            part = "gpu"
            if index + 1 >= len(rest_tokens) or not _GPU.fullmatch(rest_tokens[index + 1]):
                raise FlavorNameError(f"flavor name {name!r}: '{token}' must be followed by a GPU model, "
                                      f"e.g. '-{token}-a100'")
            if int(gpus.group(1)) < 1:
                raise FlavorNameError(f"flavor name {name!r}: the GPU count must be at least 1")
            fields["gpus"], fields["gpu"] = int(gpus.group(1)), rest_tokens[index + 1]
            index += 1
        else:
            raise FlavorNameError(f"flavor name {name!r}: unexpected part {token!r} (names follow {GRAMMAR})")
        if order.index(part) < position:
            raise FlavorNameError(f"flavor name {name!r}: part {token!r} is repeated or out of order "
                                  f"(names follow {GRAMMAR})")
        position = order.index(part) + 1
        index += 1
    return FlavorName(**fields)
