"""`beskar maas`: compare a site's machine plan with MAAS, and bring MAAS to it step by step."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from beskar.cli import steps as shown
from beskar.cli.output import FleetOption, Format, FormatOption, SiteArgument, err, out, run

if TYPE_CHECKING:
    from beskar.clients.maas import MaasError
    from beskar.plan.maas import MaasPlan

app = typer.Typer(
    help="MAAS machines of a site: what `inventory/<site>/maas.yaml` plans against what MAAS has.\n\n"
    "Machines are matched by MAC and hostname; a machine that is not in the plan, or that conflicts with it, "
    "is never touched. MAAS is reached at --url/--key or BESKAR_MAAS_URL/BESKAR_MAAS_KEY "
    "(the API key is consumer:token:secret, as `maas apikey` prints it).",
    no_args_is_help=True,
)

UrlOption = Annotated[Optional[str], typer.Option("--url", help="MAAS URL, e.g. http://maas:5240/MAAS "
                                                                "(default: $BESKAR_MAAS_URL).")]
KeyOption = Annotated[Optional[str], typer.Option("--key", help="MAAS API key consumer:token:secret "
                                                                "(default: $BESKAR_MAAS_KEY).")]


def _fail(failure: MaasError) -> None:
    err.print(f"[bold red]error:[/] {escape(str(failure))}")
    raise typer.Exit(1)


def _plan_json(plan: MaasPlan) -> dict:
    return {
        "steps": [{"machine": s.hostname, "action": s.action.value, "summary": s.summary,
                   "calls": [{"method": c.method, "path": c.path, "op": c.op} for c in s.calls]} for s in plan.steps],
        "in_place": list(plan.in_place),
        "waiting": [{"machine": w.machine, "reason": w.reason} for w in plan.waiting],
        "refused": [{"machine": r.machine, "reason": r.reason} for r in plan.refused],
        "unmanaged": list(plan.unmanaged),
    }


def _show(site: str, plan: MaasPlan) -> None:
    from rich.table import Table
    table = Table(title=f"MAAS plan of {site}: {len(plan.steps)} step(s)")
    for column in ("machine", "action", "what"):
        table.add_column(column)
    for step in plan.steps:
        table.add_row(step.hostname, step.action.value, escape(step.summary))
    out.print(table)
    _show_outcomes(plan)


def _show_outcomes(plan: MaasPlan) -> None:
    if plan.in_place:
        out.print(f"in place: {', '.join(plan.in_place)}")
    for item in plan.waiting:
        out.print(f"waiting:  {item.machine}: {escape(item.reason)}")
    for item in plan.refused:
        out.print(f"[bold red]refused:[/]  {item.machine}: {escape(item.reason)}")
    if plan.unmanaged:
        out.print(f"not in the plan, left alone: {', '.join(plan.unmanaged)}")


@app.command("plan")
def plan_command(
    site: SiteArgument,
    fleet: FleetOption = Path("."),
    url: UrlOption = None,
    key: KeyOption = None,
    observed: Annotated[Optional[Path], typer.Option(
        "--observed", help="Plan against a saved `GET machines/` JSON listing instead of a live MAAS.")] = None,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Show which machines MAAS would enlist, tag, configure and deploy for SITE. Changes nothing.

    Exit codes: 0 plan shown, 1 some machines conflict with the plan (refused) or MAAS failed, 2 unusable input.
    """
    from beskar.clients.maas import MaasError  # the model and the MAAS client: only here, see cli/app.py
    from beskar.operations import baremetal
    try:
        client = None if observed else run(lambda: baremetal.connect(url, key))
        planned = run(lambda: baremetal.plan_site(fleet, site, client, observed))
    except MaasError as failure:
        _fail(failure)
    if output_format is Format.JSON:
        out.print_json(json.dumps(_plan_json(planned.plan)))
    else:
        _show(site, planned.plan)
    if planned.plan.refused:
        raise typer.Exit(1)


@app.command("apply")
def apply_command(
    site: SiteArgument,
    fleet: FleetOption = Path("."),
    url: UrlOption = None,
    key: KeyOption = None,
    secrets: Annotated[Optional[Path], typer.Option(
        "--secrets", help="Decrypted site secrets holding the BMC passwords ('-' reads stdin), e.g. "
                          "`sops -d sites/SITE/secrets.sops.yaml | beskar maas apply SITE --secrets -`.")] = None,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Bring MAAS to SITE's machine plan, step by step, with progress; stop at the first failure.

    Steps whose machine is not in the state they need (e.g. still commissioning) are skipped; run apply
    again later, which plans afresh and resumes. Exit codes: 0 done, 1 a step failed or a machine was
    refused, 2 unusable input.
    """
    from beskar.clients.maas import MaasError
    from beskar.operations import baremetal

    def prepare():
        text = sys.stdin.read() if str(secrets) == "-" else (secrets.read_text() if secrets else "")
        values = baremetal.read_secrets(text, "--secrets") if text else {}
        client = baremetal.connect(url, key)
        return client, values

    try:
        client, values = run(prepare)
        planned = run(lambda: baremetal.plan_site(fleet, site, client))
    except MaasError as failure:
        _fail(failure)
    with shown.progress() as progress:
        outcomes = baremetal.apply_plan(planned, client, values, progress)
    if output_format is Format.JSON:
        out.print_json(json.dumps({
            "site": site, **shown.tally(outcomes).as_json(),
            "results": [shown.outcome_json(o, machine=o.step.step.hostname, action=o.step.step.action.value)
                        for o in outcomes],
            **{k: v for k, v in _plan_json(planned.plan).items() if k != "steps"}}))
        failed = shown.tally(outcomes).failed
    else:
        failed = shown.show_outcomes(site, outcomes, f"beskar maas apply {site}").failed
        _show_outcomes(planned.plan)
    if planned.plan.refused or failed is not None:
        raise typer.Exit(1)

