"""What a site's machines resolve to: the MAC they boot from, their kernel tuning, and host cross-references."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from beskar.model.base import Purpose, Role
from beskar.model.hosts import KernelTuning
from beskar.model.site import Node, Site
from beskar.problems import Origin, Problem


def kernel_of(site: Site, node: Node) -> KernelTuning | None:
    """The node's kernel tuning: its own, else the site's compute tuning for computes, else none."""
    if node.kernel is not None:
        return node.kernel
    return site.hosts.compute if Role.COMPUTE in node.roles else None


def boot_mac(node: Node) -> str | None:
    """The MAC MAAS PXE-boots the node from: its boot interface, else the first interface with a MAC."""
    if node.boot_interface is not None:
        return next((i.mac for i in node.interfaces if i.name == node.boot_interface), None)
    return next((i.mac for i in node.interfaces if i.mac), None)


def host_problems(site: Site, at: Callable[[tuple[Any, ...]], Origin | None]) -> Iterator[Problem]:
    """Cross-references of the host parts that make a site unusable although each is well-typed."""
    oob = site.network(Purpose.OOB)
    for node in site.nodes:
        names = {i.name for i in node.interfaces}
        if node.boot_interface is not None and node.boot_interface not in names:
            yield Problem(f"boot interface {node.boot_interface!r} of {node.name} is not one of its interfaces",
                          at(("nodes", node.name, "boot_interface")))
        if node.bmc is not None and oob is not None and node.bmc.address not in oob.cidr:
            yield Problem(f"BMC address {node.bmc.address} of {node.name} is outside the out-of-band network "
                          f"{oob.name} ({oob.cidr})", at(("nodes", node.name, "bmc", "address")))
        for attachment in node.networks:
            if oob is not None and attachment.name == oob.name:
                yield Problem(f"node {node.name} is attached to the out-of-band network {oob.name}; "
                              "only its BMC is (set nodes.<node>.bmc.address)",
                              at(("nodes", node.name, "networks", attachment.name)))
