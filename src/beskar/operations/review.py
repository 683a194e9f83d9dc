"""The check and lint operations: gather the fleet or Flux repository, run every rule, return the findings."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from beskar.operations import compilation
from beskar.operations.emission import Emitted, emit_site, jobs_for, joined
from beskar.operations.rendering import recorded_outputs
from beskar.operations.lint import lint  # noqa: F401  (review.lint: the lint operation, beside check)
from beskar.operations.reviews import Review, fleet_settings as _fleet_settings, object_count as _objects
from beskar import tree as trees
from beskar.memory import paused_gc
from beskar.check.engine import CheckedSite, Subject, applicable_rules, run_rules
from beskar.check.documents import parse_yaml, plain_documents
from beskar.check.kustomize import YAML_SUFFIXES
from beskar.check.repository import ClusterFacts, TreeOptions, load_repository
from beskar.fleet.files import read_chart_skeletons, read_files, read_text
from beskar.fleet.repository import secrets_path
from beskar.secrets.sopsfile import read_site_file

if TYPE_CHECKING:
    from beskar.operations import build as building


def check(root: Path, sites: list[str] | None = None, *, charts: Path | None = None,
          disable: list[str] = (), build: building.BuildOptions | None = None, jobs: int | None = None) -> Review:
    """Check a fleet: its typed sites (model rules), the tree it renders (tree rules), and its staleness; with
    `build`, also every site's final objects (the build rules). `jobs` processes emit the rendered trees (default:
    one per core); the findings are the same whatever their number."""
    builds = _building().built_sites(Path(root), sites, build) if build is not None else ()
    trees.settle(Path(root))
    with paused_gc(), trees.locked(Path(root), exclusive=False):  # no render changes the tree while it is read
        return _check(Path(root), sites, charts, list(disable), builds, jobs)


def _check(root: Path, sites: list[str] | None, charts: Path | None, disable: list[str],
           builds: tuple = (), jobs: int | None = None) -> Review:
    root = Path(root)
    # A site whose inputs hash as at its last render, and whose files are still those, is not emitted again: its
    # files are read (emitting is most of a check's time).
    recorded = recorded_outputs(root, sorted(sites or _all_site_names(root)))

    def emit_compiled(compiled: compilation.CompiledSite) -> tuple[compilation.CompiledSite, dict[str, str], Emitted]:
        part = emit_site(compiled.rendered, root, plain_documents, recorded.get(compiled.rendered.name))
        # Decoded where it was emitted: this process gets only the texts the rules read, never the bytes as well.
        return compiled, {path: data.decode("utf-8") for path, data in part.files.items()}, part._replace(files={})

    # As render_fleet(check=True), on every core: each site layered, typed, rendered, emitted and compared with the
    # disk in turn, while this process reads and parses the rest of the repository.
    work = compilation.Compilation(root, sites, each=emit_compiled, jobs=jobs)
    prefixes = [prefix for name in work.head.names for prefix in trees.site_prefixes(name)]
    settings = _fleet_settings(root, list(disable))
    # Nothing of the sites left out by --site is read: the tree as `beskar render --site` would write it.
    left_out = {f"{top}/{name}" for name in _all_site_names(root) - set(work.head.names)
                for top in ("clusters", "apps")}
    contents, others = read_files(root, prune=set(prefixes) | left_out)
    parsed = {path: parse_yaml(path, text) for path, text in contents.items() if path.endswith(YAML_SUFFIXES)}
    fleet, results = work.wait()
    compiled = compilation.CompiledFleet(fleet, {name: c.site for name, (c, _, _) in results.items()},
                                         {name: c.rendered for name, (c, _, _) in results.items()})
    emitted = dict(sorted(item for _, texts, _ in results.values() for item in texts.items()))
    _, changes, plain = joined([part for _, _, part in results.values()])
    del results
    emitted_paths = {path for rendered in compiled.rendered.values() for path in rendered.tree.sources}
    deleted = trees.deletions(root, emitted_paths, compiled.owned_prefixes())
    # The tree as `beskar render` would write it: emitted files over what is on disk, nothing Beskar would
    # delete. In the sites' own directories, only what a person wrote there (flux-system) is read.
    extra = {d.path for d in deleted}
    handwritten, handwritten_others = read_files(root, emitted_paths | extra, within=prefixes)
    parsed.update((path, parse_yaml(path, text)) for path, text in handwritten.items()
                  if path.endswith(YAML_SUFFIXES))
    contents = dict(sorted({**contents, **handwritten}.items()))

    def kept(path: str) -> bool:
        return path not in emitted_paths and path not in extra

    contents = {p: t for p, t in contents.items() if kept(p)}
    parsed = {p: f for p, f in parsed.items() if kept(p)}
    others = frozenset(p for p in others | handwritten_others if kept(p))
    # Compiled once: every rule reads the same typed site, render and secrets file.
    checked = tuple(CheckedSite(site, compiled.fleet.sites[name], compiled.rendered[name],
                                read_site_file(compiled.fleet.sites[name].secrets_file, secrets_path(name)))
                    for name, site in compiled.sites.items())
    texts: dict[str, str] = {}
    for layered in (c.layered for c in checked):
        for file in layered.files:
            if file not in texts and file not in contents:
                texts[file] = read_text(root / file, file)
    differences = sorted(changes + deleted, key=lambda d: d.path)
    contents.update(emitted)
    del emitted
    facts = {name: ClusterFacts(mirror=site.mirror.registry if site.mirror else None, release=site.openstack.release,
                                upgrading_to=site.openstack.upgrade.to if site.openstack.upgrade else None)
             for name, site in compiled.sites.items()}
    repository_url = (compiled.fleet.settings.get("repository") or {}).get("url")
    options = TreeOptions(clusters=facts, charts=read_chart_skeletons(charts) if charts is not None else None)
    # The rendered documents are what parsing their emitted text gives back: they are taken as they are.
    documents = {path: files for rendered in compiled.rendered.values()
                 for path, files in rendered.tree.files.items() if path in plain}
    repository = load_repository(contents, others, options, frozenset({repository_url} - {None}),
                                 emitted=documents, parsed=parsed)
    repository.stale = tuple(d for d in differences if d.change is not trees.Change.UNCHANGED)
    texts.update(contents)
    subject = Subject(checked, repository, texts, builds)
    findings = run_rules(subject, settings, jobs_for(len(checked), jobs))
    return Review(root, findings, tuple(sorted(repository.clusters)), _objects(repository), len(repository.files),
                  tuple(sorted(compiled.sites)), len(repository.stale), tuple(applicable_rules(subject, settings)),
                  compiled)


def _building():
    """operations.build, loaded only for `check --build`: it brings Helm's Go runtime (45 MiB resident, a third of a
    check's imports), which no other check needs."""
    return importlib.import_module("beskar.operations.build")


def _all_site_names(root: Path) -> set[str]:
    return {p.parent.name for p in (root / "sites").glob("*/site.yaml")}
