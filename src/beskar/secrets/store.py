"""The encrypted files on disk: where a site's secrets live, reading them, and writing them atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from beskar.fleet.repository import SECRETS_FILE
from beskar.problems import InputError, Origin, Problem
from beskar.secrets import sopsfile
from beskar.secrets.errors import SopsError

SOPS_CONFIG = ".sops.yaml"


def relative_path(site: str) -> str:
    return f"sites/{site}/{SECRETS_FILE}"


def read_text(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError([Problem(f"not UTF-8 text: {error.reason}", Origin(shown, 1, 1, "secrets"))]) from None
    except OSError as error:
        raise InputError([Problem(f"cannot read {shown}: {error.strerror}")]) from None


def read_secrets(root: Path, site: str) -> sopsfile.SopsFile | None:
    """The site's encrypted file (no key needed), or None if it does not exist yet."""
    relative = relative_path(site)
    path = root / relative
    if not path.is_file():
        return None
    try:
        return sopsfile.read(read_text(path, relative), relative)
    except SopsError as error:
        raise as_input_error(error) from None


def as_input_error(error: SopsError) -> InputError:
    origin = Origin(error.file, error.line or 1, 1, "secrets") if error.file else None
    return InputError([Problem(f"{error.where}: {error.message}", origin)])


@contextlib.contextmanager
def private_directory() -> Iterator[Path]:
    """A 0700 temporary directory, removed with everything in it (editor swap files too) on exit."""
    directory = Path(tempfile.mkdtemp(prefix="beskar-secrets-"))
    try:
        os.chmod(directory, 0o700)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False
