"""`beskar entities`: plan, apply and import a site's cloud content (projects, quotas, flavors, networks ...)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape

from beskar.cli import steps as shown
from beskar.cli.output import FleetOption, Format, FormatOption, SiteArgument, err, out, run

if TYPE_CHECKING:
    from beskar.plan.entities import Plan, Step

app = typer.Typer(
    help="Reconcile a site's cloud content with its live cloud: domains, projects (quotas, roles, contacts), "
    "flavors and their host aggregates, the external network, shared networks and routers, default security "
    "group rules and images, as declared under `cloud:` in the site.\n\n"
    "Credentials come from the clouds.yaml entry named by cloud.credentials (default: the site's name). "
    "Beskar marks what it creates and only ever changes or deletes what carries its mark; anything else is "
    "reported as unmanaged. Start with `beskar entities plan SITE`.",
    no_args_is_help=True,
)

CloudOption = Annotated[Optional[str], typer.Option("--cloud", help="Use this clouds.yaml entry instead of the "
                                                    "site's cloud.credentials.")]
PruneOption = Annotated[bool, typer.Option("--prune", help="Also delete what Beskar created and the site no longer "
                                           "declares, and allow replacements (delete and re-create).")]
AdoptOption = Annotated[bool, typer.Option("--adopt", help="Take over declared resources that exist without "
                                           "Beskar's mark (e.g. after `import --include-unmanaged`).")]

def _run(operation):
    """Run an operation: input problems as the other commands show them, an unreadable cloud as one line; exit 2."""
    from beskar.clients.openstack import CloudError

    try:
        return run(operation)
    except CloudError as error:
        err.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(2) from None


_SIGNS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "adopt": "@", "resume": "~"}  # by Action value


def _step_json(step: Step) -> dict[str, Any]:
    from beskar.plan.entities import Action
    created = dict(step.desired.fields) if step.action is Action.CREATE and step.desired else {}
    return {"action": step.action.value, "kind": step.kind.value, "key": list(step.key), "runs": step.runs,
            "pending": step.pending, "skip": step.skip, "fields": created,
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in step.changes]}


def _shown(fields: Any) -> str:
    """A created resource's fields on one line, leaving out the empty ones."""
    return ", ".join(f"{k}={_value(v)}" for k, v in fields.items() if v not in (None, "", {}, ()))


def _plan_json(site: str, plan: Plan) -> dict[str, Any]:
    return {"site": site, "pending": len(plan.pending), "runnable": len(plan.runnable),
            "steps": [_step_json(step) for step in plan.steps],
            "unmanaged": [{"kind": r.kind.value, "key": list(r.key)} for r in plan.unmanaged]}


def _value(value: Any) -> str:
    return json.dumps(value if not isinstance(value, tuple) else list(value), default=str)


def _print_plan(site: str, plan: Plan) -> None:
    from beskar.plan.entities import Action
    counts = {action: sum(1 for s in plan.runnable if s.action is action) for action in Action}
    held = [s for s in plan.steps if not s.runs and s.pending]
    summary = ", ".join(f"{n} to {a.value}" for a, n in counts.items() if n) or "no changes"
    out.print(f"[bold]{escape(site)}[/]: {summary}" + (f"; {len(held)} held back" if held else ""))
    for step in plan.steps:
        sign = _SIGNS[step.action.value] if step.runs else ("." if not step.pending else "!")
        out.print(f"  {sign:3} {escape(step.label())}", soft_wrap=True)
        if step.action is Action.CREATE and step.desired is not None and _shown(step.desired.fields):
            out.print(f"        [dim]{escape(_shown(step.desired.fields))}[/]", soft_wrap=True)
        for change in step.changes:
            out.print(f"        {escape(change.field)}: {escape(_value(change.old))} -> {escape(_value(change.new))}",
                      soft_wrap=True)
        if step.skip:
            word = "deferred" if not step.pending else "held"
            out.print(f"        [dim]{word}: {escape(step.skip)}[/]", soft_wrap=True)
    if plan.unmanaged:
        kinds: dict[str, list[str]] = {}
        for resource in plan.unmanaged:
            kinds.setdefault(resource.kind.value, []).append("/".join(resource.key))
        listed = "; ".join(f"{len(names)} {kind}(s): {', '.join(names)}" for kind, names in kinds.items())
        out.print(f"  unmanaged, never touched: {escape(listed)}", soft_wrap=True)


