"""Emitting the rendered sites' trees as bytes, on every core: sites are independent, YAML emission is most of a
check's time, and each site's bytes are the same whichever process emits them."""

from __future__ import annotations

import multiprocessing
import os
from typing import Mapping

from beskar.render.site import RenderedSite

# Fewer sites than this are emitted in this process: starting workers costs more than it saves.
MIN_PARALLEL_SITES = 8
_forked: Mapping[str, RenderedSite] = {}  # the sites the workers emit, inherited when they fork


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def emit_sites(rendered: Mapping[str, RenderedSite], jobs: int | None = None,
               min_sites: int | None = None) -> dict[str, bytes]:
    """Every file of every site's tree as the exact bytes `beskar render` writes, sorted by path.

    With more than one job (and at least `min_sites` sites) the sites are split among forked workers, which
    inherit the rendered objects instead of receiving them; only the bytes come back. Where fork is not
    available, or a worker cannot start, everything is emitted here.
    """
    jobs = default_jobs() if jobs is None else jobs
    min_sites = MIN_PARALLEL_SITES if min_sites is None else min_sites
    names = sorted(rendered)
    files: dict[str, bytes] = {}
    if jobs > 1 and len(names) >= max(min_sites, 2) and "fork" in multiprocessing.get_all_start_methods():
        global _forked
        _forked = rendered
        try:
            with multiprocessing.get_context("fork").Pool(min(jobs, len(names))) as pool:
                # Interleaved chunks: neighbouring sites are alike, so each worker gets a like share.
                chunks = [names[start::jobs * 2] for start in range(jobs * 2)]
                for part in pool.map(_emit_chunk, [c for c in chunks if c]):
                    files.update(part)
        except OSError:
            files = {}
        finally:
            _forked = {}
        if files:
            return dict(sorted(files.items()))
    for name in names:
        files.update(rendered[name].tree.emit())
    return dict(sorted(files.items()))


def _emit_chunk(names: list[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for name in names:
        files.update(_forked[name].tree.emit())
    return files
