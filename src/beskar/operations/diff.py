"""`beskar diff`: check out two revisions, compile (and build) both with this Beskar, and diff them site by site."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping

from beskar.catalog import catalog
from beskar.clients import git
from beskar.build.objects import SiteBuild
from beskar.diff import (Broken, Failure, FleetDiff, Manifest, Revision, Side, SiteDiff, SiteSide, Status,
                         diff_site, only_releases, tree_manifests, unchanged)
from beskar.fleet.documents import read_document
from beskar.fleet.repository import FLEET_FILE
from beskar.operations import build as builds
from beskar.operations.compilation import CompiledFleet, compile_fleet
from beskar.problems import InputError, Problem
from beskar.render.kubespray import node_labels

WORKING_TREE = "working tree"
# Secret digests are salted so that a short digest of a weak value cannot be looked up in a table made for
# every fleet; equal values in both revisions still give equal digests, which is what a reviewer compares.
SALT = "beskar-diff-v1"


@dataclass(frozen=True)
class DiffOptions:
    sites: tuple[str, ...] = ()
    releases: frozenset[str] = frozenset()
    everything: bool = False  # --all: chart version labels too
    build: bool = True  # False: diff the rendered Flux objects only (no charts needed)
    chart_sources: Mapping[str, str] = field(default_factory=dict)  # as `beskar build --chart-source`
    jobs: int | None = None
    cache: Path | None = None
    progress: Callable[[builds.Built], None] | None = field(default=None, compare=False)  # each release built


def diff(root: Path, base: str | None = None, head: str | None = None, options: DiffOptions = DiffOptions()) -> FleetDiff:
    """Diff two revisions of the fleet at `root`: by default the working tree against its merge-base with the
    default branch. A revision git does not have is an InputError naming it (exit 2)."""
    root = Path(root)
    # Relative chart sources of beskar.yaml mean the user's checkout, not the temporary worktrees.
    options = replace(options, chart_sources={**_configured_chart_sources(root), **options.chart_sources})
    try:
        checkout = git.checkout_of(root)
        head_commit = git.resolve(root, head) if head is not None else ""
        if base is None:
            target = git.default_branch(root, _configured_branch(root))
            base_commit = git.merge_base(root, target, head_commit or "HEAD")
            base_name = f"merge-base with {target}"
        else:
            base_commit, base_name = git.resolve(root, base), base
    except git.RevisionMissing as error:
        raise InputError([Problem(str(error), hint="give revisions as `beskar diff BASE [HEAD]`, e.g. origin/main "
                                                   "HEAD")]) from None
    except git.GitUnavailable as error:
        raise InputError([Problem(f"{root} is not in a git repository ({error})",
                                  hint="`beskar diff` compares two git revisions of the fleet")]) from None
    with ExitStack() as stack:
        base_root = checkout.fleet_in(stack.enter_context(git.worktree(checkout.top, base_commit)))
        head_root = root if not head_commit else checkout.fleet_in(stack.enter_context(git.worktree(checkout.top,
                                                                                                    head_commit)))
        compiled: dict[Side, CompiledFleet] = {}  # each revision compiled once, for its diff and its build
        before = compile_revision(base_root, options.sites, Side.BASE, compiled)
        after = compile_revision(head_root, options.sites, Side.HEAD, compiled)
        names = sorted(set(before) | set(after))
        if options.build:
            # Only the sites whose model or tree changed are built, each revision in one build (renders are
            # cached by content, so a release both revisions render alike is rendered once).
            changed = [n for n in names if not unchanged(before.get(n), after.get(n))]
            before = _built(base_root, before, changed, options, Side.BASE, compiled.get(Side.BASE))
            after = _built(head_root, after, changed, options, Side.HEAD, compiled.get(Side.HEAD))
        sites = tuple(_site_diff(name, before.get(name), after.get(name), options) for name in names)
    return FleetDiff(Revision(base_name, base_commit), Revision(head or WORKING_TREE, head_commit), sites)


def _fleet_setting(root: Path, *keys: str) -> object:
    """A value under `fleet:` of the checkout's beskar.yaml, when it reads (else None)."""
    try:
        value, _ = read_document(root, FLEET_FILE, "global")
    except InputError:
        return None
    for key in ("fleet", *keys):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _configured_branch(root: Path) -> str | None:
    branch = _fleet_setting(root, "repository", "branch")
    return str(branch) if branch else None


def _configured_chart_sources(root: Path) -> dict[str, str]:
    configured = _fleet_setting(root, "build", "chart_sources")
    if not isinstance(configured, dict):
        return {}
    return {str(name): str(where) if "://" in str(where) else str((root / str(where)).resolve())
            for name, where in configured.items()}


def _site_diff(name: str, base: SiteSide | Broken | None, head: SiteSide | Broken | None,
               options: DiffOptions) -> SiteDiff:
    if unchanged(base, head):
        return SiteDiff(name, Status.UNCHANGED)  # same model and tree: nothing to build
    result = diff_site(name, base, head, everything=options.everything, salt=SALT)
    return only_releases(result, options.releases) if options.releases else result


