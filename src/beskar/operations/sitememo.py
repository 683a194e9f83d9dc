"""Whole site builds kept in the cache by a digest of their inputs, so an unchanged site is neither planned nor
rendered again: its tree, Kubernetes version, chart sources and keys, and the revision each chart resolves to."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import beskar
from beskar import tree as trees
from beskar.build.memo import memo_key, site_from_json, site_to_json
from beskar.build.objects import SiteBuild
from beskar.build.releases import RENDER_FORMAT
from beskar.clients import charts
from beskar.operations.compilation import CompiledFleet
from beskar.secrets import age as ages


@dataclass(frozen=True)
class Request:
    """A chart a site's HelmRelease asks for: the source, the chart in it, the version constraint."""

    source: charts.Source
    chart: str
    version: str | None


def site_key(compiled: CompiledFleet, name: str, overrides: Mapping[str, str], identities: Iterable[ages.Identity],
             releases: frozenset[str] | None) -> str:
    """Everything but the charts' revisions (checked on use: a branch or an index moves on its own)."""
    tree = compiled.rendered[name].tree
    prefixes = (f"clusters/{name}/", f"apps/{name}/")
    files = [[path, tree.files[path]] for path in sorted(tree.files) if path.startswith(prefixes)]
    raw = [[path, hashlib.sha256(tree.raw[path]).hexdigest()] for path in sorted(tree.raw) if path.startswith(prefixes)]
    return memo_key(beskar.__version__, RENDER_FORMAT, name, compiled.sites[name].kubernetes.version,
                    sorted(overrides.items()), sorted(releases) if releases is not None else None,
                    sorted({i.recipient for i in identities}), files, raw)


class SiteMemo:
    """sites/<key[:2]>/<key>.json in the chart cache, the sha256 of the payload on the first line."""

    def __init__(self, cache: charts.ChartCache):
        self.cache = cache

    def _path(self, key: str) -> Path:
        return self.cache.root / "sites" / key[:2] / f"{key}.json"

    def get(self, key: str) -> SiteBuild | None:
        try:
            stored = self._path(key).read_bytes()
        except OSError:
            return None
        digest, _, payload = stored.partition(b"\n")
        if digest.decode(errors="replace") != hashlib.sha256(payload).hexdigest():
            return None  # corrupt: built again and stored anew
        try:
            entry = json.loads(payload)
            for source, chart, version, fingerprint in entry["charts"]:
                if self.cache.fingerprint(charts.Source(**source), chart, version) != fingerprint:
                    return None
            return site_from_json(entry["build"])
        except (ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, requests: list[Request], build: SiteBuild) -> None:
        rows = []
        for request in requests:
            fingerprint = self.cache.fingerprint(request.source, request.chart, request.version)
            if fingerprint is None:
                return  # only a fetch would tell whether this chart moved: the site is not kept
            rows.append([dataclasses.asdict(request.source), request.chart, request.version, fingerprint])
        try:
            payload = json.dumps({"charts": rows, "build": site_to_json(build)}, separators=(",", ":"),
                                 ensure_ascii=False).encode()
        except (TypeError, ValueError):
            return  # an object JSON cannot hold as it is (a date, a key that is no string): built each time
        trees.write_file(self._path(key), hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
