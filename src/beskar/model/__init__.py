"""The typed site model and its validation from layered fleet documents.

Its names are loaded from their modules when first asked for (`from beskar.model import Site`), so that
importing one light module of the package (model.strict, which `check.settings` types `fleet.checks` with)
does not load the whole site model: `beskar lint` reads no site.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from beskar.model.fleet import FleetSettings, type_fleet
    from beskar.model.openstack import ApiService, Component, Neutron, Nova, OpenStack, Upgrade
    from beskar.model.site import (Attachment, Bond, Ceph, FlavorFamily, Interface, Kubernetes, Network, Node,
                                   Purpose, Role, Site)
    from beskar.model.validation import type_secrets, type_site

_HOMES = {**dict.fromkeys(["ApiService", "Component", "Neutron", "Nova", "OpenStack", "Upgrade"], "openstack"),
          **dict.fromkeys(["Attachment", "Bond", "Ceph", "FlavorFamily", "Interface", "Kubernetes", "Network",
                           "Node", "Purpose", "Role", "Site"], "site"),
          **dict.fromkeys(["FleetSettings", "type_fleet"], "fleet"),
          **dict.fromkeys(["type_secrets", "type_site"], "validation")}

__all__ = ["ApiService", "Attachment", "Bond", "Ceph", "Component", "FleetSettings", "FlavorFamily", "Interface",
           "Kubernetes", "Network", "Neutron", "Node", "Nova", "OpenStack", "Purpose", "Upgrade", "Role", "Site",
           "type_fleet", "type_secrets", "type_site"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'beskar.model' has no attribute {name!r}")
    value = getattr(import_module(f"beskar.model.{_HOMES[name]}"), name)
    globals()[name] = value  # asked once
    return value
