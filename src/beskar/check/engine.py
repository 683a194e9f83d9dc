"""Running every registered rule over what is checked, then applying the fleet's severities and suppressions."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Mapping

from beskar.check import settings as check_settings
from beskar.check.documents import Suppressions, suppressions
from beskar.check.findings import RULES, Finding, Rule, Scope, Severity
from beskar.check.settings import CheckSettings
from beskar.forking import fork_map

if TYPE_CHECKING:
    from beskar.check.build import BuiltSite
    from beskar.check.repository import FluxRepository
    from beskar.fleet import LayeredSite
    from beskar.model import Site
    from beskar.render.site import RenderedSite
    from beskar.secrets.errors import SopsError
    from beskar.secrets.sopsfile import SopsFile


@dataclass(frozen=True)
class CheckedSite:
    """One site as compiled once for every rule: typed, layered (for positions), rendered, its secrets file read.

    A model rule names what it reads as its parameters (`site`, `layered`, `rendered`, `secrets`) and gets
    exactly those, by name, as kopf hands handlers their arguments.
    """

    site: Site
    layered: LayeredSite
    rendered: RenderedSite
    secrets: SopsFile | SopsError | None = None  # None: the site has no secrets file


@dataclass(frozen=True)
class Subject:
    """What one run checks: compiled sites (beskar check), a Flux repository (both), and file texts for comments."""

    sites: tuple[CheckedSite, ...] = ()
    repository: FluxRepository | None = None
    texts: Mapping[str, str] = field(default_factory=dict)
    builds: tuple[BuiltSite, ...] = ()  # beskar check --build


_SITE_PARTS = frozenset(f.name for f in dataclasses.fields(CheckedSite))


def _run_rule(rule: Rule, subject: Subject) -> Iterable[Finding]:
    if rule.scope is Scope.MODEL:
        unknown = set(rule.parameters) - _SITE_PARTS
        if unknown:
            raise TypeError(f"rule {rule.id} asks for {', '.join(sorted(unknown))}; a site offers "
                            f"{', '.join(sorted(_SITE_PARTS))}")
        for checked in subject.sites:
            yield from rule.run(**{name: getattr(checked, name) for name in rule.parameters})
    elif rule.scope is Scope.FLEET:
        if subject.sites:
            yield from rule.run([(checked.site, checked.layered) for checked in subject.sites])
    elif rule.scope is Scope.BUILD:
        for built in subject.builds:
            yield from rule.run(built)
    elif subject.repository is not None:
        yield from rule.run(subject.repository)


def run_rules(subject: Subject, settings: CheckSettings = CheckSettings(), jobs: int = 1) -> list[Finding]:
    """Every enabled rule of every scope; findings with the fleet's severities, minus suppressed ones, sorted.

    With more than one job the rules run on forked workers, which inherit the subject; the rules of one module go
    together, since they share what they derive from it (every image of the tree, say). The findings are the same
    whatever the number of jobs."""
    groups: dict[str, list[Rule]] = {}
    for rule in applicable_rules(subject, settings):  # only these scopes' rule modules are imported
        groups.setdefault(rule.run.__module__, []).append(rule)
    found: set[Finding] = set()
    for part in fork_map(lambda group: _findings(group, subject, settings), list(groups.values()), jobs).results():
        found.update(part)
    comments: dict[str, Suppressions] = {}
    kept = []
    for finding in found:
        if finding.file is not None and finding.file in subject.texts:
            if finding.file not in comments:
                comments[finding.file] = suppressions(subject.texts[finding.file])
            if comments[finding.file].covers(finding.rule, finding.line):
                continue
        kept.append(finding)
    return sort_findings(_merge_shared(kept))


def _findings(rules: list[Rule], subject: Subject, settings: CheckSettings) -> list[Finding]:
    """What the rules find, with the fleet's severities."""
    token = check_settings.activate(settings)
    try:
        found: list[Finding] = []
        for rule in rules:
            severity = settings.severity.get(rule.id)
            for finding in _run_rule(rule, subject):
                if severity is not None and severity != finding.severity:
                    finding = dataclasses.replace(finding, severity=Severity(severity))
                found.append(finding)
        return found
    finally:
        check_settings.deactivate(token)


def _merge_shared(findings: list[Finding]) -> list[Finding]:
    """One finding per place: a line of beskar.yaml or a profile that several sites inherit is one problem."""
    by_place: dict[tuple, list[Finding]] = {}
    for finding in findings:
        by_place.setdefault(dataclasses.replace(finding, site=None), []).append(finding)
    return [group[0] if len(group) == 1 else place for place, group in by_place.items()]


def applicable_rules(subject: Subject, settings: CheckSettings = CheckSettings()) -> list[Rule]:
    """The rules a run over `subject` runs: enabled, and of a scope the subject has."""
    return [rule for rule in RULES.of(_scopes(subject)) if settings.enabled(rule.id)]


def _scopes(subject: Subject) -> set[Scope]:
    """The scopes whose rules have something to read in `subject` (the others would yield nothing)."""
    scopes = {Scope.TREE} if subject.repository is not None else set()
    if subject.sites:
        scopes |= {Scope.MODEL, Scope.FLEET}
    if subject.builds:
        scopes.add(Scope.BUILD)
    return scopes


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.file or "", f.line or 0, f.rule, f.message, f.site or ""))
