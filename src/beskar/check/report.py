"""Findings as reports for machines: JSON, JUnit XML and GitLab Code Quality (deterministic, no timestamps)."""

from __future__ import annotations

import hashlib
import json
from typing import Iterable
from xml.sax.saxutils import quoteattr

from beskar.check.findings import Finding, Rule, Severity

# GitLab Code Quality severities: info, minor, major, critical, blocker.
GITLAB_SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def as_json(findings: Iterable[Finding]) -> str:
    """A JSON list of {rule, severity, file, line, message, hint, site}; files relative to the checked root."""
    return json.dumps([f.as_json() for f in findings], indent=2) + "\n"


def _text(finding: Finding) -> str:
    return finding.message + (f" ({finding.hint})" if finding.hint else "")


def as_gitlab(findings: Iterable[Finding]) -> str:
    """A GitLab Code Quality report: one issue per finding with a fingerprint stable across line moves."""
    issues = []
    seen: dict[str, int] = {}
    for finding in findings:
        basis = f"{finding.rule}\0{finding.file}\0{finding.message}"
        seen[basis] = seen.get(basis, 0) + 1  # same rule, file and message twice: still two issues
        fingerprint = hashlib.sha256(f"{basis}\0{seen[basis]}".encode()).hexdigest()
        issues.append({
            "type": "issue",
            "check_name": finding.rule,
            "description": _text(finding),
            "categories": ["Bug Risk"] if finding.severity is Severity.ERROR else ["Style"],
            "severity": GITLAB_SEVERITY[finding.severity],
            "fingerprint": fingerprint,
            "location": {"path": finding.file or ".", "lines": {"begin": finding.line or 1}},
        })
    return json.dumps(issues, indent=2) + "\n"


def as_junit(findings: list[Finding], rules: Iterable[Rule], suite: str) -> str:
    """JUnit XML: one test case per rule that ran without findings (passed), one per finding (errors fail,
    warnings and infos pass with their text as output), so CI shows both what failed and what was checked."""
    findings = list(findings)
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    cases = []
    failures = 0
    for rule in sorted(rules, key=lambda r: r.id):
        if rule.id not in by_rule:
            cases.append(f"    <testcase classname={quoteattr(rule.scope.value)} name={quoteattr(rule.id)}/>")
            continue
        for finding in by_rule[rule.id]:
            where = f"{finding.file or '.'}:{finding.line or 1}"
            name = quoteattr(f"{rule.id} {where}")
            body = quoteattr(_text(finding))
            if finding.severity is Severity.ERROR:
                failures += 1
                cases.append(f"    <testcase classname={quoteattr(finding.file or '.')} name={name}>\n"
                             f"      <failure type={quoteattr(rule.id)} message={body}/>\n    </testcase>")
            else:
                text = _escape(f"{finding.severity.value}: {_text(finding)}")
                cases.append(f"    <testcase classname={quoteattr(finding.file or '.')} name={name}>\n"
                             f"      <system-out>{text}</system-out>\n    </testcase>")
    header = (f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="beskar" tests="{len(cases)}" '
              f'failures="{failures}">\n  <testsuite name={quoteattr(suite)} tests="{len(cases)}" '
              f'failures="{failures}" errors="0" skipped="0">')
    return "\n".join([header, *cases, "  </testsuite>", "</testsuites>"]) + "\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
