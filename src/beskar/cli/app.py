"""The top-level commands (demo, render, explain, sites) and the command groups."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from beskar.cli import build, check, diff, entities, images, init, maas, report, secrets, upgrade
from beskar.cli.coercion import PlainGroup
from beskar.cli.launcher import Beskar
from beskar.memory import keep_what_pauses_make
from beskar.cli.output import (Column, FleetOption, Format, FormatOption, SiteArgument, SiteOption, err, fitted_table,
                               out, run)

if TYPE_CHECKING:
    from beskar.operations import compilation, rendering
    from beskar.tree import Change

# Start-up: every command module imports its operations (the model, the check engine, the crypto, the
# clients' SDKs) inside the command's body, not at the top, so that `beskar --help` and a command pay
# only for what that command runs. These are not cycle dodges: the arrows are the same, only later.

app = Beskar(
    name="beskar",
    help="Run a fleet of OpenStack clouds on Kubernetes the GitOps way.\n\n"
    "A fleet repository holds beskar.yaml (global defaults), profiles/*.yaml and sites/<site>/site.yaml. "
    "Beskar layers them per site, checks them, and renders clusters/<site>/ and apps/<site>/ for Flux.\n\n"
    "Start with `beskar demo ./my-fleet`.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    cls=PlainGroup,  # parameters converted without pydantic (cli/coercion.py)
)
app.add_typer(secrets.app, name="secrets")
app.add_typer(maas.app, name="maas")
app.add_typer(check.app)
app.add_typer(build.app)
app.add_typer(build.charts_app, name="charts")
app.add_typer(init.app)
app.add_typer(diff.app)
app.add_typer(entities.app, name="entities")
app.add_typer(report.app)
app.add_typer(images.app, name="images")
app.add_typer(upgrade.app, name="upgrade")


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="A new or empty directory for the example fleet.")],
) -> None:
    """Write the built-in example fleet (two sites, prod-brno and prod-ostrava) as a git repo and render it."""
    from beskar.clients.git import GitUnavailable, init_and_commit
    from beskar.operations.demo import write_demo
    from beskar.tree import Change
    files, compiled, changes = run(lambda: write_demo(directory))
    try:
        init_and_commit(directory, "Example fleet written and rendered by `beskar demo`")
        committed = "committed to a new git repository"
    except GitUnavailable as error:
        committed = f"not committed ({error})"
    rendered = sum(1 for c in changes if c.change is not Change.UNCHANGED)
    out.print(f"Wrote the example fleet to {directory} ({len(files)} files) and rendered "
              f"{rendered} files for {len(compiled.rendered)} sites; {committed}.")
    out.print("Each site's secrets are encrypted to DEMO age keys (demo-keys/: public, never for production).")
    out.print(f"Next: cd {directory} && beskar render --check && "
              "beskar explain prod-brno openstack.nova.cpu_allocation_ratio")
    out.print("      SOPS_AGE_KEY_FILE=demo-keys/DEMO-operator.agekey beskar secrets show prod-brno")


@app.command()
def render(
    fleet: FleetOption = Path("."),
    site: SiteOption = None,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if any rendered file is "
                                        "stale, missing or extra.")] = False,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Render every site (or --site) into clusters/<site>/, apps/<site>/ and inventory/<site>/.

    The write is atomic: a failed or killed render leaves the previous tree in place.
    Exit codes: 0 done (or up to date), 1 --check found differences, 2 unusable input.
    """
    from beskar.operations import rendering
    from beskar.tree import Change
    rendered = run(lambda: rendering.render_tree(fleet, site, check=check))
    differences = [c for c in rendered.changes if c.change is not Change.UNCHANGED]
    if output_format is Format.JSON:
        report = {
            "check": check,
            "sites": {name: {"files": f.files, "releases": f.releases, "secret_keys": f.secret_keys}
                      for name, f in rendered.sites.items()},
            "changes": [{"path": c.path, "change": _check_word(c.change) if check else c.change.value}
                        for c in differences],
        }
        out.print_json(json.dumps(report))
    else:
        _render_table(rendered, check)
    if check and differences:
        raise typer.Exit(1)


def _check_word(change: Change) -> str:
    from beskar.tree import Change
    return {Change.CREATED: "missing", Change.UPDATED: "stale", Change.DELETED: "extra"}[change]


_RENDER_COLUMNS = (Column("site", keep=True), Column("release", keep=True), Column("layers", drop=3, justify="right"),
                   Column("helm releases", drop=1, justify="right"), Column("files", justify="right"),
                   Column("secret keys", drop=2, justify="right"), Column("changed", justify="right"))


