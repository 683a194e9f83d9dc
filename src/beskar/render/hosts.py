"""The host-configuration inventory of a site: groups by role and one host_vars file per node."""

from __future__ import annotations

from typing import Any

from beskar.catalog import Catalog
from beskar.model import Node, Purpose, Role, Site
from beskar.model.machines import kernel_of
from beskar.render.netplan import netplan
from beskar.tree import Tree


def group_name(role: Role) -> str:
    # Ansible group names are Python identifiers; it warns about (and may rewrite) dashes.
    return role.value.replace("-", "_")


def family_group(family: str) -> str:
    return f"flavor_{family}"


def inventory(site: Site) -> dict[str, Any]:
    """The inventory file: the site's variables and one group per role and per flavor family."""
    children: dict[str, Any] = {}
    for role in Role:
        members = site.nodes_with(role)
        if members:
            children[group_name(role)] = {"hosts": {node.name: {} for node in members}}
    for family in sorted({n.flavor_family for n in site.nodes if n.flavor_family}):
        children[family_group(family)] = {
            "hosts": {node.name: {} for node in site.nodes if node.flavor_family == family}}
    return {"all": {"vars": {"beskar_site": site.name, "ansible_user": site.hosts.admin_user},
                    "children": children}}


def host_vars(site: Site, node: Node, catalog: Catalog) -> dict[str, Any]:
    """Everything the host playbook applies to one node, resolved: no lookups left for Ansible to do."""
    management = site.network(Purpose.MANAGEMENT)
    address = node.address_on(management.name) if management else None
    roles = catalog.host_roles
    sysctl: dict[str, str] = {}
    packages: set[str] = set(site.hosts.packages)
    for role in node.roles:
        sysctl.update({k: str(v) for k, v in roles.get(role.value, {}).get("sysctl", {}).items()})
        packages.update(roles.get(role.value, {}).get("packages", []))
    sysctl.update(site.hosts.sysctl)
    kernel = kernel_of(site, node)
    home = "/root" if site.hosts.admin_user == "root" else f"/home/{site.hosts.admin_user}"
    return {
        "ansible_host": str(address) if address else node.name,
        "beskar_node": node.name,
        "beskar_roles": [role.value for role in node.roles],
        "netplan_config": netplan(site, node, catalog),
        "sysctl_settings": dict(sorted(sysctl.items())),
        "packages_present": sorted(packages),
        "ssh_keys_user": site.hosts.admin_user,
        "ssh_keys_file": f"{home}/.ssh/authorized_keys",
        "ssh_keys_authorized": [key.key for key in site.hosts.ssh_keys],
        "time_sync_servers": list(site.hosts.ntp_servers),
        "hugepages_kernel_args": kernel.cmdline() if kernel else [],
    }


def render_hosts(site: Site, catalog: Catalog, source: str) -> Tree:
    """inventory/<site>/hosts/: inventory.yaml and host_vars/<node>.yaml."""
    tree = Tree()
    base = f"inventory/{site.name}/hosts"
    tree.add(f"{base}/inventory.yaml", [inventory(site)], source)
    for node in site.nodes:
        tree.add(f"{base}/host_vars/{node.name}.yaml", [host_vars(site, node, catalog)], source)
    return tree
