"""The report's pages: index.html (the fleet) and sites/<site>.html (wiring, deployment, findings, images)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from beskar.catalog import Catalog
from beskar.check.findings import Finding
from beskar.fleet import LayeredSite
from beskar.model import Site
from beskar.render.site import RenderedSite
from beskar.report.deployment import deployment_svg
from beskar.report.facts import SiteFacts, site_facts
from beskar.report.marks import findings_of_site, site_marks
from beskar.report.matrix import matrix_html
from beskar.report.svg import esc
from beskar.report.images import MirrorStatus, images_table
from beskar.report.tables import findings_table, summary
from beskar.report.weblinks import web_repository
from beskar.report.upgrades import SiteUpgrade, site_upgrades
from beskar.report.wiring import wiring_svg

INDEX = "index.html"
# Every page says who made it: a folder whose index.html lacks it is not a report, and is never written into.
GENERATOR = '<meta name="generator" content="beskar report">'
GENERATED_CLASS = "generated"
# Nothing leaves the page: no script, no font, no image but inline SVG and data: URLs.
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root { --bad: #c62828; --warn: #b26a00; --info: #1565c0; --ok: #2e7d32; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2328;
       margin: 0; background: #fff; }
header.top { background: #24292f; color: #fff; padding: 10px 24px; display: flex; gap: 24px; align-items: baseline;
             flex-wrap: wrap; }
header.top a { color: #fff; }
header.top h1 { font-size: 20px; margin: 0; }
nav a { margin-right: 14px; }
main { padding: 8px 24px 32px; }
h2 { font-size: 17px; margin: 26px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
a { color: #0969da; }
code { font: 12px/1.3 ui-monospace, "DejaVu Sans Mono", monospace; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: 4px 7px; vertical-align: top; text-align: left; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
.scroll { overflow-x: auto; max-width: 100%; }
.matrix td.cell, .matrix td.check { font-size: 11.5px; white-space: nowrap; }
.matrix td.cell span { display: block; }
.matrix td.check a { text-decoration: none; }
.matrix td.cell .tag { color: #57606a; }
.legend.differs { background: #fff1c2; outline: 2px solid #d4a72c; padding: 0 3px; }
.matrix td.differs { background: #fff1c2; outline: 2px solid #d4a72c; outline-offset: -2px; }
.matrix td.carried { background: #ddf4ff; outline: 2px solid #54aeff; outline-offset: -2px; }
.matrix tr.upgrading th.site { border-left: 4px solid #0969da; }
.matrix td.release { white-space: nowrap; }
.upgrade { margin-top: 3px; font-size: 11.5px; color: #0550ae; background: #ddf4ff; border-radius: 4px; padding: 1px 5px; }
p.upgrade { font-size: 14px; padding: 4px 8px; display: inline-block; margin: 4px 0; }
.upgrade.waiting { color: #57606a; background: #f6f8fa; }
.legend.carried { background: #ddf4ff; outline: 2px solid #54aeff; padding: 0 3px; }
.matrix td.absent { color: #8c959f; text-align: center; }
.matrix th.site { position: sticky; left: 0; background: #fff; white-space: nowrap; }
.matrix th.service { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; font-size: 12px; }
.sev { display: inline-block; border-radius: 9px; padding: 0 7px; color: #fff; font-size: 11.5px; }
.sev.error { background: var(--bad); } .sev.warning { background: var(--warn); } .sev.info { background: var(--info); }
.ok { color: var(--ok); }
.hint { color: #57606a; font-size: 12px; }
.note { color: #57606a; }
.facts span { margin-right: 18px; }
table.findings td:last-child, table.images td.users { max-width: 640px; }
td.mirror.missing { color: var(--bad); font-weight: bold; } td.mirror.present { color: var(--ok); }
figure { margin: 8px 0; overflow-x: auto; }
figure svg { height: auto; font-family: system-ui, "DejaVu Sans", sans-serif; }
figcaption { color: #57606a; font-size: 12.5px; margin-top: 4px; }
.generated { color: #8c959f; font-size: 12px; margin-top: 30px; }
@media print {
  header.top { background: none; color: #000; border-bottom: 2px solid #000; } header.top a { color: #000; }
  nav, .generated { display: none; } .scroll, figure { overflow: visible; } thead th { position: static; }
  figure svg { max-width: 100%; }
  section { break-inside: avoid-page; }
  /* A4 landscape: the matrix and the tables fit the page's width, long names wrap instead of running off it */
  main { padding: 0; } table { width: 100%; } td code, table.findings td:last-child { overflow-wrap: anywhere; }
  .matrix th, .matrix td { padding: 1px 2px; } .matrix td.cell, .matrix td.check { font-size: 7.5px; }
  .matrix th.service, .matrix td.release, .matrix .upgrade, .matrix td { font-size: 9px; }
  .matrix .sev { font-size: 8px; padding: 0 4px; } .matrix td.check .sev { display: block; margin-bottom: 2px; }
  .matrix td.release { white-space: normal; min-width: 90px; } .matrix th.site { white-space: normal; }
}
@page { size: A4 landscape; margin: 10mm; }
""".strip()


