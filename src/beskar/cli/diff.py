"""`beskar diff`: what a merge request does to each cloud, object by object, with the input line that caused it."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterable, Optional

import typer
from rich.markup import escape

from beskar.cli.build import ChartSourceOption, JobsOption, chart_overrides
from beskar.cli.output import FleetOption, SiteOption, out, run

if TYPE_CHECKING:
    from beskar.diff import FleetDiff, SiteDiff

app = typer.Typer()


class DiffFormat(StrEnum):
    RICH = "rich"
    MARKDOWN = "markdown"
    JSON = "json"


_STYLE = {"added": "green", "changed": "yellow", "removed": "red"}  # by Change value (a StrEnum): see cli/app.py


@app.command(name="diff")
def diff_command(
    base: Annotated[Optional[str], typer.Argument(help="The revision to compare against (default: the merge-base "
                                                       "of HEAD with the default branch, origin's HEAD or main).")] = None,
    head: Annotated[Optional[str], typer.Argument(help="The revision under review (default: the working tree, "
                                                       "uncommitted changes included).")] = None,
    fleet: FleetOption = Path("."),
    site: SiteOption = None,
    release: Annotated[Optional[list[str]], typer.Option("--release", "-r", help="Only this HelmRelease's objects "
                                                                                 "(repeatable).")] = None,
    output_format: Annotated[DiffFormat, typer.Option("--format", "-o", help="rich for the terminal, markdown for a "
                                                      "merge-request note, json for scripts (docs/diff-json.md).")]
    = DiffFormat.RICH,
    limit_bytes: Annotated[Optional[int], typer.Option("--limit-bytes", min=1000, help="Cut the markdown note at "
                                                       "this size, with a line saying so (GitLab notes: 1000000).")]
    = None,
    everything: Annotated[bool, typer.Option("--all", help="Also show the chart version labels every chart bump "
                                                           "rewrites (folded by default).")] = False,
    build: Annotated[bool, typer.Option("--build/--no-build", help="Build every object with the real charts, as "
                                        "`beskar build` does (default), or diff only the rendered Flux objects "
                                        "(HelmReleases, Kustomizations: no chart sources needed).")] = True,
    chart_source: ChartSourceOption = None,
    jobs: JobsOption = None,
) -> None:
    """Show what a change does to each site: the model values that changed with the file:line that set them, the
    rendered files, the images that move (upstream reference, tag and digest, and the workloads that pull them),
    every object added, changed or removed (config files inside ConfigMaps and Secrets line by
    line, secret values only as digests), and risks: pods that restart, Jobs that re-run, pruned objects.

    Both revisions are checked out into temporary git worktrees and compiled with this Beskar; only the sites
    whose model or rendered tree changed are built (renders are cached, see `beskar charts`).
    Exit codes: 0 no differences, 1 differences, 2 unusable input or a revision that does not build.
    """
    from beskar.diff import Side
    from beskar.diff.report import as_json, as_markdown
    from beskar.operations.diff import DiffOptions, diff as diff_revisions
    result = run(lambda: diff_revisions(fleet, base, head, DiffOptions(
        tuple(site or ()), frozenset(release or ()), everything, build, chart_overrides(chart_source), jobs)))
    if output_format is DiffFormat.JSON:
        out.print_json(json.dumps(as_json(result)))
    elif output_format is DiffFormat.MARKDOWN:
        typer.echo(as_markdown(result, limit_bytes), nl=False)
    else:
        _rich(result)
    if any(f.side is Side.HEAD for s in result.sites for f in s.failures):
        raise typer.Exit(2)  # the change breaks a site (a base that did not build is a difference the change fixes)
    if result.different:
        raise typer.Exit(1)


def _rich(result: FleetDiff) -> None:
    from beskar.diff import Change, Status
    from beskar.diff.report import summary
    from rich.table import Table
    base = f"{result.base.name} ({result.base.commit[:8]})" if result.base.commit else result.base.name
    head = f"{result.head.name} ({result.head.commit[:8]})" if result.head.commit else result.head.name
    table = Table(title=escape(f"{base} -> {head}"))
    for column in ("site", "status", "objects + ~ -", "files + ~ -", "images + ~ -", "restarts", "other flags"):
        table.add_column(column)
    for site in result.sites:
        counts = summary(site)
        table.add_row(escape(site.site), site.status.value,
                      " ".join(str(counts["objects"][c.value]) for c in Change),
                      " ".join(str(counts["files"][c.value]) for c in Change),
                      " ".join(str(counts["images"][c.value]) for c in Change),
                      str(len(site.restarts)), str(len(site.flags) - len(site.restarts)))
    out.print(table)
    for site in result.sites:
        if site.status is not Status.UNCHANGED:
            _rich_site(site)


def _rich_site(site: SiteDiff) -> None:
    from beskar.diff.report import SIGN, detail_lines, headline, image_line, value_line
    out.print(f"\n[bold]{escape(site.site)}[/]: {escape(headline(site))}")
    for failure in site.failures:
        where = f" {failure.place}" if failure.place else ""
        out.print(f"  [bold red]{failure.side.value} fails[/]{escape(where)}: {escape(failure.message)}", soft_wrap=True)
    for flag in site.flags:
        out.print(f"  [bold magenta]{flag.risk.value}[/] {escape(flag.subject)}: {escape(flag.message)}",
                  soft_wrap=True)
    if site.model:
        out.print("  [bold]model[/]")
        for value in site.model:
            out.print(f"    [{_STYLE[value.change]}]{escape(value_line(value))}[/]", soft_wrap=True)
    if site.images:
        out.print("  [bold]images[/]")
        for image in site.images:
            out.print(f"    [{_STYLE[image.change]}]{SIGN[image.change]} {escape(image_line(image))}[/]",
                      soft_wrap=True)
    for change in site.objects:
        owner = f"{change.layer}/{change.release}" if change.release else change.layer
        out.print(f"  [{_STYLE[change.change]}]{SIGN[change.change]} {escape(str(change.key))}[/] "
                  f"[dim]{escape(owner)}[/]", soft_wrap=True)
        _rich_detail(detail_lines(change.fields, change.texts))
    for file in site.files:
        out.print(f"  [{_STYLE[file.change]}]{SIGN[file.change]} {escape(file.path)}[/] [dim]{file.area.value}[/]",
                  soft_wrap=True)
        _rich_detail(detail_lines(file.fields, file.texts))


def _rich_detail(lines: Iterable[str]) -> None:
    for line in lines:
        stripped = line.lstrip()
        style = "red" if stripped.startswith("-") else "green" if stripped.startswith("+") else "default"
        out.print(f"      [{style}]{escape(line)}[/]", soft_wrap=True)
