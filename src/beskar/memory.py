"""Memory habits of bulk work: the cyclic garbage collector paused while many acyclic objects are made."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

_keep_made = False


def keep_what_pauses_make() -> None:
    """A process that ends after its one command (the CLI, a benchmark) stops the collector from walking what the
    pauses made. When a pause ends, the millions of objects made during it are all young: the next collections
    walk each of them three times over (one generation after another), 2 s of a no-op 50-site build. Frozen,
    they are never walked; reference counting still frees them. Not for a long-lived process (a test session):
    a cycle among frozen objects (an exception and its frames) would never be freed."""
    global _keep_made
    _keep_made = True


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection meanwhile. Parsing, rendering, emitting and reading stored builds make millions of
    objects and no cycles, and keep most of them alive: each collection would walk them all again (1.4x the
    time of a compile). Reference counting still frees everything that is not a cycle."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if _keep_made:
                gc.freeze()
            gc.enable()
