"""A site's images: what its HelmReleases pin, joined with what `beskar images verify` last found in the mirror."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Callable, Mapping

from beskar.fleet.image_record import Presence, VerifyRecord
from beskar.render.images import split_image, tag_of, upstream_image
from beskar.report.facts import SiteFacts
from beskar.report.svg import esc

# site -> what verify recorded for it (sites without a record are not verified)
MirrorStatus = Mapping[str, VerifyRecord]


class Origin(StrEnum):
    VALUES = "values"  # a HelmRelease's values name the image and its tag
    CHART_TAG = "chart tag"  # the values name the repository only; the chart adds its tag
    CHART = "chart"  # no value names it: the chart's default, known from what verify found in the built objects


_ORIGIN_HINTS = {Origin.CHART_TAG: "the values name the repository; the chart picks the tag",
                 Origin.CHART: "the chart's default: no value names it"}


@dataclass(frozen=True)
class ImageRow:
    image: str
    users: tuple[str, ...]  # release:values-key, or the release alone for what only the build names
    origin: Origin


def _name(image: str) -> str:
    """The repository of a reference: without digest and tag."""
    name, _, tag = image.partition("@")[0].rpartition(":")
    return image.partition("@")[0] if not name or "/" in tag else name


def image_rows(facts: SiteFacts, record: VerifyRecord | None) -> list[ImageRow]:
    """Every image of the site: those its HelmReleases pin and, once verified, those their charts add by default.

    A pin without a tag (`repository` only, the chart picks the tag) becomes the images verify found under it."""
    pinned: dict[str, set[str]] = {}
    for release in facts.releases:
        for use in release.images:
            pinned.setdefault(use.image, set()).add(f"{release.name}:{use.path.rsplit('.', 1)[-1]}")
    recorded = dict(record.images) if record else {}
    by_plain = {image.partition("@")[0]: image for image in recorded}
    rows: dict[str, tuple[set[str], Origin]] = {}
    for image, users in pinned.items():
        if image.endswith(":"):  # repository only: the chart's own tag
            resolved = [r for r in recorded if _name(r) == image[:-1]]
        else:
            match = image if image in recorded else by_plain.get(image.partition("@")[0])
            resolved = [match] if match else []
        origin = Origin.CHART_TAG if image.endswith(":") else Origin.VALUES
        for key in resolved or [image]:
            rows.setdefault(key, (set(), origin))[0].update(users)
    for image, found in recorded.items():
        rows.setdefault(image, (set(found.releases), Origin.CHART))
    return [ImageRow(image, tuple(sorted(users)), origin) for image, (users, origin) in sorted(rows.items())]


def _upstream(image: str, mirror: str | None, layout: str) -> str | None:
    if image.endswith(":"):  # no tag yet: the repository's upstream, without the `latest` a lookup would assume
        found = upstream_image(image + "_", mirror, layout)
        return found.removesuffix(":_") if found else None
    return upstream_image(image, mirror, layout)


def _note(record: VerifyRecord | None, mirror: str | None) -> str:
    if record is None:
        return ('<p class="note">Mirror status: not verified. <code>beskar images verify</code> records whether each '
                "image is in the mirror (<code>sites/&lt;site&gt;/images.verified.yaml</code>); the report shows it "
                "here once it has run.</p>")
    counts = {p: sum(1 for f in record.images.values() if f.presence is p) for p in Presence}
    when = max((f.checked for f in record.images.values()), default="")
    stale = (f' <span class="sev warning">recorded for mirror {esc(record.mirror)}; the site now uses '
             f"{esc(mirror or 'none')}</span>" if record.mirror != mirror else "")
    shown = ", ".join(f"{n} {p.value}" for p, n in counts.items() if n) or "no image"
    when = when.replace("T", " ").replace("Z", " UTC")
    return (f'<p class="verified">Mirror status from <code>beskar images verify</code> at {esc(when)} '
            f"(<code>{esc(record.file)}</code>): {esc(shown)}. Missing images first; <i>not pulled</i>: the values "
            f"name it, but no object of the site's build uses it (a disabled job, a chart's test).{stale}</p>")


def images_table(facts: SiteFacts, mirror: str | None, layout: str, record: VerifyRecord | None,
                 mutable: Callable[[str], bool]) -> str:
    """`mutable`: whether a reference may point at other content tomorrow (the catalog's rule, as `beskar images`)."""
    rows = image_rows(facts, record)
    if record is not None:  # what needs doing first: the images the mirror lacks
        order = {Presence.MISSING: 0, Presence.NOT_MIRRORED: 1, Presence.PRESENT: 2}
        rows.sort(key=lambda row: order[record.images[row.image].presence] if row.image in record.images else 3)
    if not rows:
        return "<p>The site's HelmReleases pin no image; their charts' defaults apply.</p>"
    lines = []
    for row in rows:
        found = record.images.get(row.image) if record else None
        registry, _, _ = split_image(row.image)
        tag = tag_of(row.image)
        shown_tag = tag or "the chart's"
        shown = row.image.removesuffix(":")  # a repository-only pin: no tag to show
        moves = not row.image.endswith(":") and mutable(row.image)  # a repository alone: the chart's tag, unknown
        upstream = (found.upstream if found and found.upstream else
                    _upstream(row.image, mirror, layout) if mirror else None)
        state = found.presence.value if found else ("not verified" if record is None else "not pulled")
        digest = f'<br><code class="digest">{esc(found.digest)}</code>' if found and found.digest else ""
        when = (f' title="looked at {esc(found.checked)}"' if found else
                ' title="not in what verify found the built objects pull: unused by the chart, or the fleet changed '
                'since verify ran"' if record is not None else "")
        origin = (f'<div class="hint">upstream {esc(upstream)}</div>' if upstream else
                  f'<div class="hint">registry {esc(registry)}, not through the mirror</div>' if mirror else "")
        if row.origin in _ORIGIN_HINTS:
            origin += f'<div class="hint">{esc(_ORIGIN_HINTS[row.origin])}</div>'
        flag = ' <span class="sev warning">mutable</span>' if moves else ""
        lines.append(f'<tr class="image" data-image="{esc(row.image)}"><td><code>{esc(shown)}</code>{origin}</td>'
                     f"<td>{esc(shown_tag)}{flag}</td>"
                     f'<td class="mirror {esc(state.replace(" ", "-"))}"{when}>{esc(state)}{digest}</td>'
                     f'<td class="users">{esc(", ".join(row.users))}</td></tr>')
    return (_note(record, mirror) + '<table class="images">\n<thead><tr><th>image</th><th>tag</th><th>mirror</th>'
            '<th>used by</th></tr></thead>\n<tbody>\n' + "\n".join(lines) + "\n</tbody>\n</table>")
