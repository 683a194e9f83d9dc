"""HTML tables of the report: findings with their severity and a link to their line in the fleet repository."""

from __future__ import annotations

from beskar.check.findings import Finding, Severity
from beskar.report.svg import esc
from beskar.report.weblinks import WebRepository


def severity_counts(findings: list[Finding]) -> dict[Severity, int]:
    return {s: sum(1 for f in findings if f.severity is s) for s in Severity}


def summary(findings: list[Finding]) -> str:
    counts = severity_counts(findings)
    if not findings:
        return '<span class="ok">no findings</span>'
    return " ".join(f'<span class="sev {s.value}">{counts[s]} {s.value}{"s" if counts[s] != 1 else ""}</span>'
                    for s in Severity if counts[s])


def where(finding: Finding, repository: WebRepository | None) -> str:
    if finding.file is None:
        return "(fleet)"
    place = f"{finding.file}:{finding.line}" if finding.line else finding.file
    if repository is None:
        return f"<code>{esc(place)}</code>"
    return f'<a href="{esc(repository.url(finding.file, finding.line))}"><code>{esc(place)}</code></a>'


def findings_table(findings: list[Finding], repository: WebRepository | None, with_site: bool = False) -> str:
    if not findings:
        return '<p class="ok">Nothing found: every rule passed.</p>'
    head = "<tr><th>severity</th><th>rule</th>" + ("<th>site</th>" if with_site else "") + \
        "<th>where</th><th>what</th></tr>"
    rows = []
    for finding in findings:
        hint = f'<div class="hint">hint: {esc(finding.hint)}</div>' if finding.hint else ""
        site = f"<td>{esc(finding.site or 'every site')}</td>" if with_site else ""
        rows.append(f'<tr class="finding {finding.severity.value}"><td><span class="sev {finding.severity.value}">'
                    f"{finding.severity.value}</span></td><td><code>{esc(finding.rule)}</code></td>{site}"
                    f"<td>{where(finding, repository)}</td><td>{esc(finding.message)}{hint}</td></tr>")
    return f'<table class="findings">\n<thead>{head}</thead>\n<tbody>\n' + "\n".join(rows) + "\n</tbody>\n</table>"
