"""`beskar diff`: check out two revisions, compile (and build) both with this Beskar, and diff them site by site."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from beskar.catalog import catalog
from beskar.clients import git
from beskar.diff import (Broken, Failure, FleetDiff, Revision, Side, SiteDiff, SiteSide, Status, diff_site,
                         only_releases, tree_manifests, unchanged)
from beskar.fleet.documents import read_document
from beskar.fleet.repository import FLEET_FILE
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


def diff(root: Path, base: str | None = None, head: str | None = None, options: DiffOptions = DiffOptions()) -> FleetDiff:
    """Diff two revisions of the fleet at `root`: by default the working tree against its merge-base with the
    default branch. A revision git does not have is an InputError naming it (exit 2)."""
    root = Path(root)
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
        before = compile_revision(base_root, options.sites, Side.BASE)
        after = compile_revision(head_root, options.sites, Side.HEAD)
        sites = tuple(_site_diff(name, before.get(name), after.get(name), options)
                      for name in sorted(set(before) | set(after)))
    return FleetDiff(Revision(base_name, base_commit), Revision(head or WORKING_TREE, head_commit), sites)


def _configured_branch(root: Path) -> str | None:
    """`fleet.repository.branch` of beskar.yaml, when it reads."""
    try:
        document, _ = read_document(root, FLEET_FILE, "global")
    except InputError:
        return None
    settings = document.get("fleet") if isinstance(document, dict) else None
    repository = settings.get("repository") if isinstance(settings, dict) else None
    branch = repository.get("branch") if isinstance(repository, dict) else None
    return str(branch) if branch else None


def _site_diff(name: str, base: SiteSide | Broken | None, head: SiteSide | Broken | None,
               options: DiffOptions) -> SiteDiff:
    if unchanged(base, head):
        return SiteDiff(name, Status.UNCHANGED)  # same model and tree: nothing to build
    result = diff_site(name, base, head, everything=options.everything, salt=SALT)
    return only_releases(result, options.releases) if options.releases else result


def _site_names(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "sites").glob("*/site.yaml"))


def compile_revision(root: Path, sites: tuple[str, ...], side: Side) -> dict[str, SiteSide | Broken]:
    """Every site of one revision as a SiteSide, or Broken with the problems that stop it compiling."""
    if not (root / FLEET_FILE).is_file():
        return {}  # the revision has no fleet yet: every site of the other one is added
    names = [n for n in _site_names(root) if not sites or n in sites]
    if not names:
        return {}
    try:
        return _sides(compile_fleet(root, names))
    except InputError:
        pass
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
