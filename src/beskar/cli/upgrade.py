"""`beskar upgrade`: carry an OpenStack release across the fleet, one stage (one merge request) at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from beskar.cli.output import FleetOption, Format, FormatOption, err, out, run

if TYPE_CHECKING:  # the operations load in the command bodies (tests/test_startup.py)
    from beskar.operations import upgrade as upgrading

app = typer.Typer(help="Upgrade OpenStack across the fleet, service by service, site by site: each `start`/`next` "
                       "edits the fleet and the rendered tree for one commit; Flux applies it once merged.",
                  no_args_is_help=True)

ToOption = Annotated[str, typer.Option("--to", help="The target OpenStack release, e.g. 2025.2.")]
OneSite = Annotated[Optional[str], typer.Option("--site", "-s", help="Only this site.")]
StatusOption = Annotated[Optional[Path], typer.Option(
    "--cluster-status", metavar="FILE", help="`kubectl get kustomizations,helmreleases -A -o json` of the site: "
                                             "refuse to go on while the last stage's HelmReleases are not done.")]
LiveOption = Annotated[bool, typer.Option("--live", help="Read the Flux objects from the site's cluster (kubeconfig "
                                                         "context named as the site, or --context).")]
ContextOption = Annotated[Optional[str], typer.Option("--context", metavar="CTX",
                                                      help="The kubeconfig context to read (implies --live).")]
KubeconfigOption = Annotated[Optional[Path], typer.Option("--kubeconfig", metavar="FILE",
                                                          help="The kubeconfig (default: $KUBECONFIG, ~/.kube/config).")]


def _show(result: upgrading.UpgradePlan) -> None:
    out.print(f"[bold]upgrade to {result.target}[/]; waves: "
              + escape(" | ".join(", ".join(wave) for wave in result.waves)))
    for site in result.sites:
        state = "done" if site.complete else ("in flight" if site.in_flight else "not started")
        out.print(f"\n[bold]{site.site}[/] {site.source} -> {site.target} ({state})")
        if site.distro_step:
            out.print(f"  distro step: {site.distro} -> {site.distro_step} first")
        for why in site.refusals:
            out.print(f"  [red]refused:[/] {escape(why)}")
        for finding in site.findings:
            if not finding.blocking:  # the site's own keys are among the refusals above
                out.print(f"  [yellow]note:[/] {escape(f'{finding.file}:{finding.line}: {finding.message}')}")
        for number, stage in enumerate(site.stages, 1):
            mark = "x" if stage.name in site.done else " "
            note = f" [dim]{escape(stage.note)}[/]" if stage.note else ""
            out.print(f"  {escape(f'[{mark}]')} {number:2d}. {stage.name}: {escape(', '.join(stage.charts))}{note}")


@app.command("plan")
def plan_command(to: ToOption, site: OneSite = None, fleet: FleetOption = Path("."),
                 output_format: FormatOption = Format.TABLE) -> None:
    """Preflight findings, then the stages per site and the waves. Never changes a file; exit 1 when refused."""
    from beskar.operations import upgrade as upgrading
    result = run(lambda: upgrading.plan(fleet, to, site))
    if output_format is Format.JSON:
        out.print_json(json.dumps(upgrading.plan_document(result)))
    else:
        _show(result)
    if result.refusals:
        raise typer.Exit(1)


def _moved(moved: upgrading.Moved) -> None:
    what = "finished" if moved.finished else f"stage {moved.stage}"
    out.print(f"{moved.site}: {what}; fleet and rendered tree updated. Suggested commit message:")
    out.print(escape(moved.message), soft_wrap=True, highlight=False)


@app.command()
def start(to: ToOption, fleet: FleetOption = Path(".")) -> None:
    """Record the intent in the fleet and render stage 1 of wave 1. Refused (exit 2) while preflight fails."""
    from beskar.operations import upgrade as upgrading
    _moved(run(lambda: upgrading.start(fleet, to)))


@app.command("next")
def next_command(site: OneSite = None, status: StatusOption = None, live: LiveOption = False,
                 context: ContextOption = None, kubeconfig: KubeconfigOption = None,
                 force: Annotated[bool, typer.Option("--force", help="Go on without reading the cluster status.")] = False,
                 fleet: FleetOption = Path(".")) -> None:
    """Move a site one stage on (the site in flight, else the next wave's first): edits the fleet, renders."""
    from beskar.operations import upgrade as upgrading
    live = live or context is not None
    if force and (status is not None or live):
        err.print("[yellow]warning:[/] --force: the cluster status is not read")
    document = None
    if not force and status is not None:
        document = run(lambda: upgrading.read_status(status))
    elif not force and live:
        document = upgrading.live_status(context, kubeconfig)
    _moved(run(lambda: upgrading.next_stage(fleet, site, document)))


@app.command()
def status(cluster_status: StatusOption = None, live: LiveOption = False, context: ContextOption = None,
           kubeconfig: KubeconfigOption = None, fleet: FleetOption = Path("."),
           output_format: FormatOption = Format.TABLE) -> None:
    """Where each site stands in the upgrade in flight; with --cluster-status or --live, whether its last stage is
    done."""
    from beskar.operations import upgrade as upgrading
    result = run(lambda: upgrading.plan(fleet))
    document = run(lambda: upgrading.read_status(cluster_status)) if cluster_status is not None else None
    if document is None and (live or context is not None):
        document = upgrading.live_status(context, kubeconfig)
    waiting = run(lambda: upgrading.waiting(fleet, result, document)) if document is not None else {}
    if output_format is Format.JSON:
        out.print_json(json.dumps({**upgrading.plan_document(result), "waiting": waiting}))
        return
    _show(result)
    for name, reasons in waiting.items():
        for why in reasons:
            out.print(f"  [yellow]{name} waits:[/] {escape(why)}")


@app.command()
def abort(site: Annotated[str, typer.Option("--site", "-s", help="The site to move back.")],
          fleet: FleetOption = Path(".")) -> None:
    """Revert the site's last stage (a new commit, not a git reset); the upgrade block goes with the first."""
    from beskar.operations import upgrade as upgrading
    _moved(run(lambda: upgrading.abort(fleet, site)))
