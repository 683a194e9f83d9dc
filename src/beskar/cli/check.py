"""`beskar check`, `beskar lint` and `beskar rules`: findings before merge, as a table, JSON, JUnit or Code Quality."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from beskar.cli.build import ChartSourceOption, JobsOption, chart_overrides
from beskar.cli.output import FleetOption, SiteOption, err, out, remember_format, run

if TYPE_CHECKING:
    from beskar.operations import reviews

app = typer.Typer()


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    JUNIT = "junit"
    GITLAB = "gitlab"


ReportOption = Annotated[ReportFormat, typer.Option(
    "--format", "-o", help="table (grouped by file) for people; json, junit, or gitlab (Code Quality) for CI.",
    callback=remember_format)]
OutputOption = Annotated[Optional[Path], typer.Option(
    "--output", help="Write the --format report to this file (atomically) and print the table as well.")]
ChartsOption = Annotated[Optional[Path], typer.Option(
    "--charts", help="A charts checkout (<chart>/values.yaml) to check values paths against, instead of the "
                     "openstack-helm charts Beskar ships the structure of.")]
DisableOption = Annotated[Optional[list[str]], typer.Option(
    "--disable", "-d", help="Do not run this rule (id or glob, e.g. tree/image-*; repeatable). Also: "
                            "fleet.checks.disable in beskar.yaml, or `# beskar: disable=RULE` in a file.")]

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}  # by Severity value: importing Severity loads the check engine


@app.command()
def check(
    fleet: FleetOption = Path("."),
    site: SiteOption = None,
    output_format: ReportOption = ReportFormat.TABLE,
    output: OutputOption = None,
    charts: ChartsOption = None,
    disable: DisableOption = None,
    build: Annotated[bool, typer.Option("--build", help="Also build every site through the real charts (as "
                                        "`beskar build`) and run the build/* rules over the final objects.")] = False,
    chart_source: ChartSourceOption = None,
    jobs: JobsOption = None,
) -> None:
    """Check a fleet before merging: the typed sites (addresses, MTU, roles, names, consistency), the tree they
    render (schemas, references, layout, secrets, images, values) and that the committed tree is not stale.
    With --build, also the objects Flux would apply: schemas, names, duplicates, images, scheduling, references.

    Exit codes: 0 no error-level finding, 1 at least one, 2 the fleet cannot be read.
    """
    from beskar.operations import review  # the check engine: only here, see cli/app.py
    options = None
    if build:  # operations.build brings Helm's Go runtime (45 MiB): only for --build
        from beskar.operations import build as building
        options = run(lambda: building.BuildOptions(chart_sources=chart_overrides(chart_source), jobs=jobs))
    result = _running(lambda: review.check(fleet, site, charts=charts, disable=disable or [], build=options))
    _present(result, output_format, output, "beskar check")


@app.command()
def lint(
    path: Annotated[Path, typer.Argument(help="The root of a Flux repository (default: current directory).")] =
    Path("."),
    output_format: ReportOption = ReportFormat.TABLE,
    output: OutputOption = None,
    charts: ChartsOption = None,
    mirror: Annotated[Optional[str], typer.Option(
        "--mirror", help="Registry every image must come from, e.g. mirror.example.org/cache.")] = None,
    disable: DisableOption = None,
    kustomize_binary: Annotated[bool, typer.Option(
        "--kustomize-binary", help="Build the directories Flux builds with the real kustomize (kubectl kustomize, "
        "or kustomize on the PATH) instead of Beskar's own model; findings keep Beskar's file:line.")] = False,
) -> None:
    """Check any Flux GitOps repository, hand-written or rendered, with the tree rules.

    Clusters are clusters/<name>/ (else directories with flux-system/gotk-sync.yaml, else the whole
    repository); Beskar follows their Flux Kustomizations, kustomization.yaml files, overlays and patches,
    as Flux would, and reports each problem at its file and line.
    Exit codes: 0 no error-level finding, 1 at least one, 2 the repository cannot be read.
    """
    from beskar.operations import lint as linting  # not review: lint needs no site model, renderer or build
    result = _running(lambda: linting.lint(path, mirror=mirror, charts=charts, disable=disable or [],
                                          kustomize_binary=kustomize_binary))
    _present(result, output_format, output, "beskar lint")


@app.command()
def rules(output_format: ReportOption = ReportFormat.TABLE) -> None:
    """List every rule: id, default severity, what it checks over (model, fleet or tree) and what it demands."""
    from rich.table import Table
    from beskar.check.findings import RULES
    listed = [RULES[r] for r in sorted(RULES)]
    if output_format is not ReportFormat.TABLE:
        out.print_json(json.dumps([{"rule": r.id, "severity": r.severity.value, "scope": r.scope.value,
                                    "summary": r.summary} for r in listed]))
        return
    table = Table(title=f"{len(listed)} rules (disable with fleet.checks.disable or `# beskar: disable=RULE`)")
    for column in ("rule", "severity", "scope", "checks that"):
        table.add_column(column)
    for r in listed:
        table.add_row(r.id, f"[{_STYLE[r.severity.value]}]{r.severity.value}[/]", r.scope.value, escape(r.summary))
    out.print(table)


def _running(operation):
    if err.is_terminal:
        with err.status("checking ..."):
            return run(operation)
    return run(operation)


def _render(result: reviews.Review, output_format: ReportFormat, suite: str) -> str:
    from beskar.check import report
    if output_format is ReportFormat.JUNIT:
        return report.as_junit(result.findings, result.rules, suite)
    if output_format is ReportFormat.GITLAB:
        return report.as_gitlab(result.findings)
    return report.as_json(result.findings)


def _present(result: reviews.Review, output_format: ReportFormat, output: Path | None, suite: str) -> None:
    from beskar.check.findings import Severity
    from beskar.tree import write_file
    if output is not None and output_format is not ReportFormat.TABLE:
        write_file(output, _render(result, output_format, suite).encode("utf-8"))
    if output_format is ReportFormat.TABLE or output is not None:
        _table(result)
    else:
        out.print(_render(result, output_format, suite), end="", markup=False, highlight=False, soft_wrap=True)
    if any(f.severity is Severity.ERROR for f in result.findings):
        raise typer.Exit(1)


def _table(result: reviews.Review) -> None:
    from rich.table import Table
    from beskar.check.findings import Severity
    by_file: dict[str, list] = {}
    for finding in result.findings:
        by_file.setdefault(finding.file or "(fleet)", []).append(finding)
    for file, findings in by_file.items():
        out.print(f"[bold]{escape(file)}[/]")
        grid = Table.grid(padding=(0, 2))
        for _ in range(4):
            grid.add_column()
        grid.columns[0].justify = "right"
        for finding in findings:
            text = escape(finding.message) + (f"\n[dim]hint: {escape(finding.hint)}[/]" if finding.hint else "")
            grid.add_row(str(finding.line or ""), f"[{_STYLE[finding.severity.value]}]{finding.severity.value}[/]",
                         escape(finding.rule), text)
        out.print(grid)
        out.print()
    counts = {s: sum(1 for f in result.findings if f.severity is s) for s in Severity}
    scope = f"{result.objects} objects in {len(result.clusters)} cluster(s)"
    if result.sites:
        scope += f", {len(result.sites)} site model(s)"
        scope += "; rendered tree up to date" if not result.stale else f"; {result.stale} rendered file(s) stale"
    summary = ", ".join(f"{counts[s]} {s.value}{'s' if counts[s] != 1 and s is not Severity.INFO else ''}"
                        for s in Severity)
    style = "bold red" if counts[Severity.ERROR] else "bold green"
    out.print(f"[{style}]{summary}[/] ({scope}, {len(result.rules)} rules)")