@app.command("plan")
def plan_command(
    site: SiteArgument,
    fleet: FleetOption = Path("."),
    cloud: CloudOption = None,
    prune: PruneOption = False,
    adopt: AdoptOption = False,
    detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode", help="Exit 1 when changes are pending "
                                                    "(drift), 0 when the cloud matches the site.")] = False,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Compare the site's declared cloud content with the live cloud and print the ordered steps.

    Steps marked `!` are held back (they need --prune or --adopt, or the API cannot make them); steps
    marked `.` are deferred (e.g. a host nova does not know yet joins its aggregate later).
    Exit codes: 0 done, 2 unusable input or unreachable cloud, 1 with --detailed-exitcode when changes are pending.
    """
    from beskar.operations import entities  # the model and the cloud SDK: only here, see cli/app.py
    from beskar.plan.entities import Options
    entity_plan, _ = _run(lambda: entities.plan_site(fleet, site, Options(prune, adopt), cloud))
    if output_format is Format.JSON:
        out.print_json(json.dumps(_plan_json(site, entity_plan.plan), default=str))
    else:
        _print_plan(site, entity_plan.plan)
    if detailed_exitcode and entity_plan.plan.pending:
        raise typer.Exit(1)


@app.command("apply")
def apply_command(
    site: SiteArgument,
    fleet: FleetOption = Path("."),
    cloud: CloudOption = None,
    prune: PruneOption = False,
    adopt: AdoptOption = False,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Plan, then carry out the steps in dependency order, printing progress; stop at the first failure.

    Running it again resumes: it plans afresh, and what is done already is no longer a step.
    Exit codes: 0 done, 1 a step failed, 2 unusable input or unreachable cloud.
    """
    from beskar.operations import entities
    from beskar.plan.entities import Options
    entity_plan, api = _run(lambda: entities.plan_site(fleet, site, Options(prune, adopt), cloud))
    with shown.progress() as progress:
        outcomes = entities.apply_plan(entity_plan, api, progress)
    if output_format is Format.JSON:
        out.print_json(json.dumps({"site": site, **shown.tally(outcomes).as_json(),
                                   "outcomes": [shown.outcome_json(o) for o in outcomes]}))
        failed = shown.tally(outcomes).failed
    else:
        failed = shown.show_outcomes(site, outcomes, f"beskar entities apply {site}").failed
    if failed is not None:
        raise typer.Exit(1)


@app.command("import")
def import_command(
    site: SiteArgument,
    fleet: FleetOption = Path("."),
    cloud: CloudOption = None,
    include_unmanaged: Annotated[bool, typer.Option("--include-unmanaged", help="Also write what Beskar did not "
                                                   "create (then `apply --adopt` takes it over).")] = False,
    write: Annotated[bool, typer.Option("--write", help="Replace the `cloud:` section of sites/SITE/site.yaml "
                                        "(other lines and comments stay) instead of printing it.")] = False,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Read the live cloud and write the `cloud:` section that declares it.

    By default only what Beskar manages is written, so importing a cloud Beskar applied plans as no change.
    With --include-unmanaged, hand-made resources are written too, to bring an existing cloud under Beskar.
    """
    from beskar.operations import entities
    imported, text = _run(lambda: entities.import_site(fleet, site, include_unmanaged, cloud, write))
    for warning in imported.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    if output_format is Format.JSON:
        out.print_json(json.dumps({"site": site, "written": write, "cloud": imported.cloud,
                                   "warnings": list(imported.warnings)}, default=str))
    elif write:
        out.print(f"wrote the cloud section of {escape(site)} to sites/{escape(site)}/site.yaml")
    else:
        out.print(escape(text), end="", soft_wrap=True, highlight=False)
