"""`beskar images`: every image a site pulls, mirrored with skopeo, verified in its mirror, locked by digest."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from beskar.cli.build import ChartSourceOption, chart_overrides
from beskar.cli.output import FleetOption, Format, FormatOption, err, out, run

if TYPE_CHECKING:  # annotations only: the command bodies import it (startup stays light)
    from beskar.operations import images as imagery

app = typer.Typer(
    help="The container images a site pulls: every container and init container of its built objects (`beskar "
    "build`) and every image its operators are configured to start (CephCluster, Rook's CSI settings, Prometheus "
    "and Alertmanager), each with the upstream image its mirror copy stands for.\n\n"
    "`beskar images mirror` copies what the mirror lacks (skopeo), `verify` checks every image is there and "
    "records what it found in sites/<site>/images.verified.yaml (`beskar report` shows it), `lock` writes "
    "sites/<site>/images.lock.yaml, whose digests `beskar render` pins "
    "(tag@sha256:...). Registries are reached over HTTPS (--insecure: plain HTTP) with the credentials of "
    "REGISTRY_AUTH_FILE, containers' auth.json or ~/.docker/config.json (--authfile: another file).",
    invoke_without_command=True,
)


class ListFormat(StrEnum):
    TABLE = "table"
    LIST = "list"
    JSON = "json"
    SKOPEO = "skopeo"


SiteOption = Annotated[Optional[str], typer.Option("--site", "-s", help="The site (default: every site).")]
RequiredSite = Annotated[str, typer.Option("--site", "-s", help="The site.")]
InsecureOption = Annotated[bool, typer.Option("--insecure", help="Plain HTTP, no TLS, to the registries "
                                                                 "(a test or lab mirror).")]
AuthfileOption = Annotated[Optional[Path], typer.Option("--authfile", help="Registry credentials in auth.json "
                                                                           "format (default: the usual places).")]
FromOption = Annotated[Optional[list[str]], typer.Option(
    "--from", metavar="REGISTRY=HOST[/PATH]",
    help="Copy the images of an upstream REGISTRY from elsewhere (a connected cache), e.g. quay.io=cache:5000.")]


def _sites(fleet: Path, site: str | None) -> list[str]:
    from beskar.fleet import load_fleet
    return [site] if site else sorted(run(lambda: load_fleet(fleet)).sites)


def _inventories(fleet: Path, site: str | None, chart_source: list[str] | None) -> list[imagery.Inventory]:
    from beskar.operations import images as imagery
    from beskar.operations.build import BuildOptions
    options = BuildOptions(chart_sources=run(lambda: chart_overrides(chart_source)))
    return [run(lambda: imagery.inventory(fleet, name, options)) for name in _sites(fleet, site)]


def _registry_options(insecure: bool, authfile: Path | None, sources: list[str] | None) -> imagery.RegistryOptions:
    from beskar.operations import images as imagery
    return imagery.RegistryOptions(insecure=insecure, authfile=authfile,
                                   sources=run(lambda: imagery.parse_sources(sources or [])))


def _image_json(image) -> dict:
    return {"image": image.image, "upstream": image.upstream, "mutable": image.mutable, "releases": list(image.releases),
            "uses": [{"release": u.release, "object": u.object, "where": u.where, "source": u.source.value}
                     for u in image.uses]}


def _skopeo(inventories: list[imagery.Inventory]) -> str:
    from beskar.operations import images as imagery
    import yaml
    lines = []
    for inventory in inventories:
        wanted = imagery.wanted(inventory)
        if inventory.layout == "nested":
            by_registry: dict[str, dict[str, list[str]]] = {}
            for image in wanted:
                registry, _, rest = image.source.partition("/")
                name, at, digest = rest.partition("@")  # skopeo sync takes tags and digests alike
                name, _, tag = (name, "", digest) if at else name.rpartition(":")
                by_registry.setdefault(registry, {}).setdefault(name, []).append(tag)
            document = {registry: {"images": {name: sorted(set(tags)) for name, tags in sorted(repos.items())}}
                        for registry, repos in sorted(by_registry.items())}
            lines.append(f"# {inventory.site}: skopeo sync --all --scoped --src yaml --dest docker THIS_FILE "
                         f"{inventory.mirror}")
            lines.append(yaml.safe_dump(document, sort_keys=False).rstrip())
        else:
            lines.append(f"# {inventory.site}: the mirror flattens upstream paths ({inventory.mirror}/registry__path), "
                         "which skopeo sync cannot rename to: one copy per image")
            for image in wanted:
                lines.append(f"skopeo copy --all --preserve-digests docker://{image.source} "
                             f"docker://{image.destination}")
    return "\n".join(lines) + "\n"


@app.callback()
def images(
    ctx: typer.Context,
    site: SiteOption = None,
    fleet: FleetOption = Path("."),
    chart_source: ChartSourceOption = None,
    output_format: Annotated[ListFormat, typer.Option(
        "--format", "-o", help="table; list (one image a line); json (with users); skopeo (what to run to "
                               "mirror them: a `skopeo sync` YAML, or `skopeo copy` lines when the mirror "
                               "renames)")] = ListFormat.TABLE,
) -> None:
    """List every image the site's objects pull, mirror -> upstream, with who uses it and whether its tag moves."""
    from rich.table import Table
    if ctx.invoked_subcommand is not None:
        return
    inventories = _inventories(fleet, site, chart_source)
    if output_format is ListFormat.JSON:
        out.print_json(json.dumps({"sites": [{"site": i.site, "mirror": i.mirror, "layout": i.layout,
                                              "images": [_image_json(image) for image in i.images]}
                                             for i in inventories]}))
    elif output_format is ListFormat.LIST:
        out.file.write("".join(f"{image.image}\n" for i in inventories for image in i.images))
    elif output_format is ListFormat.SKOPEO:
        out.file.write(_skopeo(inventories))
    else:
        for inventory in inventories:
            table = Table(title=f"{inventory.site}: {len(inventory.images)} images"
                                f"{f' from {inventory.mirror}' if inventory.mirror else ''}")
            for column in ("image (upstream)", "tag", "releases", "uses"):
                table.add_column(column, overflow="fold")
            for image in inventory.images:
                name = image.upstream or f"[red]{escape(image.image)} (not from the mirror)[/]"
                table.add_row(escape(name) if image.upstream else name, "mutable" if image.mutable else "fixed",
                              escape(", ".join(image.releases)), str(len(image.uses)))
            out.print(table)


