"""Model rules on consistency: overrides that make the rendered tree disagree with the site's region and domain
(the tree, inventories and cloud entities all take them from the site). Images of another release than the
site's are found in the rendered tree by tree/image-release-mix, which knows each site's release."""

from __future__ import annotations

from typing import Any, Iterator

from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.check.rules_model_addresses import at
from beskar.fleet import LayeredSite
from beskar.model import Site

REGION_KEYS = {"region_name", "os_region_name", "region"}


def _overrides(site: Site) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path in the site, value) of every leaf the site writes into a chart's values or conf by hand."""
    for name in type(site.openstack).model_fields:
        component = getattr(site.openstack, name)
        for section in ("values", "conf"):
            tree = getattr(component, section, None)
            if isinstance(tree, dict):
                yield from _leaves(tree, ("openstack", name, section))


def _leaves(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _leaves(item, path + (index,))
    else:
        yield path, node


@rule("model/region-mismatch", Severity.ERROR, Scope.MODEL,
      "No chart override names another region than the site's `region`.")
def region_mismatch(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    for path, value in _overrides(site):
        if str(path[-1]) in REGION_KEYS and isinstance(value, str) and value != site.region:
            yield report("model/region-mismatch", f"{'.'.join(map(str, path))} is {value!r}, but the site's region "
                         f"is {site.region!r}", **at(layered, *path), site=site.name,
                         hint="drop the override: Beskar sets the region everywhere from `region`")


@rule("model/endpoint-domain", Severity.ERROR, Scope.MODEL,
      "Public endpoint host overrides lie under the site's `domain` (certificates and DNS are made for it).")
def endpoint_domain(site: Site, layered: LayeredSite) -> Iterator[Finding]:
    for path, value in _overrides(site):
        if "host_fqdn_override" in path and "public" in path and isinstance(value, str) and path[-1] in (
                "host", "public"):
            if not (value == site.domain or value.endswith("." + site.domain)):
                yield report("model/endpoint-domain", f"{'.'.join(map(str, path))} is {value!r}, outside the site "
                             f"domain {site.domain!r}", **at(layered, *path), site=site.name,
                             hint=f"use openstack.<service>.public_name for a name under {site.domain}")
