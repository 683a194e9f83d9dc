"""The fleet matrix: a row per site, a column per service, each cell the chart ref and image tag the site runs,
highlighted where the site differs from the other sites of its profile or is mid-upgrade."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping

from beskar.check.findings import Finding
from beskar.report.facts import Release, SiteFacts
from beskar.report.svg import esc
from beskar.report.tables import summary
from beskar.report.upgrades import SiteUpgrade

Cell = tuple[str, str] | None  # (chart ref, image tag), None where the site does not run the service


@dataclass(frozen=True)
class Column:
    service: str
    layer: str


def columns(sites: list[SiteFacts]) -> list[Column]:
    """Every service some site runs, in deployment order (layer directory, then file)."""
    seen: dict[str, tuple[str, str]] = {}
    for facts in sites:
        for release in facts.releases:
            key = (release.file.split("/")[2], release.file.rsplit("/", 1)[-1])
            seen[release.name] = min(seen.get(release.name, key), key)
    layer_of = {r.name: r.layer for f in sites for r in f.releases}
    return [Column(name, layer_of[name]) for name in sorted(seen, key=lambda n: (seen[n], n))]


def _cell(release: Release | None) -> Cell:
    return None if release is None else (release.chart_ref, release.image_tag or "-")


def _usual(cells: list[Cell]) -> Cell | object:
    """The value most sites of a profile have, or a sentinel when there is no single one (a tie)."""
    counts = Counter(cells)
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return _TIE
    return ranked[0][0]


_TIE = object()


def _short(tag: str, facts: SiteFacts) -> str:
    """A tag without the site's distro (`2025.1-ubuntu_noble` is `2025.1` in a row that says ubuntu_noble)."""
    return tag.removesuffix(f"-{facts.distro}") or tag


def _shown(cell: Cell) -> str:
    return "not deployed" if cell is None else f"{cell[0]} · {cell[1]}"


def _release_cell(facts: SiteFacts, upgrade: SiteUpgrade | None) -> str:
    """The site's release; mid-upgrade, the target with the stage carried last and the wave."""
    if upgrade is None:
        return f'<td class="release">{esc(facts.release)}<br><small>{esc(facts.distro)}</small></td>'
    if not upgrade.in_flight:
        return (f'<td class="release">{esc(facts.release)}<br><small>{esc(facts.distro)}</small>'
                f'<div class="upgrade waiting" data-wave="{upgrade.wave}" title="{esc(upgrade.summary())}">'
                f"to {esc(upgrade.target)}: wave {upgrade.wave}/{upgrade.waves}, not started</div></td>")
    stage = (f"stage {len(upgrade.done)}/{len(upgrade.stages)} <b>{esc(upgrade.stage)}</b>" if upgrade.stage
             else "no stage carried")
    following = f"; next: {upgrade.next_stage}" if upgrade.next_stage else "; next: finish"
    following += "".join(f"; refused: {why}" for why in upgrade.refusals)
    return (f'<td class="release upgrading">{esc(upgrade.source)} &#8594; <b>{esc(upgrade.target)}</b><br>'
            f"<small>{esc(facts.distro)}</small>"
            f'<div class="upgrade" data-stage="{esc(upgrade.stage or "")}" data-wave="{upgrade.wave}" '
            f'title="{esc(upgrade.summary() + following)}">{stage}<br>wave {upgrade.wave}/{upgrade.waves}</div></td>')


def matrix_html(sites: list[SiteFacts], findings: dict[str, list[Finding]], links: dict[str, str],
                upgrades: Mapping[str, SiteUpgrade] | None = None) -> str:
    """`findings`, `links` (the site's page) and `upgrades` (sites in or waiting for an upgrade) by site name."""
    upgrades = upgrades or {}
    cols = columns(sites)
    by_profile: dict[str | None, list[SiteFacts]] = {}
    for facts in sites:
        by_profile.setdefault(facts.profile, []).append(facts)
    head = ["<th>site</th><th>profile</th><th>release</th><th>check</th>"]
    head += [f'<th class="service" title="{esc(c.layer)}"><span>{esc(c.service)}</span></th>' for c in cols]
    table = {f.name: {r.name: _cell(r) for r in f.releases} for f in sites}
    usual: dict[tuple[str | None, str], tuple[Cell | object, list[tuple[str, Cell]]]] = {}
    for profile, members in by_profile.items():
        for column in cols:
            values = [(s.name, table[s.name].get(column.service)) for s in members]
            usual[profile, column.service] = (_usual([v for _, v in values]), values)
    rows = []
    for facts in sites:
        siblings = by_profile[facts.profile]
        upgrade = upgrades.get(facts.name)
        moving = upgrade is not None and upgrade.in_flight
        cells = [f'<th class="site"><a href="{esc(links[facts.name])}">{esc(facts.name)}</a></th>',
                 f"<td>{esc(facts.profile or '-')}</td>", _release_cell(facts, upgrade),
                 f'<td class="check"><a href="{esc(links[facts.name])}#findings">{summary(findings.get(facts.name, []))}'
                 "</a></td>"]
        for column in cols:
            value = table[facts.name].get(column.service)
            release = facts.release_named(column.service)
            carried = upgrade.carried_by(release.chart) if moving and release is not None else ()
            common, values = usual[facts.profile, column.service]
            differs = len(siblings) > 1 and (common is _TIE or value != common) and len({v for _, v in values}) > 1
            classes = ["cell"] + (["differs"] if differs else []) + (["carried"] if carried else []) + \
                (["absent"] if value is None else [])
            if differs:
                others = Counter(v for name, v in values if name != facts.name)
                note = "; ".join(f"{n} other site(s): {_shown(v)}" for v, n in sorted(
                    others.items(), key=lambda item: (-item[1], _shown(item[0]))))
                tip = f"{facts.name} differs from its profile {facts.profile or '(none)'}: {note}"
            else:
                tip = f"{facts.name} {column.service}: {_shown(value)}"
            if carried:
                tip = (f"{facts.name} {column.service}: moved to {upgrade.target}'s images by stage "
                       f"{', '.join(carried)} of the upgrade; {tip}")
            content = "&#8212;" if value is None else (f'<span class="ref">{esc(value[0])}</span>'
                                                        f'<span class="tag">{esc(_short(value[1], facts))}</span>')
            cells.append(f'<td class="{" ".join(classes)}" data-service="{esc(column.service)}" title="{esc(tip)}">'
                         f"{content}</td>")
        row_class = "site-row upgrading" if moving else "site-row"
        rows.append(f'<tr class="{row_class}" data-site="{esc(facts.name)}">' + "".join(cells) + "</tr>")
    return ('<div class="scroll"><table class="matrix">\n<thead><tr>' + "".join(head) + "</tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody>\n</table></div>")