def _built(root: Path, sides: dict[str, SiteSide | Broken], names: list[str], options: DiffOptions,
           side: Side, fleet: CompiledFleet | None = None) -> dict[str, SiteSide | Broken]:
    """The sides of `names` with the objects `beskar build` makes of them; a site whose build input is unusable
    (a chart not at its ref, a valuesFrom key missing) is Broken on this side, the others are still built."""
    result = dict(sides)
    groups: dict[frozenset[str] | None, list[str]] = {}
    for name in names:
        compiled = sides.get(name)
        if isinstance(compiled, SiteSide):
            # --release: each site builds the requested releases it has (another site may lack one).
            present = frozenset(m.key.name for m in compiled.manifests if m.key.kind == "HelmRelease")
            groups.setdefault(options.releases & present if options.releases else None, []).append(name)
    for releases, wanted in sorted(groups.items(), key=lambda item: item[1]):
        shown = options.progress
        settings = builds.BuildOptions(chart_sources=dict(options.chart_sources), jobs=options.jobs,
                                       cache=options.cache, releases=releases,
                                       progress=(lambda event: shown(replace(event, stage=side.value))) if shown
                                       else None)
        try:
            built = builds.build_fleet(root, wanted, settings, fleet)
        except InputError as error:
            broken = _problems_by_site(error.problems, wanted)
            if side is Side.BASE and len(broken) == len(wanted):
                raise _unbuildable(error.problems) from None
            for name, problems in broken.items():
                result[name] = Broken(tuple(Failure(side, p.message, str(p.origin) if p.origin else "")
                                            for p in problems))
            rest = [n for n in wanted if n not in broken]
            built = builds.build_fleet(root, rest, settings, fleet) if rest else ()
        for site_build in built:
            result[site_build.site] = _with_build(result[site_build.site], site_build, side)
    return result


def _unbuildable(problems: tuple[Problem, ...]) -> InputError:
    """The base revision builds nowhere: the charts cannot be had here (no network, a source moved), which is no
    difference the change makes. Each cause once, at the first place it stops a release."""
    causes: dict[str, Problem] = {}
    for problem in problems:
        cause = problem.message.split(": ", 1)[1] if problem.message.startswith("HelmRelease ") else problem.message
        causes.setdefault(cause, Problem(cause, problem.origin, hint=(
            "point the chart sources at local copies with --chart-source NAME=PATH (or fleet.build.chart_sources "
            "in beskar.yaml), or diff the rendered Flux objects only with --no-build")))
    return InputError(list(causes.values()))


def _problems_by_site(problems: tuple[Problem, ...], names: list[str]) -> dict[str, list[Problem]]:
    """Each problem under the site whose tree holds its place; a problem of no site is raised as it is."""
    found: dict[str, list[Problem]] = {}
    for problem in problems:
        parts = problem.origin.file.split("/") if problem.origin else []
        site = parts[1] if len(parts) > 2 and parts[0] in ("apps", "clusters", "sites") else None
        if site not in names:
            raise InputError(problems)
        found.setdefault(site, []).append(problem)
    return found


def _with_build(side: SiteSide, site_build: SiteBuild, which: Side) -> SiteSide:
    """The side's objects as built. The encrypted Secret stays as the tree has it (a build shows placeholders for
    its values whatever they are), so a rotated value is a changed digest."""
    encrypted = {m.key: m for m in side.manifests if m.body.get("kind") == "Secret" and "sops" in m.body}
    manifests = tuple(encrypted.get(o.key, Manifest(o.layer, o.release, o.body))
                      for o in site_build.objects())
    failures = tuple(Failure(which, f.message, f"{f.file}:{f.line}", f.release) for f in site_build.failures)
    charts = {r.release: r.chart.version for r in site_build.releases if r.chart is not None}
    return replace(side, manifests=manifests, failures=failures, built=True, charts=charts)


def _site_names(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "sites").glob("*/site.yaml"))


def compile_revision(root: Path, sites: tuple[str, ...], side: Side,
                     compiled: dict[Side, CompiledFleet] | None = None) -> dict[str, SiteSide | Broken]:
    """Every site of one revision as a SiteSide, or Broken with the problems that stop it compiling; the whole
    compiled fleet under `side` in `compiled` when every site compiles (its build needs not compile it again)."""
    if not (root / FLEET_FILE).is_file():
        return {}  # the revision has no fleet yet: every site of the other one is added
    names = [n for n in _site_names(root) if not sites or n in sites]
    if not names:
        return {}
    try:
        whole = compile_fleet(root, names, emit=compiled is not None)  # its build reads every file
    except InputError:
        pass
    else:
        if compiled is not None:
            compiled[side] = whole
        return _sides(whole)
    result: dict[str, SiteSide | Broken] = {}
    for name in names:  # one site at a time, to say which sites fail and which still diff
        try:
            result.update(_sides(compile_fleet(root, [name])))
        except InputError as error:
            result[name] = Broken(tuple(
                Failure(side, problem.message, str(problem.origin) if problem.origin else "")
                for problem in error.problems))
    return result


def _sides(compiled: CompiledFleet) -> dict[str, SiteSide | Broken]:
    knowledge = catalog()
    sides: dict[str, SiteSide | Broken] = {}
    for name, site in compiled.sites.items():
        tree = compiled.rendered[name].tree
        sides[name] = SiteSide(site, compiled.fleet.sites[name], tree, tuple(tree_manifests(tree)),
                               {node.name: node_labels(node, knowledge) for node in site.nodes})
    return sides
