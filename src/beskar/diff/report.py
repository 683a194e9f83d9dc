"""A fleet diff as data (the stable JSON schema of docs/diff-json.md) and as a merge-request note (markdown)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Iterator

from beskar.diff.changes import (Change, FieldChange, FleetDiff, ImageChange, ImageVersion, SiteDiff, Status,
                                 TextChange, ValueChange)
from beskar.diff.images import subject, workloads
from beskar.problems import Origin

SCHEMA = "beskar.diff/v1"
NOTE_LINES = 12  # per object or file in a merge-request note
SUMMARY_RESTARTS = 3  # workloads named in the summary table
IMAGE_WORKLOADS = 3  # workloads named per image
DIGEST_SHOWN = 12  # hex digits of a digest in a note or on a terminal (the JSON output has all of it)
SIGN = {Change.ADDED: "+", Change.CHANGED: "~", Change.REMOVED: "-"}


def _origin(origin: Origin | None) -> dict[str, Any] | None:
    if origin is None:
        return None
    return {"file": origin.file, "line": origin.line, "column": origin.column, "layer": origin.layer}


def _field(change: FieldChange) -> dict[str, Any]:
    return {"path": change.path, "change": change.change.value, "old": change.old, "new": change.new,
            "secret": change.secret}


def _text(change: TextChange) -> dict[str, Any]:
    return {"path": change.path, "format": change.format, "lines": list(change.lines)}


def _counts(items: Any) -> dict[str, int]:
    counted = Counter(item.change for item in items)
    return {change.value: counted.get(change, 0) for change in Change}


def summary(site: SiteDiff) -> dict[str, Any]:
    return {
        "site": site.site, "status": site.status.value, "objects": _counts(site.objects), "files": _counts(site.files),
        "model_changes": len(site.model), "images": _counts(site.images),
        "restarts": [{"subject": f.subject, "nodes": f.nodes} for f in site.restarts],
        "flags": dict(sorted(Counter(f.risk.value for f in site.flags).items())),
    }


def as_json(diff: FleetDiff) -> dict[str, Any]:
    """The documented schema (docs/diff-json.md); fields are only ever added within a schema version."""
    return {
        "schema": SCHEMA,
        "base": {"revision": diff.base.name, "commit": diff.base.commit},
        "head": {"revision": diff.head.name, "commit": diff.head.commit},
        "different": diff.different,
        "failed": diff.failed,
        "summary": [summary(s) for s in diff.sites],
        "sites": [_site_json(s) for s in diff.sites],
    }


def _site_json(site: SiteDiff) -> dict[str, Any]:
    return {
        "site": site.site, "status": site.status.value, "built": site.built,
        "failures": [{"side": f.side.value, "message": f.message, "place": f.place, "release": f.release}
                     for f in site.failures],
        "model": [{"path": v.path, "change": v.change.value, "old": v.old, "new": v.new,
                   "base": _origin(v.base), "head": _origin(v.head)} for v in site.model],
        "files": [{"path": f.path, "area": f.area.value, "change": f.change.value,
                   "fields": [_field(c) for c in f.fields], "texts": [_text(t) for t in f.texts]} for f in site.files],
        "objects": [{"layer": o.layer, "release": o.release, "kind": o.key.kind, "namespace": o.key.namespace,
                     "name": o.key.name, "change": o.change.value, "fields": [_field(c) for c in o.fields],
                     "texts": [_text(t) for t in o.texts], "folded": o.folded} for o in site.objects],
        "flags": [{"risk": f.risk.value, "subject": f.subject, "release": f.release, "message": f.message,
                   "nodes": f.nodes} for f in site.flags],
        "images": [_image(i) for i in site.images],
    }


def _version(version: ImageVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {"reference": version.reference, "upstream": version.upstream, "mirrored": version.mirrored,
            "tag": version.tag, "digest": version.digest, "pinned": version.pinned, "mutable": version.mutable}


def _image(change: ImageChange) -> dict[str, Any]:
    return {"change": change.change.value, "repository": change.repository,
            "old": _version(change.old), "new": _version(change.new), "workloads": workloads(change),
            "uses": [{"release": u.release, "subject": subject(u), "where": u.where, "source": u.source.value}
                     for u in change.uses]}


def version_text(version: ImageVersion | None) -> str:
    """`2025.1-ubuntu_noble@sha256:0123456789ab`: the tag and the digest, `(lock)` when only the lock has it."""
    if version is None:
        return "–"
    text = version.tag if version.tag is not None else "(chart default tag)"
    if version.digest:
        text += f"@{version.digest[:len('sha256:') + DIGEST_SHOWN]}" + ("" if version.pinned else " (lock)")
    return text


def pulled_by(change: ImageChange) -> str:
    """The first workloads that pull the image, and how many more."""
    names = workloads(change)
    text = ", ".join(names[:IMAGE_WORKLOADS])
    return text + (f" and {len(names) - IMAGE_WORKLOADS} more" if len(names) > IMAGE_WORKLOADS else "")


def image_line(change: ImageChange) -> str:
    """`quay.io/airshipit/nova: 2025.1-ubuntu_noble -> 2025.2-ubuntu_noble, pulled by Deployment openstack/…`."""
    if change.change is Change.ADDED:
        moved = f"added {version_text(change.new)}"
    elif change.change is Change.REMOVED:
        moved = f"removed (was {version_text(change.old)})"
    else:
        moved = f"{version_text(change.old)} -> {version_text(change.new)}"
    return f"{change.repository}{_unmirrored(change)}: {moved}, pulled by {pulled_by(change)}"


def _unmirrored(change: ImageChange) -> str:
    version = change.new or change.old
    return "" if version is None or version.mirrored else " (not from the mirror)"


def shown(value: Any, width: int = 100) -> str:
    """A value on one line: JSON, shortened in the middle when it is long."""
    if value is None:
        return "∅"
    text = json.dumps(value, sort_keys=False, default=str, ensure_ascii=False)
    return text if len(text) <= width else text[:width // 2 - 2] + " … " + text[-(width // 2 - 2):]


def _place(origin: Origin | None) -> str:
    return f"{origin.file}:{origin.line} ({origin.layer})" if origin else "default"


def _moved(change: ValueChange) -> bool:
    """Another line set the value in the head revision than in the base (a column alone is no move)."""
    return _place(change.base) != _place(change.head)


def value_line(change: ValueChange) -> str:
    """`openstack.nova.cpu_allocation_ratio: 3.0 -> 2.5, sites/prod-brno/site.yaml:44 (site:prod-brno)`."""
    if change.change is Change.ADDED:
        return f"{change.path}: added {shown(change.new)}, {_place(change.head)}"
    if change.change is Change.REMOVED:
        return f"{change.path}: removed (was {shown(change.old)}, {_place(change.base)})"
    where = _place(change.head)
    if _moved(change):
        where += f"; was {_place(change.base)}"
    return f"{change.path}: {shown(change.old)} -> {shown(change.new)}, {where}"


def field_line(change: FieldChange) -> str:
    if change.secret:
        if change.change is Change.CHANGED:
            return f"{change.path}: changed (secret, {change.old} -> {change.new})"
        return f"{change.path}: {change.change.value} (secret)"
    if change.change is Change.ADDED:
        return f"{change.path}: added {shown(change.new)}"
    if change.change is Change.REMOVED:
        return f"{change.path}: removed (was {shown(change.old)})"
    return f"{change.path}: {shown(change.old)} -> {shown(change.new)}"


def detail_lines(fields: tuple[FieldChange, ...], texts: tuple[TextChange, ...]) -> Iterator[str]:
    """The body of one object's or file's change: fields, then each file inside by line."""
    for change in fields:
        yield field_line(change)
    for text in texts:
        yield f"{text.path} ({text.format}):"
        yield from (f"  {line}" for line in text.lines)


def headline(site: SiteDiff) -> str:
    if site.status is Status.FAILED:
        return "failed: " + "; ".join(sorted({f"{f.side.value} does not build" for f in site.failures}))
    if site.status is Status.UNCHANGED:
        return "no change"
    parts = []
    objects = _counts(site.objects)
    for change in Change:
        if objects[change.value]:
            parts.append(f"{objects[change.value]} object(s) {change.value}")
    files = len(site.files)
    if files:
        parts.append(f"{files} file(s)")
    if site.images:
        parts.append(f"{len(site.images)} image(s)")
    if site.restarts:
        parts.append(f"{len(site.restarts)} workload(s) restart")
    others = len(site.flags) - len(site.restarts)
    if others:
        parts.append(f"{others} other flag(s)")
    return f"{site.status.value}: " + (", ".join(parts) if parts else f"{len(site.model)} model value(s)")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _site_markdown(site: SiteDiff) -> list[str]:
    lines = [f"<details><summary><b>{_md(site.site)}</b>: {_md(headline(site))}</summary>", ""]
    if site.failures:
        lines.append("**Failures** (a revision that does not build is not diffed: nothing is reported removed)")
        lines.append("")
        for failure in site.failures:
            where = f" at {_code(failure.place)}" if failure.place else ""
            release = f" release {_code(failure.release)}" if failure.release else ""
            lines.append(f"- {failure.side.value}{release}{where}: {_md(failure.message)}")
        lines.append("")
    if site.flags:
        lines.append("**Risks**")
        lines.append("")
        for flag in site.flags:
            lines.append(f"- **{flag.risk.value}** {_code(flag.subject)}: {_md(flag.message)}")
        lines.append("")
    if site.model:
        lines += ["**Model** (the input values that changed, and the line that set each)", "",
                  "| value | old | new | set by |", "|---|---|---|---|"]
        for value in site.model:
            where = _place(value.head if value.change is not Change.REMOVED else value.base)
            if value.change is Change.CHANGED and _moved(value):
                where += f" (was {_place(value.base)})"
            lines.append(f"| {_code(value.path)} | {_md(shown(value.old, 60))} | {_md(shown(value.new, 60))} "
                         f"| {_md(where)} |")
        lines.append("")
    if site.images:
        lines += ["**Images** (the upstream image each reference stands for, its tag and digest, and who pulls it)",
                  "", "| | image | old | new | pulled by |", "|---|---|---|---|---|"]
        for image in site.images:
            lines.append(f"| {SIGN[image.change]} | {_code(image.repository)}{_unmirrored(image)} "
                         f"| {_md(version_text(image.old))} | {_md(version_text(image.new))} "
                         f"| {_md(pulled_by(image))} |")
        lines.append("")
    if site.objects:
        lines += ["**Objects**" + (" (built)" if site.built else " (rendered Flux objects)"), ""]
        for change in site.objects:
            owner = f"{change.layer}/{change.release}" if change.release else change.layer
            folded = f" ({change.folded} chart label change(s) folded)" if change.folded else ""
            lines.append(f"- {SIGN[change.change]} {_code(str(change.key))} in {_code(owner)}{folded}")
            lines += _fenced(list(detail_lines(change.fields, change.texts)))
        lines.append("")
    if site.files:
        lines += ["**Rendered files**", ""]
        for change in site.files:
            lines.append(f"- {SIGN[change.change]} {_code(change.path)} ({change.area.value})")
            lines += _fenced(list(detail_lines(change.fields, change.texts)))
        lines.append("")
    lines += ["</details>", ""]
    return lines


def _fenced(body: list[str]) -> list[str]:
    """A change's lines as a code block, the first NOTE_LINES of them (the JSON output has every line)."""
    if not body:
        return []
    shown_lines = body[:NOTE_LINES]
    if len(body) > NOTE_LINES:
        shown_lines.append(f"… {len(body) - NOTE_LINES} more line(s) (`--format json` has them all)")
    return ["  ```diff", *(f"  {line}" for line in shown_lines), "  ```"]


