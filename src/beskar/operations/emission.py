"""Emitting the rendered sites' trees as bytes, on every core: sites are independent, YAML emission is most of a
check's time, and each site's bytes are the same whichever process emits them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple

from beskar import tree as trees
from beskar.forking import default_jobs, fork_map

if TYPE_CHECKING:  # only named: `beskar render` skipping every site loads no renderer
    from beskar.render.site import RenderedSite

# Fewer sites than this are emitted in this process: starting workers costs more than it saves.
MIN_PARALLEL_SITES = 8


class Emitted(NamedTuple):
    """Every file of the sites' trees as the bytes `beskar render` writes, sorted by path; and, when asked, how each
    differs from the file on disk (no deletions: those are the caller's, who knows what the tree owns)."""

    files: dict[str, bytes]
    changes: list[trees.Difference]
    plain: frozenset[str] = frozenset()  # given a `plain` test: the files whose documents pass it


def jobs_for(sites: int, jobs: int | None = None, min_sites: int | None = None) -> int:
    """The processes worth starting for work over this many sites: `jobs` (default: one per core), or one when the
    sites are fewer than `min_sites` (default MIN_PARALLEL_SITES)."""
    min_sites = MIN_PARALLEL_SITES if min_sites is None else min_sites
    if sites < max(min_sites, 2):
        return 1
    return default_jobs() if jobs is None else jobs


def shares(names: list[str], jobs: int) -> list[list[str]]:
    """The sites as the items of a fork_map: one site each when there are workers (whoever is free takes the next,
    the caller too once it waits, so the last items balance), all of them in one otherwise."""
    if jobs <= 1:
        return [names] if names else []
    return [[name] for name in names]


def emit_sites(rendered: Mapping[str, RenderedSite], jobs: int | None = None,
               min_sites: int | None = None) -> dict[str, bytes]:
    """Every file of every site's tree as the exact bytes `beskar render` writes, sorted by path, emitted by `jobs`
    processes (default: one per core) when there are at least `min_sites` sites."""
    jobs = jobs_for(len(rendered), jobs, min_sites)
    # Forked workers inherit the rendered objects instead of receiving them: only the bytes come back.
    work = fork_map(lambda names: joined([emit_site(rendered[name]) for name in names]),
                    shares(sorted(rendered), jobs), jobs)
    return joined(work.results()).files


def emit_site(rendered: RenderedSite, compare_in: Path | None = None, plain: Callable[[list[Any]], bool] | None = None,
              recorded: Mapping[str, str] | None = None) -> Emitted:
    """One site's files as bytes; given `compare_in`, their comparison with the disk there, and given a `plain`
    test, the files whose documents pass it (the check's: which it may take as the rendered objects, unparsed).
    Given `recorded` (the site's outputs as the render record has them, for inputs that hash as recorded), a site
    whose files under `compare_in` are still exactly those is not emitted: its bytes are the files', unchanged."""
    found = trees.recorded_files(compare_in, trees.site_prefixes(rendered.name), dict(recorded)) \
        if recorded is not None and compare_in is not None else None
    if found is not None:
        files, changes = found, [trees.Difference(path, trees.Change.UNCHANGED) for path in sorted(found)]
    else:
        files = rendered.tree.emit()
        changes = trees.file_changes(compare_in, files) if compare_in is not None else []
    passed = frozenset(path for path, documents in rendered.tree.files.items() if plain(documents)) \
        if plain is not None else frozenset()
    return Emitted(files, changes, passed)


def joined(parts: list[Emitted]) -> Emitted:
    """The emissions of several sites as one, sorted by path."""
    files: dict[str, bytes] = {}
    changes: list[trees.Difference] = []
    plain: set[str] = set()
    for part in parts:
        files.update(part.files)
        changes.extend(part.changes)
        plain |= part.plain
    return Emitted(dict(sorted(files.items())), sorted(changes, key=lambda d: d.path), frozenset(plain))
