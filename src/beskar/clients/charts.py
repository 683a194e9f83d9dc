"""The chart of a HelmRelease, from its Flux source into a content-addressed cache (chart_sources fetches,
chart_entries keeps), and what the charts' CRDs make the cluster serve."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from beskar import tree as trees
from beskar.build import manifests, payloads
from beskar.build.versions import ConstraintError, best_version, parse_constraint
from beskar.clients.chart_entries import (CACHE_ENV, CacheEntry, FetchedChart, Source, SourceError, cache_root,
                                          digest_directory, stamp_directory)
from beskar.clients import helm
from beskar.clients.chart_sources import GitSources, HelmRepositories

__all__ = ["CACHE_ENV", "CacheEntry", "ChartCache", "FetchedChart", "Source", "SourceError", "cache_root",
           "digest_directory", "stamp_directory"]


class ChartCache(GitSources, HelmRepositories):
    """The cache directory: git/<commit>/, archives/<sha256>.tgz, charts/<key>/<chart>/, renders/, sites/."""

    def __init__(self, root: Path):
        super().__init__(root)
        self._resolved: dict[tuple[str, str], str] = {}  # (url, ref) -> commit, once per build
        self._indexes: dict[str, dict[str, Any]] = {}  # location -> its index.yaml, read once per build
        self._crd_rows: dict[str, bytes | None] = {}  # chart digest -> its CRDs' rows, read once per build

    def chart(self, source: Source, chart: str, version: str | None) -> FetchedChart:
        if source.kind == "GitRepository":
            return self._git_chart(source, chart)
        if source.kind == "OCIRepository" or source.oci or source.location.startswith("oci://"):
            return self._oci_chart(source, chart, version)
        if source.kind == "HelmRepository":
            return self._helm_chart(source, chart, version)
        raise SourceError(f"{source.label}: Beskar cannot fetch charts from a {source.kind}")

    def fingerprint(self, source: Source, chart: str, version: str | None) -> str | None:
        """What `chart()` would fetch, found without fetching or verifying it: the commit a git ref points at, the
        version and archive digest a chart repository's index gives. None where only the fetch can say (OCI, a
        plain folder, an index without digests); a source error is None too (the fetch reports it)."""
        try:
            location = source.location
            if source.kind == "GitRepository":
                local = Path(location) if "://" not in location else None
                if local is not None and local.is_dir() and not (local / ".git").exists():
                    return None
                return f"git:{self._git_commit(source, location)}:{chart}"
            if source.kind == "HelmRepository" and not source.oci and not location.startswith("oci://"):
                location = location.rstrip("/")
                versions = (self._index(source, location).get("entries") or {}).get(chart) or []
                best = best_version(parse_constraint(version), [str(v.get("version")) for v in versions])
                entry = next((v for v in versions if str(v.get("version")) == best), None)
                digest = str((entry or {}).get("digest") or "")
                return f"helm:{location}:{chart}:{best}:{digest}" if digest else None
        except (SourceError, ConstraintError):
            return None
        return None

    # ---- what a chart's crds/ make the cluster serve (Helm's Capabilities.APIVersions for the others)

    def crd_rows(self, fetched: FetchedChart) -> bytes | None:
        """The chart's CRDs as Helm installs them (the crds/ of the chart and of its subcharts), read once per chart
        and kept beside what they serve: [[file, body], ...] as build/payloads.py writes it. kube-prometheus-stack's
        are 4 MB of YAML, a tenth of a second to read, for every site that installs them. None when they do not
        read as objects (the render then reads them itself, and says why)."""
        if fetched.digest not in self._crd_rows:
            self._crd_rows[fetched.digest] = self._read_crd_rows(fetched)
        return self._crd_rows[fetched.digest]

    def _read_crd_rows(self, fetched: FetchedChart) -> bytes | None:
        memo = self.root / "apis" / f"{fetched.digest.removeprefix('sha256:')}.crds.json"
        try:
            stored = payloads.unsealed(memo.read_bytes())
            if stored is not None:
                return stored
        except OSError:
            pass  # read anew, as when the memo is corrupt
        try:
            rows = [[name, body] for name, text in sorted(helm.chart_crds(fetched.path))
                    for body in manifests.parse_documents(name, text)]
        except (helm.HelmError, manifests.ManifestError):
            return None
        found = payloads.encode(rows)
        if found is not None:
            trees.write_file(memo, payloads.sealed(found))
        return found

    def served_apis(self, fetched: FetchedChart) -> tuple[str, ...]:
        """`group/version` and `group/version/Kind` of the CRDs in the chart's crds/ folders (also subcharts')."""
        memo = self.root / "apis" / f"{fetched.digest.removeprefix('sha256:')}.json"
        try:
            return tuple(json.loads(memo.read_text()))
        except (OSError, ValueError):
            pass
        found: set[str] = set()
        for crd in sorted(fetched.path.rglob("crds/*.yaml")):
            try:
                documents = manifests.parse_documents(crd.name, crd.read_text())
            except (manifests.ManifestError, OSError, UnicodeDecodeError):
                continue
            for body in documents:
                spec = body.get("spec") or {} if body.get("kind") == "CustomResourceDefinition" else {}
                group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
                for version in spec.get("versions") or []:
                    if group and kind and isinstance(version, dict) and version.get("served", True):
                        found.update({f"{group}/{version.get('name')}", f"{group}/{version.get('name')}/{kind}"})
        served = tuple(sorted(found))
        memo.parent.mkdir(parents=True, exist_ok=True)
        temporary = memo.with_name(memo.name + f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(served))
        os.replace(temporary, memo)
        return served
