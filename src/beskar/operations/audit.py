"""`beskar secrets audit`: per site, what is missing, unused, old, or readable by someone it should not be."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path

from beskar.check.findings import Finding, Severity
from beskar.fleet import load_fleet
from beskar.problems import InputError
from beskar.secrets import secret
from beskar.secrets.demo import DEMO_RECIPIENTS
from beskar.operations.sitesecrets import SiteSecrets, load


class Issue(StrEnum):
    NO_FILE = "no-file"
    MISSING = "missing"
    UNUSED = "unused"
    OLD = "old"
    UNDATED = "undated"
    FOREIGN_RECIPIENT = "foreign-recipient"
    ABSENT_RECIPIENT = "absent-recipient"
    DEMO_RECIPIENT = "demo-recipient"


SEVERITY = {Issue.NO_FILE: Severity.ERROR, Issue.MISSING: Severity.ERROR, Issue.FOREIGN_RECIPIENT: Severity.ERROR,
            Issue.DEMO_RECIPIENT: Severity.WARNING, Issue.ABSENT_RECIPIENT: Severity.WARNING,
            Issue.OLD: Severity.WARNING, Issue.UNDATED: Severity.WARNING, Issue.UNUSED: Severity.INFO}
RULE_PREFIX = "secrets/"


def issue_of(finding: Finding) -> Issue:
    return Issue(finding.rule.removeprefix(RULE_PREFIX))


def _finding(ctx: SiteSecrets, issue: Issue, subject: str, detail: str) -> Finding:
    """A check finding (the one Finding type), at the line of the file that holds `subject` where it has one."""
    line = None
    if ctx.source is not None:
        about_recipient = issue in (Issue.FOREIGN_RECIPIENT, Issue.DEMO_RECIPIENT, Issue.ABSENT_RECIPIENT)
        line = (ctx.source.line_of("sops.age") if about_recipient else
                ctx.source.line_of(f"stringData.{subject}") or ctx.source.line_of("stringData"))
    return Finding(ctx.relative, line, RULE_PREFIX + issue.value, SEVERITY[issue], detail, site=ctx.name,
                   subject=subject)


def audit_site(ctx: SiteSecrets, today: date, older_than: int | None = None) -> list[Finding]:
    """What is wrong with one site's secrets, from clear text only: key names, dates, recipients."""
    name = ctx.name
    if ctx.source is None:
        return [_finding(ctx, Issue.NO_FILE, ctx.relative, f"run `beskar secrets sync {name}`")]
    found = []
    existing = set(ctx.existing)
    for need in ctx.needs:
        if need.key not in existing:
            found.append(_finding(ctx, Issue.MISSING, need.key, f"a {need.kind} the releases read; run sync"))
    needed = {need.key for need in ctx.needs}
    for key in sorted(existing - needed):
        found.append(_finding(ctx, Issue.UNUSED, key, "no release reads it"))
    limit = older_than if older_than is not None else ctx.site.secrets.max_age_days
    dates = secret.dates_of(ctx.source.documents[0])
    for key in sorted(existing & needed):
        when = dates.get(key)
        if when is None:
            found.append(_finding(ctx, Issue.UNDATED, key, "no date recorded: age unknown"))
            continue
        try:
            set_on = date.fromisoformat(when)
        except ValueError:
            found.append(_finding(ctx, Issue.UNDATED, key, f"unreadable date {when!r}"))
            continue
        if today - set_on > timedelta(days=limit):
            found.append(_finding(ctx, Issue.OLD, key, f"set on {when}, more than {limit} days ago: rotate it"))
    in_file = ctx.source.metadata.recipients
    for recipient in in_file:
        if recipient not in ctx.wanted:
            found.append(_finding(ctx, Issue.FOREIGN_RECIPIENT, recipient,
                                 "can open this site but is neither its own nor an operator's recipient: "
                                 f"`beskar secrets recipients {name} remove` it"))
        if recipient in DEMO_RECIPIENTS:
            found.append(_finding(ctx, Issue.DEMO_RECIPIENT, recipient,
                                 f"the published {DEMO_RECIPIENTS[recipient]} key: anyone can open this file"))
    for recipient in ctx.wanted:
        if recipient not in in_file:
            found.append(_finding(ctx, Issue.ABSENT_RECIPIENT, recipient,
                                 f"configured but cannot open the file yet: run `beskar secrets sync {name}`"))
    return found


def audit(root: Path, sites: list[str] | None, today: date, older_than: int | None = None) -> list[Finding]:
    names = sites or sorted(load_fleet(root).sites)
    findings = []
    problems = []
    for name in names:
        try:
            findings += audit_site(load(root, name), today, older_than)
        except InputError as error:
            problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    return findings
