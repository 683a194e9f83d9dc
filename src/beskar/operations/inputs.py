"""What a site's compile reads, as digests: Beskar itself, the shared layers and every file of the site; render
skips an unchanged site by them, build keeps a site's whole build under them."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from functools import lru_cache
from pathlib import Path

import pydantic
import yaml

import beskar
from beskar.fleet.repository import FLEET_FILE


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """Beskar as it runs: every file of the package (code, catalog, templates), and what shapes its output."""
    digest = hashlib.sha256(f"{beskar.__version__}\0{sys.version}\0{yaml.__version__}\0"
                            f"{getattr(yaml, '__with_libyaml__', False)}\0{pydantic.VERSION}\0".encode())
    base = Path(beskar.__file__).parent
    for directory, subdirectories, files in os.walk(base):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                content = handle.read()
            digest.update(f"{os.path.relpath(path, base)}\0{len(content)}\0".encode() + content)
    return digest.hexdigest()


def _file_digest(digest, root: Path, relative: str) -> None:
    """The file's name, size and bytes into `digest`; only a regular file is read (a FIFO or a device in the
    fleet would block or never end: the full render then says what is wrong with it, with its place)."""
    path = root / relative
    status = os.stat(path)  # an OSError: no digest, no skip
    if not stat.S_ISREG(status.st_mode):
        raise OSError(f"{relative} is not a regular file")
    content = path.read_bytes()
    digest.update(f"{relative}\0{len(content)}\0".encode() + content)


def shared_digest(root: Path) -> str | None:
    """beskar.yaml and every profile: any of them may layer into any site; None if one cannot be read."""
    digest = hashlib.sha256(_code_digest().encode())
    try:
        _file_digest(digest, root, FLEET_FILE)
        profiles = root / "profiles"
        for name in sorted(os.listdir(profiles)) if profiles.is_dir() else []:
            _file_digest(digest, root, f"profiles/{name}")
    except OSError:
        return None
    return digest.hexdigest()


def site_digest(root: Path, name: str, shared: str | None) -> str | None:
    """Everything a site's render reads: the shared layers, every file under sites/<site>/ (the site, its
    encrypted Secret, its image lock), and whether flux bootstrap wrote its flux-system; None if unreadable."""
    if shared is None:
        return None
    digest = hashlib.sha256(f"{shared}\0{name}\0".encode())
    digest.update(b"bootstrapped" if (root / "clusters" / name / "flux-system" / "kustomization.yaml").is_file()
                  else b"not bootstrapped")
    base = root / "sites" / name
    try:
        for directory, subdirectories, files in os.walk(base, onerror=_raise):
            subdirectories.sort()
            for file in sorted(files):
                _file_digest(digest, root, Path(directory, file).relative_to(root).as_posix())
    except OSError:
        return None
    return digest.hexdigest()


def _raise(error: OSError) -> None:
    raise error
