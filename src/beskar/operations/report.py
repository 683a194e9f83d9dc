"""`beskar report`: compile and check the fleet, draw its pages, write them atomically into the output folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from beskar import __version__
from beskar import tree as trees
from beskar.catalog import catalog
from beskar.fleet import load_fleet
from beskar.fleet.image_record import read_verify_record
from beskar.clients.browser import open_page
from beskar.model import Site, type_site
from beskar.operations import review
from beskar.operations.compilation import CompiledFleet
from beskar.problems import InputError, Problem
from beskar.report import GENERATOR, INDEX, MirrorStatus, ReportInput, SiteInput, build_report, site_page


@dataclass(frozen=True)
class Written:
    output: Path
    pages: tuple[str, ...]
    changes: tuple[trees.Difference, ...]
    sites: tuple[str, ...]
    findings: int

    @property
    def index(self) -> Path:
        return self.output / INDEX


def generated_at() -> str:
    """The one line of the report that changes between runs; SOURCE_DATE_EPOCH fixes it (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch and epoch.isdigit() else \
        datetime.now(timezone.utc)
    return f"Generated {when:%Y-%m-%d %H:%M} UTC by beskar {__version__}."


def mirror_status(root: Path, sites: list[str]) -> MirrorStatus:
    """What `beskar images verify` last recorded in the fleet (sites/<site>/images.verified.yaml), per site that has
    a record; a malformed record is bad input (file and line)."""
    found = {site: read_verify_record(root, site) for site in sites}
    return {site: record for site, record in found.items() if record is not None}


def _whole_fleet(root: Path, compiled: CompiledFleet, sites: list[str] | None) -> tuple[tuple[Site, str | None], ...]:
    """Every site, typed, when the report is of some and a site of the fleet is mid-upgrade (the waves span them
    all); else () (the report's sites are all there is). A site elsewhere that does not load leaves it at that."""
    if not sites:
        return ()
    try:
        fleet = load_fleet(root)
        if not any(isinstance(openstack := layered.data.get("openstack"), dict) and openstack.get("upgrade")
                   for layered in fleet.sites.values()):
            return ()
        knowledge = catalog()
        return tuple((compiled.sites.get(name) or type_site(layered, knowledge), layered.profile)
                     for name, layered in sorted(fleet.sites.items()))
    except InputError:
        return ()


def _owned(output: Path) -> set[str]:
    """The pages a previous report wrote here (so that a site's page goes when the site goes)."""
    found = set()
    for path in [output / INDEX, *sorted((output / "sites").glob("*.html"))]:
        try:
            with path.open("rb") as handle:
                if GENERATOR.encode() in handle.read(2048):
                    found.add(path.relative_to(output).as_posix())
        except OSError:
            continue
    return found


def _check_output(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise InputError([Problem(f"{output} is not a directory", hint="give --output a folder for the report")])
    if output.is_dir() and any(output.iterdir()) and INDEX not in _owned(output):
        raise InputError([Problem(f"{output} is a folder with other files in it, and no report of Beskar's",
                                  hint="give --output an empty or new folder, e.g. public/")])


def make_report(root: Path, output: Path, sites: list[str] | None = None) -> Written:
    """Check the fleet (or the named sites), draw the report and write it into `output`, all pages or none."""
    root, output = Path(root), Path(output)
    _check_output(output)
    checked = review.check(root, sites)
    compiled = checked.compiled
    assert compiled is not None  # check always compiles the fleet
    fleet_name = str(compiled.fleet.settings.get("name") or root.resolve().name)
    inputs = ReportInput(
        fleet_name=fleet_name, settings=compiled.fleet.settings,
        sites=tuple(SiteInput(compiled.sites[n], compiled.fleet.sites[n], compiled.rendered[n])
                    for n in sorted(compiled.sites)),
        findings=tuple(checked.findings), catalog=catalog(), generated_at=generated_at(), version=__version__, stale=checked.stale,
        mirror_status=mirror_status(root, sorted(compiled.sites)), fleet_sites=_whole_fleet(root, compiled, sites))
    pages = build_report(inputs)
    emitted = {path: html.encode("utf-8") for path, html in pages.items()}
    output.mkdir(parents=True, exist_ok=True)
    changes = trees.write(output, emitted, [], owned=_owned(output))
    journal = output / trees.JOURNAL_DIR.split("/", 1)[0]
    if journal.is_dir() and not any(journal.iterdir()):
        journal.rmdir()  # the write's journal is gone; its empty folder would be published with the report
    return Written(output, tuple(emitted), tuple(changes), tuple(sorted(compiled.sites)), len(checked.findings))


def open_report(written: Written, site: str | None = None) -> bool:
    """Show the report (a site's page, when given) in the default browser."""
    return open_page(written.output / (site_page(site) if site else INDEX))