def _render_table(rendered: rendering.Rendering, check: bool) -> None:
    from beskar.tree import Change
    differences = [c for c in rendered.changes if c.change is not Change.UNCHANGED]
    rows = []
    for name, figures in rendered.sites.items():
        changed = sum(1 for c in differences
                      if c.path.startswith((f"clusters/{name}/", f"apps/{name}/", f"inventory/{name}/")))
        rows.append((name, f"{figures.release} ({figures.distro})", str(figures.layers), str(figures.releases),
                     str(figures.files), str(figures.secret_keys), str(changed)))
    table = fitted_table(_RENDER_COLUMNS, rows, title="Rendered sites" if not check else "Rendered sites (check only)")
    out.print(table)
    for difference in differences:
        word = _check_word(difference.change) if check else difference.change.value
        out.print(f"  {word:9} {difference.path}")
    if check:
        out.print("up to date" if not differences else f"{len(differences)} file(s) differ: run `beskar render`")
    elif not differences:
        out.print("nothing to change")


@app.command()
def explain(
    site: SiteArgument,
    path: Annotated[str, typer.Argument(help="A dotted path in the site, e.g. openstack.nova.cpu_allocation_ratio "
                                             "or nodes.brno-ctl-1.roles.")],
    fleet: FleetOption = Path("."),
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Show a site's final value at PATH and every layer (file:line) that set it."""
    from beskar.operations import compilation
    explanation = run(lambda: compilation.explain(fleet, site, path))
    if output_format is Format.JSON:
        out.print_json(json.dumps({
            "site": site, "path": path, "value": explanation.value, "default": explanation.default,
            "settings": [{"file": s.origin.file, "line": s.origin.line, "column": s.origin.column,
                          "layer": s.origin.layer, "value": s.value, "deleted": s.deleted}
                         for s in explanation.settings],
        }, default=str))
        return
    if isinstance(explanation.value, (dict, list)) and explanation.value:
        out.print(f"{escape(site)} {escape(path)} =")
        for line in _explained_yaml(explanation):
            out.print(escape(line), soft_wrap=True)
        return
    out.print(f"{escape(site)} {escape(path)} = [bold]{escape(json.dumps(explanation.value, default=str))}[/]")
    if explanation.default:
        out.print("  (no layer sets it: this is Beskar's default)")
    for setting in explanation.settings:
        shown = "deleted (null)" if setting.deleted else json.dumps(setting.value, default=str)
        out.print(escape(f"  {setting.origin.layer:22} {str(setting.origin):40} {shown}"))


_SITES_COLUMNS = {"site": Column("site", keep=True), "release": Column("release", keep=True),
                  "domain": Column("domain", drop=3), "region": Column("region", drop=2),
                  "profile": Column("profile", drop=1)}


def _scalar(value) -> str:
    import yaml
    return yaml.safe_dump([value], default_flow_style=True, width=10 ** 6)[1:-2]  # one item of a flow list


def _explained_yaml(explanation: compilation.Explanation) -> list[str]:
    """A structured value as YAML, each leaf with the layer and file:line that set it (`default`: none did)."""
    lines: list[tuple[str, tuple]] = []

    def walk(value, path: tuple, indent: str, first: str) -> None:
        # `first` prefixes the first line ("- " for a list item), `indent` every later one.
        if isinstance(value, dict) and value:
            for i, (key, child) in enumerate(value.items()):
                lead = first if i == 0 else indent
                if isinstance(child, (dict, list)) and child:
                    lines.append((f"{lead}{_scalar(key)}:", ()))
                    walk(child, path + (key,), indent + "  ", indent + "  ")
                else:
                    lines.append((f"{lead}{_scalar(key)}: {_scalar(child)}", path + (key,)))
        elif isinstance(value, list) and value:
            for index, item in enumerate(value):
                key = item.get("name", index) if isinstance(item, dict) else index
                if isinstance(item, (dict, list)) and item:
                    walk(item, path + (key,), indent + "  ", (first if index == 0 else indent) + "- ")
                else:
                    lines.append((f"{first if index == 0 else indent}- {_scalar(item)}", path + (key,)))
        else:
            lines.append((f"{first}{_scalar(value)}", path))

    walk(explanation.value, (), "", "")
    width = min(48, max(len(text) for text, _ in lines))
    shown = []
    for text, path in lines:
        if not path:
            shown.append(text)
            continue
        settings = explanation.beneath.get(path, ())
        where = ", over ".join(f"{s.origin.layer} {s.origin}" for s in reversed(settings)) or "default"
        shown.append(f"{text:{width}}  # {where}")
    return shown


@app.command()
def sites(fleet: FleetOption = Path("."), output_format: FormatOption = Format.TABLE) -> None:
    """List the fleet's sites with their profile, release and size."""
    from beskar.operations import listing
    summaries = run(lambda: listing.list_sites(fleet))
    rows = [{"site": s.name, "profile": s.profile, "release": s.release, "region": s.region, "domain": s.domain,
             "nodes": s.nodes, "helm_releases": s.helm_releases} for s in summaries]
    if output_format is Format.JSON:
        out.print_json(json.dumps(rows))
        return
    columns = [_SITES_COLUMNS.get(key, Column(key)) for key in (rows[0] if rows else ["site"])]
    out.print(fitted_table(columns, [[str(v) for v in row.values()] for row in rows]))


def main() -> None:
    keep_what_pauses_make()  # one command, then the process ends
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
