"""A site's deployment graph as SVG: one column per Flux Kustomization, its HelmReleases ranked by dependsOn."""

from __future__ import annotations

from beskar.report.facts import FluxLayer, Release, SiteFacts
from beskar.report.layout import Layout, layered
from beskar.report.marks import Marks
from beskar.report.svg import document, esc, polyline, rect, text, text_width, title
from beskar.report.upgrades import SiteUpgrade
from beskar.report.wiring import BAD

NODE_W = 156.0
NODE_H = 40.0
PAD = 14.0
HEAD = 30.0  # the layer's name and directory, over its releases
GAP = 26.0
MARGIN = 16.0
DEFS = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>')


def box_width(release: Release) -> float:
    """Wide enough for the release's name in bold (a long name would run over the box's edges)."""
    return max(NODE_W, text_width(release.name, 12) * 1.12 + 16)


def _release_box(release: Release, x: float, y: float, marks: Marks, distro: str,
                 upgrade: SiteUpgrade | None) -> list[str]:
    found = marks.releases.get(release.name, [])
    carried = upgrade.carried_by(release.chart) if upgrade is not None and upgrade.in_flight else ()
    box_w = box_width(release)
    tag = release.image_tag or "chart's images"
    short = tag.removesuffix(f"-{distro}") or tag
    tooltip = (f"HelmRelease {release.namespace}/{release.name}\nchart {release.chart} at {release.chart_ref}\n"
               f"images: {tag}\nwaits for: {', '.join(release.depends_on) or 'nothing'}\n{release.file}")
    tooltip += "".join(f"\n{f.severity.value}: {f.rule}: {f.message}" for f in found)
    if carried and upgrade is not None:
        tooltip += f"\nmoved to {upgrade.target}'s images by stage {', '.join(carried)} of the upgrade"
    classes = "release carried" if carried else "release"
    fill = "#fff5f5" if found else "#ddf4ff" if carried else "#fff"
    parts = [f'<g class="{classes}" data-release="{esc(release.name)}">', title(tooltip),
             rect(x, y, box_w, NODE_H, rx=5.0, fill=fill, stroke=BAD if found else "#4a6fa5",
                  stroke_width=2.5 if found else 1.2),
             text(x + box_w / 2, y + 16, release.name, font_size=12, font_weight="bold", text_anchor="middle"),
             text(x + box_w / 2, y + 31, f"{release.chart_ref} · {short}"[:30], font_size=9.5, fill="#444",
                  text_anchor="middle")]
    if found:
        parts.append(text(x + box_w - 10, y + 14, "!", font_size=14, font_weight="bold", fill=BAD,
                          text_anchor="middle"))
    parts.append("</g>")
    return parts


def _layout(layer: FluxLayer, releases: dict[str, Release]) -> Layout:
    names = [name for name in layer.releases if name in releases]
    edges = tuple((dependency, name) for name in names for dependency in releases[name].depends_on
                  if dependency in layer.releases)
    return layered(tuple((name, box_width(releases[name]), NODE_H) for name in names), edges)


def deployment_svg(facts: SiteFacts, marks: Marks, upgrade: SiteUpgrade | None = None) -> str:
    """A row per layer, top to bottom in the order Flux applies them; in each, the HelmReleases ranked by dependsOn
    (an arrow leads from a release to those that wait for it)."""
    releases = {r.name: r for r in facts.releases}
    layouts = [(layer, _layout(layer, releases)) for layer in facts.layers]
    width = max([NODE_W * 2] + [layout.width for _, layout in layouts]) + 2 * PAD
    body: list[str] = [DEFS]
    where: dict[str, tuple[float, float]] = {}  # release -> top-left of its box in the picture
    rows: dict[str, tuple[float, float]] = {}  # layer -> (top, height)
    y = MARGIN
    for layer, layout in layouts:
        height = HEAD + max(layout.height, NODE_H * 0.5) + 2 * PAD
        rows[layer.name] = (y, height)
        for name, box in layout.boxes.items():
            where[name] = (MARGIN + PAD + box.x, y + HEAD + PAD + box.y)
        y += height + GAP
    total_height = y - GAP + MARGIN
    total_width = width + 2 * MARGIN
    for layer, layout in layouts:
        top, height = rows[layer.name]
        found = marks.layers.get(layer.name, [])
        tooltip = f"Flux Kustomization {layer.name}\npath ./{layer.directory}\nafter: {', '.join(layer.depends_on) or '-'}"
        tooltip += "".join(f"\n{f.severity.value}: {f.rule}: {f.message}" for f in found)
        body += [f'<g class="layer" data-layer="{esc(layer.name)}">', title(tooltip),
                 rect(MARGIN, top, width, height, rx=8.0, fill="#f4f7fb", stroke=BAD if found else "#9fb3cc",
                      stroke_width=2.5 if found else 1.0),
                 text(MARGIN + PAD, top + 22, layer.name, font_size=13, font_weight="bold"),
                 text(MARGIN + PAD + text_width(layer.name, 13) * 1.12 + 12, top + 22,
                      f"Flux Kustomization, path ./{layer.directory}", font_size=10.5, fill="#555")]
        if not layout.boxes:
            body.append(text(MARGIN + PAD, top + HEAD + 16, "no HelmRelease: namespaces and sources",
                             font_size=11, fill="#777"))
        body.append("</g>")
        for dependency in layer.depends_on:
            if dependency in rows:
                d_top, d_height = rows[dependency]
                body.append(polyline(((MARGIN + width - 30, d_top + d_height), (MARGIN + width - 30, top)), fill="none",
                                     stroke="#555", stroke_width=1.5, marker_end="url(#arrow)", class_="after"))
        ox, oy = MARGIN + PAD, top + HEAD + PAD
        for route in layout.routes:
            body.append(polyline(tuple((px + ox, py + oy) for px, py in route.points), fill="none", stroke="#555",
                                 stroke_width=1.2, marker_end="url(#arrow)", class_="depends-on"))
    # dependsOn across layers: Flux waits for those too; dashed, from the bottom of one box to the top of the other.
    for release in facts.releases:
        for dependency in release.depends_on:
            if dependency in where and release.name in where and releases[dependency].layer != release.layer:
                (sx, sy), (tx, ty) = where[dependency], where[release.name]
                sw, tw = box_width(releases[dependency]), box_width(release)
                body.append(polyline(((sx + sw / 2, sy + NODE_H), (tx + tw / 2, ty)), fill="none",
                                     stroke="#777", stroke_width=1.2, stroke_dasharray="5 4",
                                     marker_end="url(#arrow)", class_="depends-on cross"))
    for release in facts.releases:
        if release.name in where:
            body += _release_box(release, *where[release.name], marks, facts.distro, upgrade)
    return document(total_width, total_height, body, f"deployment graph of {facts.name}", "deployment")
