"""HTML tables of the report: findings with links to their lines, and the images each site's releases pin."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Mapping

from beskar.check.findings import Finding, Severity
from beskar.render.images import tag_of
from beskar.render.images import split_image
from beskar.report.facts import SiteFacts
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


class MirrorState(StrEnum):
    PRESENT = "present"
    MISSING = "missing"


@dataclass(frozen=True)
class MirrorRecord:
    """What `beskar images verify` found for one image: in the mirror or not, and the digest it recorded."""

    state: MirrorState
    digest: str | None = None


# site -> image reference (as the HelmRelease pins it) -> what verify found
MirrorStatus = Mapping[str, Mapping[str, MirrorRecord]]


def upstream_of(image: str, mirror: str | None) -> str | None:
    """The upstream reference a mirrored image stands for (the `__` flattening reversed), None if not mirrored."""
    prefix = (mirror or "").rstrip("/") + "/"
    if not mirror or not image.startswith(prefix):
        return None
    flat = image[len(prefix):]
    return flat.replace("__", "/") if "__" in flat else None


def images_table(facts: SiteFacts, mirror: str | None, status: Mapping[str, MirrorRecord] | None) -> str:
    users: dict[str, list[str]] = {}
    for release in facts.releases:
        for use in release.images:
            users.setdefault(use.image, []).append(f"{release.name}:{use.path.rsplit('.', 1)[-1]}")
    if not users:
        return "<p>The site's HelmReleases pin no image; their charts' defaults apply.</p>"
    note = ("<p>Mirror status from <code>beskar images verify</code>.</p>" if status is not None else
            '<p class="note">Mirror status: not verified. <code>beskar images verify</code> records whether each '
            'image is in the mirror; the report shows it here once it has run.</p>')
    rows = []
    for image in sorted(users):
        registry, _, _ = split_image(image)
        tag = tag_of(image) or "latest"
        mutable = tag == "latest" or tag.startswith("latest")
        upstream = upstream_of(image, mirror)
        record = status.get(image) if status is not None else None
        state = record.state.value if record else ("unknown" if status is not None else "not verified")
        digest = f'<br><code class="digest">{esc(record.digest)}</code>' if record and record.digest else ""
        who = ", ".join(sorted(set(users[image])))
        origin = (f'<div class="hint">upstream {esc(upstream)}</div>' if upstream else
                  f'<div class="hint">registry {esc(registry)}, not through the mirror</div>' if mirror else "")
        flag = ' <span class="sev warning">mutable</span>' if mutable else ""
        rows.append(f'<tr class="image"><td><code>{esc(image)}</code>{origin}</td><td>{esc(tag)}{flag}</td>'
                    f'<td class="mirror {esc(state.replace(" ", "-"))}">{esc(state)}{digest}</td>'
                    f'<td class="users">{esc(who)}</td></tr>')
    return (note + '<table class="images">\n<thead><tr><th>image</th><th>tag</th><th>mirror</th><th>used by</th></tr>'
            '</thead>\n<tbody>\n' + "\n".join(rows) + "\n</tbody>\n</table>")