def as_markdown(diff: FleetDiff, limit_bytes: int | None = None) -> str:
    """A merge-request note: a summary table, then one <details> block per changed site; at most `limit_bytes`,
    with a line saying what was left out."""
    head = [f"### beskar diff: {_md(diff.base.name)} {_short(diff.base.commit)}→ {_md(diff.head.name)} "
            f"{_short(diff.head.commit)}".rstrip(), ""]
    changed = [s for s in diff.sites if s.status is not Status.UNCHANGED]
    if not changed:
        head.append(f"No site changes ({len(diff.sites)} site(s) compared).")
        return "\n".join(head) + "\n"
    head += ["| site | status | objects + / ~ / - | files + / ~ / - | images + / ~ / - | restarts | flags |",
             "|---|---|---|---|---|---|---|"]
    for site in diff.sites:
        counts = summary(site)
        objects = " / ".join(str(counts["objects"][c.value]) for c in Change)
        files = " / ".join(str(counts["files"][c.value]) for c in Change)
        images = " / ".join(str(counts["images"][c.value]) for c in Change)
        restarts = ", ".join(f"{_md(f.subject)}" + (f" ({f.nodes} node(s))" if f.nodes is not None else "")
                             for f in site.restarts[:SUMMARY_RESTARTS]) or "–"
        if len(site.restarts) > SUMMARY_RESTARTS:
            restarts += f" and {len(site.restarts) - SUMMARY_RESTARTS} more"
        flags = ", ".join(f"{risk} {count}" for risk, count in counts["flags"].items() if risk != "restart") or "–"
        head.append(f"| {_md(site.site)} | {site.status.value} | {objects} | {files} | {images} | {restarts} "
                    f"| {flags} |")
    head.append("")
    lines = list(head)
    for site in changed:
        lines += _site_markdown(site)
    text = "\n".join(lines) + "\n"
    if limit_bytes is None or len(text.encode()) <= limit_bytes:
        return text
    return _truncated(head, changed, limit_bytes, len(text.encode()))


def _truncated(head: list[str], sites: list[SiteDiff], limit: int, total: int) -> str:
    reserve = 300
    kept: list[str] = list(head)
    size = len("\n".join(kept).encode())
    fence = details = False
    for site in sites:
        for line in _site_markdown(site):
            if size + len(line.encode()) + 1 > limit - reserve:
                break
            kept.append(line)
            size += len(line.encode()) + 1
            fence ^= line.strip().startswith("```")
            details = line.startswith("<details>") or (details and line != "</details>")
        else:
            continue
        break
    if fence:
        kept.append("  ```")
    if details:
        kept.append("</details>")
    left = total - len("\n".join(kept).encode())
    kept += ["", f"**truncated**: {left} more bytes of this diff were left out (limit {limit} bytes); "
                 "run `beskar diff` for all of it.", ""]
    return "\n".join(kept)


def _short(commit: str) -> str:
    return f"({commit[:8]}) " if commit else ""
