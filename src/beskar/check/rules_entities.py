"""Rules over a site's cloud entities: flavors and families, project quotas and contacts, the external network."""

from __future__ import annotations

from typing import Iterator

from beskar.check import settings
from beskar.check.findings import RULES, Finding, Scope, Severity, report, rule
from beskar.check.naming import flavor_name_problems
from beskar.check.rules_hosts import absence_reported
from beskar.fleet import LayeredSite
from beskar.model.entities import E_MAIL
from beskar.model.site import Purpose, Role, Site
from beskar.plan.desired import external_network


def _at(layered: LayeredSite, *path) -> dict:
    origin = layered.origin(tuple(path))
    return {"file": origin.file, "line": origin.line, "site": layered.name} if origin else {"site": layered.name}


@rule("model/flavor-family", Severity.ERROR, Scope.MODEL,
      "every flavor's family is a declared flavor family, and it has compute nodes")
def flavor_family(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    families = {f.name for f in site.flavor_families}
    used = {n.flavor_family for n in site.nodes_with(Role.COMPUTE)}
    without_computes = Role.COMPUTE.value in absence_reported(site)  # model/no-compute says so, once
    for flavor in site.cloud.flavors:
        family = flavor.sizes().family
        where = _at(layered, "cloud", "flavors", flavor.name)
        if not family:
            continue
        if family not in families:
            yield report("model/flavor-family", f"flavor {flavor.name} is of family {family!r}, which the site "
                         "does not declare", hint=f"flavor families: {', '.join(sorted(families)) or 'none'}", **where)
        elif family not in used and not without_computes:
            yield report("model/flavor-family", f"flavor {flavor.name}: no compute node of family {family!r} "
                         "can run it", hint="set flavor_family on compute nodes, or drop the flavor", **where)


@rule("model/flavor-name", Severity.ERROR, Scope.MODEL,
      "a flavor's vCPUs, RAM, disks and family agree with its name; GPU and SMT traits can be met")
def flavor_name(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    families = {f.name: f for f in site.flavor_families}
    convention = settings.current().flavor_name_pattern
    for flavor in site.cloud.flavors:
        if convention is not None:
            sizes = flavor.sizes()
            for problem in flavor_name_problems(flavor.name, sizes.vcpus, sizes.ram_mib, sizes.ephemeral_gib,
                                                convention):
                yield report("model/flavor-name", problem, hint="fleet.checks.flavor_name_pattern sets the convention",
                             **_at(layered, "cloud", "flavors", flavor.name))
        parsed = flavor.parsed()
        where = _at(layered, "cloud", "flavors", flavor.name)
        if parsed is not None:
            said = {"family": parsed.family, "vcpus": parsed.vcpus, "ram": parsed.ram_mib, "disk": parsed.disk_gib,
                    "ephemeral": parsed.ephemeral_gib}
            for field, value in said.items():
                given = getattr(flavor, field)
                if given is not None and given != value:
                    yield report("model/flavor-name", f"flavor {flavor.name} sets {field}: {given}, its name says "
                                 f"{value}", hint="rename the flavor or drop the field",
                                 **_at(layered, "cloud", "flavors", flavor.name, field))
        sizes = flavor.sizes()
        family = families.get(sizes.family)
        if sizes.gpus:
            aliases = {a.name for a in family.pci_aliases} if family else set()
            if sizes.gpu not in aliases:
                yield report("model/flavor-name", f"flavor {flavor.name} asks for GPU {sizes.gpu!r}, which family "
                             f"{sizes.family!r} has no PCI alias for", hint="add it to the family's pci_aliases",
                             **where)
            nodes = [n for n in site.nodes_with(Role.COMPUTE) if n.flavor_family == sizes.family]
            if nodes and not any(n.gpus.get(sizes.gpu or "", 0) >= sizes.gpus for n in nodes):
                yield report("model/flavor-name", f"flavor {flavor.name} needs {sizes.gpus} x {sizes.gpu}; no "
                             f"compute node of family {sizes.family!r} has that many", **where)
        if sizes.smt and not sizes.pin and (family is None or family.cpu_policy != "dedicated"):
            yield report("model/flavor-name", f"flavor {flavor.name} has -smt, which only applies to dedicated "
                         "CPUs", hint="add -pin, or use a family with cpu_policy: dedicated", **where)


@rule("model/flavor-access", Severity.ERROR, Scope.MODEL, "a project's flavor access names a declared private flavor")
def flavor_access(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    flavors = {f.name: f for f in site.cloud.flavors}
    for project in site.cloud.projects:
        for name in project.flavors:
            where = _at(layered, "cloud", "projects", project.name, "flavors")
            if name not in flavors:
                yield report("model/flavor-access", f"project {project.name} has access to flavor {name!r}, which "
                             "the site does not declare", **where)
            elif flavors[name].public:
                yield report("model/flavor-access", f"project {project.name} lists flavor {name}, which is public "
                             "(access lists only apply to private flavors)", hint="set public: false on the flavor",
                             **where)


@rule("model/quota-sanity", Severity.ERROR, Scope.MODEL,
      "quotas: router quota explicit, ports >= 3 x routers + instances, volumes >= instances")
def quota_sanity(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    for project in site.cloud.projects:
        quota = project.quota
        if quota is None:
            continue
        where = _at(layered, "cloud", "projects", project.name, "quota")
        if quota.routers is None:
            yield report("model/quota-sanity", f"project {project.name} has a quota without an explicit router "
                         "quota", hint="set quota.routers (0 for none)", **where)
        routers, instances = quota.routers or 0, quota.instances or 0
        if quota.ports is not None and quota.ports != -1:
            if routers == -1 or instances == -1 or quota.ports < 3 * routers + instances:
                yield report("model/quota-sanity", f"project {project.name}: ports {quota.ports} < 3 x routers "
                             f"({routers}) + instances ({instances})", **_at(layered, "cloud", "projects",
                                                                            project.name, "quota", "ports"))
        if quota.volumes is not None and quota.volumes != -1 and (instances == -1 or quota.volumes < instances):
            yield report("model/quota-sanity", f"project {project.name}: volumes {quota.volumes} < instances "
                         f"({instances})", **_at(layered, "cloud", "projects", project.name, "quota", "volumes"))


@rule("model/project-identity", Severity.ERROR, Scope.MODEL,
      "project names unique per domain (as keystone compares them), contacts valid e-mail addresses")
def project_identity(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    seen: dict[tuple[str, str], str] = {}
    for project in site.cloud.projects:
        folded = (project.domain.lower(), project.name.lower())
        if folded in seen:
            yield report("model/project-identity", f"projects {seen[folded]!r} and {project.name!r} collide in "
                         f"domain {project.domain} (keystone compares names case-insensitively)",
                         **_at(layered, "cloud", "projects", project.name))
        seen.setdefault(folded, project.name)
        for contact in project.contacts:
            if not E_MAIL.match(contact):
                yield report("model/project-identity", f"project {project.name}: contact {contact!r} is not an "
                             "e-mail address", **_at(layered, "cloud", "projects", project.name, "contacts"))
        if project.parent is not None:
            parent = next((p for p in site.cloud.projects if p.name == project.parent), None)
            if parent is not None and parent.domain != project.domain:
                yield report("model/project-identity", f"project {project.name} (domain {project.domain}) has "
                             f"parent {parent.name} of domain {parent.domain}; keystone needs the same domain",
                             **_at(layered, "cloud", "projects", project.name, "parent"))


@rule("model/external-network", Severity.ERROR, Scope.MODEL,
      "the external network is a provider network of the site, and VLAN, CIDR and MTU agree with it")
def external_network_model(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    declared = site.cloud.external_network
    if declared is None:
        return
    where = _at(layered, "cloud", "external_network")
    network = external_network(site)
    if network is None:
        wanted = declared.network or "(the first provider network)"
        yield report("model/external-network", f"the external network names site network {wanted}, which does "
                     "not exist", hint=f"networks: {', '.join(n.name for n in site.networks)}", **where)
        return
    if network.purpose is not Purpose.PROVIDER:
        yield report("model/external-network", f"site network {network.name} has purpose {network.purpose.value}, "
                     "not provider", **where)
    for field, restated, actual in (("vlan", declared.vlan, network.vlan), ("cidr", declared.cidr, network.cidr)):
        if restated is not None and restated != actual:
            yield report("model/external-network", f"external network {field} {restated} differs from site network "
                         f"{network.name} ({actual})", **_at(layered, "cloud", "external_network", field))
    if declared.mtu is not None and declared.mtu > network.mtu:
        yield report("model/external-network", f"external network MTU {declared.mtu} exceeds the MTU of site network "
                     f"{network.name} ({network.mtu})", **_at(layered, "cloud", "external_network", "mtu"))
    # Its pools are the site network's: model/pool-outside-cidr and model/pool-overlap judge them.


@rule("model/router-interface", Severity.ERROR, Scope.MODEL, "a router's interfaces name declared subnets")
def router_interfaces(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    subnets = {s.name for n in site.cloud.networks for s in n.subnets}
    for router in site.cloud.routers:
        for name in router.interfaces:
            if name not in subnets:
                yield report("model/router-interface", f"router {router.name} attaches to subnet {name!r}, which "
                             "the site does not declare", **_at(layered, "cloud", "routers", router.name, "interfaces"))


# What planning refuses on: this module's rules, and the model rules they leave a finding to (the external
# network's pools, a site without computes), so that no plan is made from a site the check rejects for its cloud.
PLANNING_RULES = ("model/flavor-family", "model/flavor-name", "model/flavor-access", "model/quota-sanity",
                  "model/project-identity", "model/external-network", "model/router-interface",
                  "model/pool-outside-cidr", "model/pool-overlap", "model/no-compute")


def check_site(site: Site, layered: LayeredSite) -> list[Finding]:
    """The planning rules' findings for one site, sorted (the check engine runs them with all other rules)."""
    findings: list[Finding] = []
    for rule_id in PLANNING_RULES:
        findings.extend(RULES[rule_id].run(site, layered))
    return sorted(findings)
