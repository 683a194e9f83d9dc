"""The typed site model and its validation from layered fleet documents."""

from beskar.model.openstack import ApiService, Component, Neutron, Nova, OpenStack, Upgrade
from beskar.model.site import (Attachment, Bond, Ceph, FlavorFamily, Interface, Kubernetes, Network, Node, Purpose,
                               Role, Site)
from beskar.model.fleet import FleetSettings, type_fleet
from beskar.model.validation import type_secrets, type_site

__all__ = ["ApiService", "Attachment", "Bond", "Ceph", "Component", "FleetSettings", "FlavorFamily", "Interface",
           "Kubernetes", "Network", "Neutron", "Node", "Nova", "OpenStack", "Purpose", "Upgrade", "Role", "Site",
           "type_fleet", "type_secrets", "type_site"]
