"""Memory habits of bulk work: the cyclic garbage collector paused while many acyclic objects are made."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


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
            gc.enable()