@dataclass(frozen=True)
class SiteInput:
    """One site as compiled: typed, layered (for positions) and rendered."""

    site: Site
    layered: LayeredSite
    rendered: RenderedSite


@dataclass(frozen=True)
class ReportInput:
    fleet_name: str
    settings: dict[str, Any]
    sites: tuple[SiteInput, ...]
    findings: tuple[Finding, ...]
    catalog: Catalog
    generated_at: str  # the one line that differs between two runs over the same fleet
    version: str
    stale: int = 0  # rendered files not up to date with the fleet
    # What `beskar images verify` recorded, per site that has a record: each image present or missing, its digest.
    mirror_status: MirrorStatus | None = None
    pages: tuple[str, ...] = field(default=())  # sites to give a page (default: all)
    # Every site of the fleet with its profile, when only some are reported: an upgrade's waves span them all.
    fleet_sites: tuple[tuple[Site, str | None], ...] = ()


def site_page(name: str) -> str:
    return f"sites/{name}.html"


def _page(title: str, header: str, nav: str, body: str, generated: str) -> str:
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">', GENERATOR,
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">', f"<title>{esc(title)}</title>", f"<style>\n{CSS}\n</style>", "</head>",
        "<body>", f'<header class="top">{header}<nav>{nav}</nav></header>', "<main>", body,
        f'<p class="{GENERATED_CLASS}">{esc(generated)}</p>', "</main>", "</body>", "</html>", ""])


def _index(inputs: ReportInput, facts: list[SiteFacts], per_site: dict[str, list[Finding]],
           upgrades: dict[str, SiteUpgrade]) -> str:
    repository = web_repository(inputs.settings)
    links = {f.name: site_page(f.name) for f in facts}
    stale = (f'<p class="sev-line"><span class="sev error">{inputs.stale} rendered file(s) stale</span> run '
             "<code>beskar render</code></p>") if inputs.stale else ""
    body = "\n".join([
        '<section id="fleet">', "<h2>Sites and services</h2>",
        "<p>Each cell: the chart ref and the image tag the site runs. <span class=\"legend differs\">Highlighted"
        "</span> where the site differs from the other sites of its profile (hover for theirs).</p>",
        _upgrade_note(upgrades), matrix_html(facts, per_site, links, upgrades), stale, "</section>",
        '<section id="findings">', f"<h2>Findings ({summary(list(inputs.findings))})</h2>",
        findings_table(list(inputs.findings), repository, with_site=True), "</section>"])
    header = f"<h1>{esc(inputs.fleet_name)}</h1><span>{len(facts)} site(s)</span>"
    nav = '<a href="#fleet">sites and services</a><a href="#findings">findings</a>'
    return _page(f"{inputs.fleet_name}: the fleet", header, nav, body, inputs.generated_at)


def _upgrade_note(upgrades: dict[str, SiteUpgrade]) -> str:
    moving = [u for u in upgrades.values() if u.in_flight]
    if not moving:
        return ""
    targets = ", ".join(sorted({u.target for u in moving}))
    return (f'<p class="upgrade-note">Upgrade to {esc(targets)} in flight (<code>beskar upgrade status</code>): '
            "the release column shows the stage each site carried last and its wave; <span class=\"legend carried\">"
            "marked</span> the services whose images that site's carried stages moved to the target.</p>")


def _upgrade_line(upgrade: SiteUpgrade | None) -> str:
    if upgrade is None:
        return ""
    following = (f" Next: <code>{esc(upgrade.next_stage)}</code> (<code>beskar upgrade next --site {esc(upgrade.site)}"
                 "</code>)." if upgrade.in_flight and upgrade.next_stage else "")
    carried = ", ".join(upgrade.done) or "none yet"
    done = f" Stages carried: {esc(carried)}." if upgrade.in_flight else ""
    refused = "".join(f' <span class="sev error">refused: {esc(why)}</span>' for why in upgrade.refusals)
    return (f'<p class="upgrade" data-stage="{esc(upgrade.stage or "")}" data-wave="{upgrade.wave}">'
            f"Upgrade {esc(upgrade.summary())}.{done}{following}{refused}</p>")


