"""The fleet's lock: one writer at a time, readers that never see a write half done."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from beskar.problems import InputError, Origin, Problem
from beskar.tree.paths import DIRECTORY_MODE, FILE_MODE, STATE_DIR

_held: dict[Path, list] = {}  # fleet -> [descriptor, exclusive]: flock is per open file, so nesting must reuse it


def state_directory(root: Path) -> Path:
    state = root / STATE_DIR
    if state.is_symlink() or (state.exists() and not state.is_dir()):
        raise InputError([Problem(f"{STATE_DIR} is not a directory: Beskar keeps its lock and journal there",
                                  Origin(STATE_DIR, 1, 1, "journal"), hint=f"remove or rename {STATE_DIR}")])
    return state


def _holder(descriptor: int) -> str:
    try:
        return os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""


def _acquire(descriptor: int, exclusive: bool, wait: float | None) -> None:
    wait = float(os.environ.get("BESKAR_LOCK_WAIT", "30")) if wait is None else wait
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(descriptor, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _holder(descriptor)
                doing = f"writing this fleet (pid {holder})" if holder else "reading this fleet"
                raise InputError([Problem(f"another beskar is {doing}; nothing was changed",
                                          hint="wait for it, or set BESKAR_LOCK_WAIT (seconds) to wait longer")]) from None
            time.sleep(0.02)
    if exclusive:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)


@contextmanager
def locked(root: Path, exclusive: bool = True, wait: float | None = None) -> Iterator[None]:
    """Hold the fleet's lock: exclusive for writers, shared for readers (who then see no write half done).

    Waits up to `wait` seconds (default: $BESKAR_LOCK_WAIT, else 30) for another beskar, then stops with an
    input error naming its pid. A reader of a fleet it cannot write to (a read-only checkout) needs no lock."""
    key = Path(os.path.abspath(root))
    if key in _held:
        held = _held[key]
        upgrade = exclusive and not held[1]
        if upgrade:
            _acquire(held[0], True, wait)
            held[1] = True
        try:
            yield
        finally:
            if upgrade:
                os.ftruncate(held[0], 0)
                fcntl.flock(held[0], fcntl.LOCK_SH)
                held[1] = False
        return
    state = state_directory(root)
    try:
        if exclusive:  # a writer may be the first to make its output directory (build --output, report --output)
            Path(root).mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        state.mkdir(mode=DIRECTORY_MODE, exist_ok=True)
        descriptor = os.open(state / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except OSError as error:
        if not exclusive:
            yield
            return
        raise InputError([Problem(f"cannot lock the fleet ({STATE_DIR}/lock): {error.strerror}")]) from None
    try:
        _acquire(descriptor, exclusive, wait)
        _held[key] = [descriptor, exclusive]
        try:
            yield
        finally:
            del _held[key]
            if exclusive:
                os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)  # releases the lock
