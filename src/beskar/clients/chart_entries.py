"""The chart cache on disk: its entries, written under a temporary name and moved into place, each with a
manifest, and verified by digest when used, so a killed fetch leaves nothing a later build would trust."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

CACHE_ENV = "BESKAR_CACHE"


class SourceError(Exception):
    """A source that cannot give the chart: unreachable, no such ref, chart or version, corrupt archive."""


def cache_root(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "beskar"


@dataclass(frozen=True)
class Source:
    """A Flux source object as the chart fetch needs it; `override` is a local path or URL standing in."""

    kind: str  # GitRepository | HelmRepository | OCIRepository
    namespace: str
    name: str
    url: str
    ref: dict[str, Any] = field(default_factory=dict, hash=False)
    oci: bool = False  # HelmRepository of type oci
    insecure: bool = False
    override: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def location(self) -> str:
        return self.override or self.url


@dataclass(frozen=True)
class FetchedChart:
    """A chart ready to render (dependencies built) and what it came from."""

    path: Path
    url: str
    version: str
    revision: str  # git commit, archive digest or OCI manifest digest
    digest: str  # of the chart as rendered: source revision and chart path


@dataclass(frozen=True)
class CacheEntry:
    kind: str
    path: Path
    source: str
    ref: str
    size: int


def digest_directory(path: Path) -> str:
    """sha256 over every file's relative path, mode bit x and content, in sorted order."""
    outer = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path).as_posix()
        outer.update(relative.encode() + b"\0")
        outer.update(hashlib.sha256(file.read_bytes()).digest())
    return "sha256:" + outer.hexdigest()


def stamp_directory(path: Path) -> str:
    """A cheap fingerprint (paths, sizes, modification times): unchanged stamp, unchanged files."""
    rows = []
    for directory, _, names in os.walk(path):
        relative = os.path.relpath(directory, path)
        for name in names:
            try:
                info = os.stat(os.path.join(directory, name))
            except OSError:
                continue  # a dangling link is no file
            if stat.S_ISREG(info.st_mode):
                rows.append(f"{name if relative == '.' else relative + '/' + name}\0{info.st_size}\0{info.st_mtime_ns}\0")
    return hashlib.sha256("".join(sorted(rows)).encode()).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CacheEntries:
    """The cache directory: git/<commit>/, archives/<sha256>.tgz, charts/<key>/<chart>/, renders/, sites/."""

    def __init__(self, root: Path):
        self.root = root
        self._verified: dict[Path, dict[str, Any]] = {}  # entries checked by digest in this process

    def _staging(self) -> Path:
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.root / "tmp"))

    def _publish(self, staged: Path, final: Path, manifest: dict[str, Any]) -> None:
        """Move a finished entry into place, then its manifest (the mark that the entry is whole)."""
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            shutil.rmtree(final, ignore_errors=True) if final.is_dir() else final.unlink()
        os.replace(staged, final)
        if final.is_dir():
            manifest = {**manifest, "stamp": stamp_directory(final)}
        self._write_marker(final.with_name(final.name + ".json"), manifest)

    def _valid(self, entry: Path) -> dict[str, Any] | None:
        if entry in self._verified:
            return self._verified[entry]
        marker = entry.with_name(entry.name + ".json")
        if not entry.exists() or not marker.is_file():
            return None
        try:
            manifest = json.loads(marker.read_text())
        except (OSError, ValueError):
            return None
        if entry.is_dir():
            # Contents are hashed again only when a file's size or time moved since the entry was published.
            stamp = stamp_directory(entry)
            if manifest.get("stamp") != stamp:
                if manifest.get("digest") != digest_directory(entry):
                    return None
                manifest = {**manifest, "stamp": stamp}
                self._write_marker(marker, manifest)
        elif manifest.get("digest") != "sha256:" + _sha256_file(entry):
            return None
        self._verified[entry] = manifest
        return manifest

    @staticmethod
    def _write_marker(marker: Path, manifest: dict[str, Any]) -> None:
        temporary = marker.with_name(marker.name + f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(manifest, sort_keys=True))
        os.replace(temporary, marker)

    # ---- `beskar charts list | clean`

    def entries(self) -> Iterator[CacheEntry]:
        for group in ("git", "charts"):
            directory = self.root / group
            if not directory.is_dir():
                continue
            for marker in sorted(directory.glob("*.json")):
                try:
                    manifest = json.loads(marker.read_text())
                except (OSError, ValueError):
                    continue
                entry = marker.with_suffix("")
                size = sum(p.stat().st_size for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else 0
                yield CacheEntry(str(manifest.get("kind", group)), entry, str(manifest.get("source", "")),
                                 str(manifest.get("ref", "")), size)

    def clean(self) -> int:
        """Remove everything the cache holds; the number of bytes freed."""
        if not self.root.is_dir():
            return 0
        freed = sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())
        for child in self.root.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        return freed
