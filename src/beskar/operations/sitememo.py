"""Whole site builds kept in the cache by a digest of their inputs, so an unchanged site is neither compiled,
planned nor rendered again. Two keys lead to a build: the fleet's input files (the site's own folder and every
shared file), which spares the compile; and the compiled site (its tree, Kubernetes version), for a change that
renders alike. Both also hold the chart sources and keys; the revision each chart resolves to is checked on use."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import beskar
from beskar import tree as trees
from beskar.build.memo import memo_key, site_from_record, site_record
from beskar.build.objects import SiteBuild
from beskar.build.releases import RENDER_FORMAT
from beskar.clients import charts
from beskar.fleet.repository import FLEET_FILE, site_directories
from beskar.operations.compilation import CompiledFleet
from beskar.operations.inputs import shared_digest, site_digest
from beskar.secrets import age as ages


@dataclass(frozen=True)
class Request:
    """A chart a site's HelmRelease asks for: the source, the chart in it, the version constraint."""

    source: charts.Source
    chart: str
    version: str | None


def build_context(chart_sources: Mapping[str, str], identities: Iterable[ages.Identity],
                  releases: frozenset[str] | None) -> list[object]:
    """What a build depends on besides the fleet: the chart sources given, the keys at hand, --release."""
    return [sorted(chart_sources.items()), sorted({i.recipient for i in identities}),
            sorted(releases) if releases is not None else None]


def site_key(compiled: CompiledFleet, name: str, overrides: Mapping[str, str], context: list[object]) -> str:
    """Everything but the charts' revisions (checked on use: a branch or an index moves on its own)."""
    tree = compiled.rendered[name].tree
    prefixes = (f"clusters/{name}/", f"apps/{name}/")
    files = [[path, tree.files[path]] for path in sorted(tree.files) if path.startswith(prefixes)]
    raw = [[path, hashlib.sha256(tree.raw[path]).hexdigest()] for path in sorted(tree.raw) if path.startswith(prefixes)]
    return memo_key(beskar.__version__, RENDER_FORMAT, name, compiled.sites[name].kubernetes.version,
                    sorted(overrides.items()), context, files, raw)


# Not inputs of a compile: the rendered output (but for the mark of a bootstrapped site), git, Beskar's journal.
def input_keys(root: Path, names: list[str] | None, context: list[object]) -> dict[str, str] | None:
    """Each site's key by what its compile reads (Beskar, the shared layers, the site's files: the digests render
    skips a site by); None when the fleet cannot be read so (its compile says why) or a write is pending."""
    try:
        present, problems = site_directories(root)
        pending = (root / trees.JOURNAL_DIR).exists() or (root / trees.STATE_DIR).is_file()  # as tree.settle sees
        if problems or pending or not (root / FLEET_FILE).is_file():
            return None
        shared = shared_digest(root)
        keys = {}
        for name in names if names is not None else present:
            digest = site_digest(root, name, shared) if name in present else None
            if digest is None:
                return None  # the compile reports it
            keys[name] = memo_key("inputs", RENDER_FORMAT, name, digest, context)
        return keys
    except OSError:
        return None


class SiteMemo:
    """sites/<key[:2]>/<key>.json in the chart cache: the sha256 of the rest on the first line, a JSON header on the
    second, then the objects' JSON the header points into (read only when a caller asks for those objects)."""

    def __init__(self, cache: charts.ChartCache):
        self.cache = cache

    def _path(self, key: str) -> Path:
        return self.cache.root / "sites" / key[:2] / f"{key}.json"

    def _read(self, key: str) -> tuple[dict, memoryview] | None:
        try:
            stored = self._path(key).read_bytes()
        except OSError:
            return None
        # Indices into one buffer, not partitions: the objects are most of 260 MB for a 50-site fleet.
        view = memoryview(stored)
        digest_end = stored.find(b"\n")
        header_end = stored.find(b"\n", digest_end + 1)
        if header_end < 0 or stored[:digest_end].decode(errors="replace") != \
                hashlib.sha256(view[digest_end + 1:]).hexdigest():
            return None  # corrupt: built again and stored anew
        try:
            entry = json.loads(view[digest_end + 1:header_end].tobytes())
        except ValueError:
            return None
        return (entry, view[header_end + 1:]) if isinstance(entry, dict) else None

    def _write(self, key: str, entry: dict, objects: bytes = b"") -> None:
        payload = json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" + objects
        trees.write_file(self._path(key), hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)

    def holds(self, key: str) -> bool:
        """Whether something is stored under the key (get() says whether it is whole and still holds)."""
        return self._path(key).is_file()

    def get(self, key: str) -> SiteBuild | None:
        """The build stored under a site key, or under the site key an input key points at."""
        return self._build(self._found(key))

    def get_many(self, keys: Mapping[str, str], jobs: int) -> dict[str, SiteBuild]:
        """get() of each name's key, the builds found. The files are read and their digests checked on `jobs`
        threads: both let go of the GIL, and at 50 sites they are most of a build where nothing changed."""
        with ThreadPoolExecutor(max(1, jobs)) as threads:
            found = dict(zip(keys, threads.map(self._found, keys.values())))
        return {name: build for name, entry in found.items() if (build := self._build(entry)) is not None}

    def _found(self, key: str) -> tuple[dict, memoryview] | None:
        found = self._read(key)
        if found is not None and isinstance(found[0].get("site_key"), str):
            found = self._read(found[0]["site_key"])
        return found

    def _build(self, found: tuple[dict, memoryview] | None) -> SiteBuild | None:
        if found is None:
            return None
        entry, objects = found
        try:
            for source, chart, version, fingerprint in entry["charts"]:
                if self.cache.fingerprint(charts.Source(**source), chart, version) != fingerprint:
                    return None
            return site_from_record(entry["build"], objects)
        except (ValueError, KeyError, TypeError):
            return None

    def point(self, input_key: str, site_key: str) -> None:
        """The next build of the same input files finds the build without compiling the site."""
        self._write(input_key, {"site_key": site_key})

    def put(self, key: str, requests: list[Request], build: SiteBuild) -> bool:
        rows = []
        for request in requests:
            fingerprint = self.cache.fingerprint(request.source, request.chart, request.version)
            if fingerprint is None:
                return False  # only a fetch would tell whether this chart moved: the site is not kept
            rows.append([dataclasses.asdict(request.source), request.chart, request.version, fingerprint])
        try:
            header, objects = site_record(build)
            self._write(key, {"charts": rows, "build": header}, objects)
        except (TypeError, ValueError):
            return False  # an object JSON cannot hold as it is (a date, a key that is no string): built each time
        return True
