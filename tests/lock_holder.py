"""Another process holding a fleet's writers' lock, for the tests of what a second writer does meanwhile."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from beskar import tree as trees


@contextmanager
def lock_held_elsewhere(root: Path) -> Iterator[int]:
    """A forked child takes the lock and holds it until the block ends; yields the child's pid."""
    ready_read, ready_write = os.pipe()
    done_read, done_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            with trees.locked(root):
                os.write(ready_write, b"x")
                os.read(done_read, 1)
        finally:
            os._exit(0)
    try:
        assert os.read(ready_read, 1) == b"x"
        yield pid
    finally:
        os.write(done_write, b"x")
        os.waitpid(pid, 0)