@app.command("mirror")
def mirror_command(
    site: RequiredSite,
    fleet: FleetOption = Path("."),
    chart_source: ChartSourceOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the copies; make none.")] = False,
    insecure: InsecureOption = False,
    authfile: AuthfileOption = None,
    sources: FromOption = None,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Copy every image the mirror lacks from upstream, with skopeo (all platforms, digests kept), with progress.

    Stops at the first failed copy; running it again resumes (copies already made skip themselves).
    Exit codes: 0 done, 1 a copy failed, 2 unusable input or a registry that is down or refuses.
    """
    from beskar.operations import images as imagery
    from beskar.plan.steps import ResultType
    inventory, = _inventories(fleet, site, chart_source)
    options = _registry_options(insecure, authfile, sources)
    plan, steps = run(lambda: imagery.mirror_plan(inventory, options))
    results = []
    if not dry_run:
        def progress(index, total, step, result):
            results.append((step, result))
            if output_format is Format.TABLE:
                colour = {"completed": "green", "skipped": "yellow", "failed": "red"}[result.type.value]
                err.print(f"[{index}/{total}] [{colour}]{result.type.value:9}[/] {escape(step.description)}"
                          + (f": {escape(result.message)}" if result.type is ResultType.FAILED else ""))
        imagery.run_mirror(steps, progress)
    if output_format is Format.JSON:
        out.print_json(json.dumps({
            "site": site, "dry_run": dry_run, "present": [i.destination for i in plan.present],
            "copies": [{"source": c.image.source, "destination": c.image.destination, "users": list(c.image.users)}
                       for c in plan.copies],
            "results": [{"destination": s.copy.image.destination, "result": r.type.value, "message": r.message}
                        for s, r in results]}))
    else:
        if dry_run:
            for copy in plan.copies:
                out.print(f"would copy {escape(copy.description)}")
        done = sum(1 for _, r in results if r.type is ResultType.COMPLETED)
        out.print(f"{site}: {len(plan.present)} image(s) already in the mirror, "
                  + (f"{len(plan.copies)} to copy" if dry_run else f"{done} of {len(plan.copies)} copied"))
    if any(r.type is ResultType.FAILED for _, r in results):
        raise typer.Exit(1)


def _verifications(fleet: Path, site: str | None, chart_source, insecure: bool,
                   authfile: Path | None) -> list[imagery.Verification]:
    from beskar.operations import images as imagery
    options = _registry_options(insecure, authfile, None)
    verifications = [run(lambda: imagery.verify(inventory, options))
                     for inventory in _inventories(fleet, site, chart_source)]
    for verification in verifications:  # what the mirror held, for `beskar report` (also when images are missing)
        run(lambda: imagery.record(fleet, verification))
    return verifications


def _show_verification(verification: imagery.Verification) -> None:
    inventory = verification.inventory
    for image in verification.missing:
        out.print(f"[red]missing[/] {escape(image.image)} ({escape(image.upstream or '')}), used by:")
        for use in image.uses:
            out.print(f"    {escape(use.label())}")
    for image in inventory.not_mirrored():
        out.print(f"[red]not from the mirror[/] {escape(image.image)}, used by "
                  f"{escape(', '.join(u.label() for u in image.uses))}")
    out.print(f"{inventory.site}: {len(verification.digests)} of {len(inventory.images)} image(s) in "
              f"{escape(inventory.mirror or '')}" + ("" if verification.ok else ", [red]incomplete[/]")
              + f"; recorded in sites/{escape(inventory.site)}/images.verified.yaml")


@app.command("verify")
def verify_command(
    site: SiteOption = None,
    fleet: FleetOption = Path("."),
    chart_source: ChartSourceOption = None,
    insecure: InsecureOption = False,
    authfile: AuthfileOption = None,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Check that every image of the site is in its mirror (a HEAD per manifest) and record what it found.

    The record, sites/<site>/images.verified.yaml (each image present or missing, its digest, when), is what
    `beskar report` shows as the site's mirror status; it pins nothing (`beskar images lock` does).

    Exit codes: 0 every image is there, 1 some are missing (each named with its users), 2 unusable input or a
    registry that is down, refuses the credentials or does not answer as a registry.
    """
    verifications = _verifications(fleet, site, chart_source, insecure, authfile)
    if output_format is Format.JSON:
        out.print_json(json.dumps({"sites": [{
            "site": v.inventory.site, "ok": v.ok, "digests": v.digests,
            "missing": [_image_json(image) for image in v.missing],
            "not_mirrored": [_image_json(image) for image in v.inventory.not_mirrored()]} for v in verifications]}))
    else:
        for verification in verifications:
            _show_verification(verification)
    if not all(v.ok for v in verifications):
        raise typer.Exit(1)


@app.command("lock")
def lock_command(
    site: SiteOption = None,
    fleet: FleetOption = Path("."),
    chart_source: ChartSourceOption = None,
    insecure: InsecureOption = False,
    authfile: AuthfileOption = None,
) -> None:
    """Verify, then write sites/<site>/images.lock.yaml: each image's digest in the mirror, with the time.

    `beskar render` then pins tag@sha256:... for every locked image. Nothing is written unless every image
    of the site is in the mirror. Exit codes: 0 written, 2 an image is missing or a registry failed.
    """
    from beskar.operations import images as imagery
    verifications = _verifications(fleet, site, chart_source, insecure, authfile)
    incomplete = [v for v in verifications if not v.ok]
    if incomplete:  # no lock at all rather than the locks of some sites
        for verification in incomplete:
            _show_verification(verification)
        run(lambda: imagery.lock(fleet, incomplete[0]))
    for verification in verifications:
        path = run(lambda: imagery.lock(fleet, verification))
        out.print(f"{verification.inventory.site}: locked {len(verification.digests)} image(s) in {escape(path)}; "
                  "run `beskar render` to pin them")
