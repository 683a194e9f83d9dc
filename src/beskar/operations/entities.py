"""The entity operations the CLI calls: plan a site's cloud content, apply it, import it from a live cloud."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from beskar.catalog import catalog
from beskar.check import rules_entities
from beskar.check.findings import Finding, Severity
from beskar.clients.openstack import Api, CloudError, connect, observe
from beskar.clients.openstack_steps import EntityStep
from beskar.fleet import LayeredSite, load_fleet
from beskar.fleet.sections import write_section
from beskar.model import Site, type_site
from beskar.plan.desired import desired_state
from beskar.plan.entities import Options, Plan, plan
from beskar.plan.imported import Imported, import_cloud
from beskar.plan.resources import State
from beskar.plan.steps import Outcome, Result, run_steps
from beskar.problems import InputError, Origin, Problem


@dataclass(frozen=True)
class EntityPlan:
    site: Site
    desired: State
    observed: State
    plan: Plan


def load_site(root: Path, name: str) -> tuple[Site, LayeredSite]:
    fleet = load_fleet(root, [name])
    layered = fleet.sites[name]
    return type_site(layered, catalog()), layered


def entity_findings(site: Site, layered: LayeredSite) -> list[Finding]:
    """The findings of the rules planning heeds (rules_entities.PLANNING_RULES) for one site; errors make it refuse."""
    return rules_entities.check_site(site, layered)


def _refuse_on_errors(site: Site, layered: LayeredSite) -> None:
    errors = [f for f in entity_findings(site, layered) if f.severity is Severity.ERROR]
    if errors:
        raise InputError([Problem(f"{f.message} [{f.rule}]", _origin(f, layered), f.hint) for f in errors])


def _origin(finding: Finding, layered: LayeredSite):
    if finding.file is None:
        return None
    return Origin(finding.file, finding.line or 1, 1, _layer_of(finding.file, layered))


def _layer_of(file: str, layered: LayeredSite) -> str:
    if file.startswith("sites/"):
        return f"site:{layered.name}"
    if file.startswith("profiles/"):
        return f"profile:{layered.profile}"
    return "global"


def connect_site(site: Site, cloud: str | None = None) -> Api:
    """A connection with the credentials of the site's clouds.yaml entry (or `cloud`)."""
    name = cloud or site.cloud.credentials or site.name
    try:
        return Api(connect(name))
    except CloudError as error:
        raise InputError([Problem(str(error), hint=f"add an entry {name!r} to clouds.yaml "
                                  "(or set cloud.credentials in the site, or pass --cloud)")]) from None


def plan_site(root: Path, name: str, options: Options, cloud: str | None = None,
              api: Api | None = None) -> tuple[EntityPlan, Api]:
    site, layered = load_site(root, name)
    _refuse_on_errors(site, layered)
    api = api or connect_site(site, cloud)
    desired = desired_state(site)
    try:
        observed = observe(api, desired)
    except CloudError as error:
        raise CloudError(f"cannot read the cloud of {name}: {error}") from None
    return EntityPlan(site, desired, observed, plan(desired, observed, options)), api


def apply_plan(entity_plan: EntityPlan, api: Api,
               progress: Callable[[int, int, object, Result], None] | None = None) -> list[Outcome]:
    return run_steps([EntityStep(api, step) for step in entity_plan.plan.steps], progress)


def import_site(root: Path, name: str, include_unmanaged: bool = False, cloud: str | None = None,
                write: bool = False, api: Api | None = None) -> tuple[Imported, str]:
    """The site's `cloud:` section as the live cloud has it; with write=True it replaces the one in site.yaml."""
    site, layered = load_site(root, name)
    api = api or connect_site(site, cloud)
    try:
        observed = observe(api, desired_state(site), everything=True)
    except CloudError as error:
        raise CloudError(f"cannot read the cloud of {name}: {error}") from None
    imported = import_cloud(site, observed, include_unmanaged)
    text = section_text(imported.cloud)
    if write:
        write_section(root, f"sites/{name}/site.yaml", "cloud", text, f"site:{name}")
    return imported, text


class _Compact(yaml.SafeDumper):
    """Block style for structure, flow style for short leaves: `tags: [a, b]`, `- {name: c2.16core-30ram}`."""


def _scalar(value) -> bool:
    return not isinstance(value, (dict, list))


_Compact.add_representer(list, lambda dumper, data: dumper.represent_sequence(
    "tag:yaml.org,2002:seq", data, flow_style=all(_scalar(v) for v in data)))
_Compact.add_representer(dict, lambda dumper, data: dumper.represent_mapping(
    "tag:yaml.org,2002:map", data.items(), flow_style=len(data) <= 4 and all(_scalar(v) for v in data.values())
    and sum(len(str(k)) + len(str(v)) for k, v in data.items()) < 80))


def section_text(cloud: dict) -> str:
    body = yaml.dump({"cloud": cloud}, Dumper=_Compact, sort_keys=False, allow_unicode=True, width=120, indent=2)
    return "# Cloud entities, written by `beskar entities import`.\n" + body
