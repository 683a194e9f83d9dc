"""Files on disk made durable: directories with fixed modes, fsyncs, and the one-file atomic write."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterable

from beskar.tree.paths import DIRECTORY_MODE, FILE_MODE


def failure(root: Path, error: OSError) -> str:
    name = error.filename
    if name:
        try:
            name = Path(name).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
        return f"{name}: {error.strerror}"
    return error.strerror or str(error)


def make_directories(directory: Path, stop: Path) -> None:
    """mkdir -p with mode 0755 whatever the umask; `stop` (an existing ancestor) is left as it is."""
    missing = []
    while directory != stop and not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for created in reversed(missing):
        created.mkdir(mode=DIRECTORY_MODE)
        os.chmod(created, DIRECTORY_MODE)


def sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@functools.cache
def _syncfs():
    """Linux's syncfs(2), which Python's os module lacks, or None; looked up on the first write, not at start-up
    (ctypes is imported here for that reason only)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs  # the C library this process runs on
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    return function


def sync_files(paths: Iterable[Path], filesystem: Path) -> None:
    """Make the written files durable, as an fsync of each would. On Linux, one syncfs(2) of the filesystem they
    are on (under `filesystem`): an fsync per file commits the filesystem's journal once per file, and each new file
    of the next batch then waits for that commit (on ext4, 1 ms per file: most of a fresh render's time); the one
    sync writes them all in one commit. Elsewhere, or if syncfs fails, an fsync of each."""
    paths = list(paths)
    syncfs = _syncfs() if paths else None
    if syncfs is not None:
        descriptor = os.open(filesystem, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if syncfs(descriptor) == 0:
                return
        finally:
            os.close(descriptor)
    for path in paths:
        sync_file(path)


def sync_file_content(path: Path, content: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def write_file(path: Path, content: bytes, mode: int = FILE_MODE) -> None:
    """Write one file all or nothing: a synced temporary file beside it, renamed over it, the directory synced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_directory(path.parent)
