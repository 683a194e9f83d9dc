"""`beskar report`: the fleet at a glance, as a static HTML report with pictures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from beskar.cli.output import FleetOption, Format, FormatOption, err, out, run

app = typer.Typer()


@app.command()
def report(
    output: Annotated[Path, typer.Option("--output", help="The folder to write the report into (created if "
                                                          "needed), e.g. public/ for GitLab Pages.")] = Path("public"),
    fleet: FleetOption = Path("."),
    site: Annotated[Optional[list[str]], typer.Option(
        "--site", "-s", help="Only this site (repeatable): its page, and the fleet page with only it.")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the report (the --site's page) in the default "
                                                              "browser afterwards.")] = False,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Write the fleet as a static HTML report: index.html (sites x services with the chart ref and image tag each
    site runs, highlighted where a site differs from its profile's other sites or is mid-upgrade, with the stage
    and wave; every check finding) and one page per site (its wiring drawn: racks, nodes, NICs, bonds, VLANs,
    bridges, networks and MTUs; its Flux deployment graph; its findings linked to their lines in the fleet
    repository; its images, with what `beskar images verify` last recorded about the mirror).

    The pages need no server and fetch nothing: open index.html from disk, or publish the folder
    (`beskar init --pages` adds a GitLab Pages job). Same fleet, same pages, apart from the generated-at line.
    Exit codes: 0 written (also with findings: the report shows them), 2 unusable input.
    """
    from beskar.operations import report as reports
    from beskar.tree import Change
    if err.is_terminal:
        with err.status("checking the fleet and drawing the report ..."):
            written = run(lambda: reports.make_report(fleet, output, site))
    else:
        written = run(lambda: reports.make_report(fleet, output, site))
    changed = [c for c in written.changes if c.change is not Change.UNCHANGED]
    if output_format is Format.JSON:
        out.print_json(json.dumps({"output": str(written.output), "index": str(written.index),
                                   "pages": list(written.pages), "sites": list(written.sites),
                                   "findings": written.findings,
                                   "changes": [{"path": c.path, "change": c.change.value} for c in changed]}))
    else:
        out.print(f"Wrote {len(written.pages)} page(s) for {len(written.sites)} site(s) to {escape(str(written.output))}"
                  f" ({len(changed)} changed; {written.findings} finding(s) shown).")
        out.print(f"Open {escape(str(written.index))}")
    if open_browser and not reports.open_report(written, site[0] if site else None):
        err.print("no web browser to open the report with; open the page above yourself")