def _site(inputs: ReportInput, entry: SiteInput, facts: SiteFacts, findings: list[Finding],
          upgrade: SiteUpgrade | None = None) -> str:
    site = entry.site
    repository = web_repository(inputs.settings)
    marks = site_marks(findings, facts, entry.layered)
    mirror = site.mirror.registry if site.mirror else None
    layout = site.mirror.layout if site.mirror else "flat"
    status = inputs.mirror_status.get(site.name) if inputs.mirror_status is not None else None
    facts_line = "".join(f"<span>{esc(label)}: <b>{esc(value)}</b></span>" for label, value in [
        ("profile", site.profile or "-"), ("release", f"{site.openstack.release} ({site.openstack.distro})"),
        ("region", site.region), ("domain", site.domain), ("nodes", len(site.nodes)),
        ("releases", len(facts.releases)), ("mirror", mirror or "none")])
    body = "\n".join([
        f'<p class="facts">{facts_line}</p>', _upgrade_line(upgrade), f"<p>Check: {summary(findings)}</p>",
        '<section id="wiring">', "<h2>Wiring</h2>",
        f"<figure>{wiring_svg(site, facts.links, marks)}<figcaption>Racks and nodes (colour by first role), NICs at "
        "the bottom of each node, bonds, VLAN interfaces and bridges above; every link labelled with its MTU (red: "
        "more than the device below carries); each network's line over the rack. Marked red: elements a finding "
        "is about (hover for it).</figcaption></figure>", "</section>",
        '<section id="deployment">', "<h2>Deployment</h2>",
        f"<figure>{deployment_svg(facts, marks, upgrade)}<figcaption>One band per Flux Kustomization, top to bottom in the order "
        "Flux applies them; an arrow leads from a HelmRelease to those that wait for it (<code>dependsOn</code>), dashed "
        "across layers. Each box: chart ref and image tag (without the site's distro). Marked red: releases with findings"
        + ("; blue: releases the upgrade's carried stages moved to the target's images" if upgrade and upgrade.in_flight
           else "") + ".</figcaption></figure>",
        "</section>",
        '<section id="findings">', f"<h2>Findings ({summary(findings)})</h2>", findings_table(findings, repository),
        "</section>",
        '<section id="images">', "<h2>Images</h2>", images_table(facts, mirror, layout, status,
                                                      inputs.catalog.image_knowledge.tag_is_mutable), "</section>"])
    header = (f'<h1>{esc(site.name)}</h1><a href="../{INDEX}">&#8592; {esc(inputs.fleet_name)}</a>')
    nav = ('<a href="#wiring">wiring</a><a href="#deployment">deployment</a><a href="#findings">findings</a>'
           '<a href="#images">images</a>')
    return _page(f"{site.name}: {inputs.fleet_name}", header, nav, body, inputs.generated_at)


def build_report(inputs: ReportInput) -> dict[str, str]:
    """Every page of the report, by its path relative to the output directory. Pure: same input, same pages."""
    entries = sorted(inputs.sites, key=lambda e: e.site.name)
    facts = [site_facts(e.site, e.rendered, inputs.catalog) for e in entries]
    per_site = {f.name: findings_of_site(inputs.findings, f, e.layered) for f, e in zip(facts, entries)}
    fleet = inputs.fleet_sites or tuple((e.site, e.layered.profile) for e in entries)
    upgrades = site_upgrades(fleet, inputs.catalog, (inputs.settings.get("upgrade") or {}).get("waves"))
    upgrades = {name: upgrade for name, upgrade in upgrades.items() if name in {f.name for f in facts}}
    pages = {INDEX: _index(inputs, facts, per_site, upgrades)}
    wanted = set(inputs.pages) or {f.name for f in facts}
    for entry, site_facts_ in zip(entries, facts):
        if site_facts_.name in wanted:
            pages[site_page(site_facts_.name)] = _site(inputs, entry, site_facts_, per_site[site_facts_.name],
                                                           upgrades.get(site_facts_.name))
    return dict(sorted(pages.items()))
