"""Chart sources fetched as Flux's source-controller does, into a content-addressed cache.

GitRepository: `git clone` of the url, checked out at the ref (tag, branch, semver range, commit).
HelmRepository: its index.yaml over HTTP(S), the version constraint resolved, the archive checked by digest.
OCIRepository and `oci://` HelmRepositories: the chart pulled from the registry.
Every entry is written under a temporary name and renamed into place, and verified by digest when used,
so a killed fetch leaves nothing a later build would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from beskar.build import manifests
from beskar.build.versions import ConstraintError, best_version, parse_constraint
from beskar.clients import helm

CACHE_ENV = "BESKAR_CACHE"
_TIMEOUT = 30


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


class ChartCache:
    """The cache directory: git/<commit>/, archives/<sha256>.tgz, charts/<key>/<chart>/, renders/."""

    def __init__(self, root: Path):
        self.root = root
        self._resolved: dict[tuple[str, str], str] = {}  # (url, ref) -> commit, once per build
        self._verified: dict[Path, dict[str, Any]] = {}  # entries checked by digest in this process
        self._indexes: dict[str, dict[str, Any]] = {}  # location -> its index.yaml, read once per build

    # ---- entries, written atomically and verified on use

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

    # ---- the chart of a HelmRelease

    def chart(self, source: Source, chart: str, version: str | None) -> FetchedChart:
        if source.kind == "GitRepository":
            return self._git_chart(source, chart)
        if source.kind == "OCIRepository" or source.oci or source.location.startswith("oci://"):
            return self._oci_chart(source, chart, version)
        if source.kind == "HelmRepository":
            return self._helm_chart(source, chart, version)
        raise SourceError(f"{source.label}: Beskar cannot fetch charts from a {source.kind}")

    # GitRepository

    def _git_chart(self, source: Source, chart: str) -> FetchedChart:
        location = source.location
        local = Path(location) if "://" not in location else None
        if local is not None and local.is_dir() and not (local / ".git").exists():
            tree, revision = local, "local:" + digest_directory(local)  # a plain folder: its files as they are
        else:
            revision = self._git_commit(source, location)
            tree = self._git_checkout(source, location, revision)
        relative = Path(chart.lstrip("./") or ".")
        if not (tree / relative / "Chart.yaml").is_file():
            raise SourceError(f"chart {chart} is not in {source.label} ({location}) at {self._describe(source)}")
        return self._prepared(tree, relative, revision, location)

    @staticmethod
    def _describe(source: Source) -> str:
        ref = source.ref or {}
        for key in ("commit", "tag", "semver", "branch", "name"):
            if ref.get(key):
                return f"{key} {ref[key]}"
        return "its default branch"

    def _git_commit(self, source: Source, location: str) -> str:
        ref = source.ref or {}
        key = (location, json.dumps(ref, sort_keys=True))
        if key in self._resolved:
            return self._resolved[key]
        if ref.get("commit"):
            commit = str(ref["commit"])
        else:
            listing = _git(None, "ls-remote", location, error=f"cannot reach {source.label} at {location}")
            refs: dict[str, str] = {}
            for line in listing.splitlines():
                sha, _, name = line.partition("\t")
                if name.endswith("^{}"):
                    refs[name[:-3]] = sha  # the commit an annotated tag points at wins
                else:
                    refs.setdefault(name, sha)
            commit = self._pick(source, refs)
        self._resolved[key] = commit
        return commit

    def _pick(self, source: Source, refs: dict[str, str]) -> str:
        ref = source.ref or {}
        if ref.get("tag"):
            found = refs.get(f"refs/tags/{ref['tag']}")
        elif ref.get("semver"):
            tags = {name.removeprefix("refs/tags/"): sha for name, sha in refs.items() if name.startswith("refs/tags/")}
            try:
                best = best_version(parse_constraint(str(ref["semver"])), list(tags))
            except ConstraintError as error:
                raise SourceError(f"{source.label}: {error}") from None
            found = tags.get(best) if best else None
        elif ref.get("name"):
            found = refs.get(str(ref["name"]))
        else:
            found = refs.get(f"refs/heads/{ref.get('branch') or 'master'}") or refs.get("HEAD")
        if found is None:
            raise SourceError(f"{source.label} ({source.location}) has no {self._describe(source)}")
        return found

    def _git_checkout(self, source: Source, location: str, commit: str) -> Path:
        entry = self.root / "git" / commit
        if self._valid(entry) is not None:
            return entry
        staged = self._staging()
        try:
            work = staged / "tree"
            _git(None, "clone", "--quiet", "--no-checkout", location, str(work),
                 error=f"cannot clone {source.label} from {location}")
            _git(work, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit,
                 error=f"{source.label} ({location}) has no commit {commit}")
            shutil.rmtree(work / ".git")
            self._publish(work, entry, {"kind": "git", "source": location, "ref": self._describe(source),
                                        "commit": commit, "digest": digest_directory(work)})
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return entry

    def _prepared(self, tree: Path, relative: Path, revision: str, url: str) -> FetchedChart:
        """The chart copied out of its source with its `file://` dependencies built, as `helm dependency build`."""
        key = hashlib.sha256(f"{revision}\0{relative.as_posix()}".encode()).hexdigest()
        entry = self.root / "charts" / key
        name = relative.name if relative.name not in ("", ".") else "chart"
        manifest = self._valid(entry)
        if manifest is None:
            staged = self._staging()
            try:
                work = staged / "entry"
                shutil.copytree(tree / relative, work / name, symlinks=False)
                for dependency in helm.chart_metadata(work / name).get("dependencies") or []:
                    repository = str(dependency.get("repository") or "")
                    if repository.startswith("file://"):
                        local = (relative / repository.removeprefix("file://")).as_posix()
                        target = Path(os.path.normpath(work / name / repository.removeprefix("file://")))
                        origin = Path(os.path.normpath(tree / local))
                        if origin.is_dir() and not target.exists():
                            shutil.copytree(origin, target)
                try:
                    helm.build_dependencies(work / name)
                except helm.HelmError as error:
                    raise SourceError(str(error)) from None
                for sibling in list(work.iterdir()):
                    if sibling.name != name:
                        shutil.rmtree(sibling)  # the dependency sources, now packed into charts/
                version = str(helm.chart_metadata(work / name).get("version", ""))
                self._publish(work, entry, {"kind": "chart", "source": url, "ref": f"{relative.as_posix()}@{revision}",
                                            "version": version, "digest": digest_directory(work)})
            finally:
                shutil.rmtree(staged, ignore_errors=True)
            manifest = self._valid(entry) or {}
        return FetchedChart(entry / name, url, str(manifest.get("version", "")), revision, "sha256:" + key)

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

    # HelmRepository

    def _helm_chart(self, source: Source, chart: str, version: str | None) -> FetchedChart:
        location = source.location.rstrip("/")
        index = self._index(source, location)
        versions = (index.get("entries") or {}).get(chart) or []
        if not versions:
            raise SourceError(f"{source.label} ({location}) has no chart {chart}")
        try:
            constraint = parse_constraint(version)
        except ConstraintError as error:
            raise SourceError(f"chart {chart}: {error}") from None
        best = best_version(constraint, [str(v.get("version")) for v in versions])
        if best is None:
            known = ", ".join(sorted(str(v.get("version")) for v in versions))
            raise SourceError(f"no version of chart {chart} in {source.label} satisfies {constraint.text!r} "
                              f"(it has {known})")
        entry = next(v for v in versions if str(v.get("version")) == best)
        digest = str(entry.get("digest") or "")
        urls = entry.get("urls") or []
        if not urls:
            raise SourceError(f"{source.label}: chart {chart} {best} has no download URL")
        archive = self._archive(source, urllib.parse.urljoin(location + "/", str(urls[0])), digest, f"{chart}-{best}")
        return self._expanded(archive, source, best, "sha256:" + _sha256_file(archive))

    def _index(self, source: Source, location: str) -> dict[str, Any]:
        if location not in self._indexes:
            self._indexes[location] = self._read_index(source, location)
        return self._indexes[location]

    def _read_index(self, source: Source, location: str) -> dict[str, Any]:
        raw = _read(f"{location}/index.yaml", f"cannot read the index of {source.label} at {location}")
        try:
            index = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as error:
            raise SourceError(f"{source.label}: index.yaml at {location} is not YAML: {error}") from None
        if not isinstance(index, dict):
            raise SourceError(f"{source.label}: index.yaml at {location} is not a chart repository index")
        return index

    def _archive(self, source: Source, url: str, digest: str, label: str) -> Path:
        if digest:
            cached = self.root / "archives" / f"{digest}.tgz"
            if cached.is_file() and _sha256_file(cached) == digest:
                return cached
        data = _read(url, f"cannot download {label} from {source.label} ({url})")
        actual = hashlib.sha256(data).hexdigest()
        if digest and actual != digest:
            raise SourceError(f"corrupt archive {label} from {source.label} ({url}): its sha256 is {actual}, "
                              f"the index says {digest}")
        final = self.root / "archives" / f"{actual}.tgz"
        final.parent.mkdir(parents=True, exist_ok=True)
        staged = self._staging()
        try:
            (staged / "archive.tgz").write_bytes(data)
            os.replace(staged / "archive.tgz", final)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return final

    def _expanded(self, archive: Path, source: Source, version: str, revision: str) -> FetchedChart:
        key = revision.removeprefix("sha256:")
        entry = self.root / "charts" / key
        manifest = self._valid(entry)
        if manifest is None:
            staged = self._staging()
            try:
                work = staged / "entry"
                work.mkdir()
                try:
                    helm.expand(archive, work)
                except helm.HelmError as error:
                    archive.unlink(missing_ok=True)  # fetched again next time
                    raise SourceError(f"corrupt archive from {source.label}: {error}") from None
                self._publish(work, entry, {"kind": "chart", "source": source.location, "ref": version,
                                            "version": version, "digest": digest_directory(work)})
            finally:
                shutil.rmtree(staged, ignore_errors=True)
            manifest = self._valid(entry) or {}
        chart_dir = next(p for p in sorted(entry.iterdir()) if (p / "Chart.yaml").is_file())
        return FetchedChart(chart_dir, source.location, version, revision, revision)

    # OCI

    def _oci_chart(self, source: Source, chart: str, version: str | None) -> FetchedChart:
        location = source.location.rstrip("/")
        reference = location if source.kind == "OCIRepository" else f"{location}/{chart}"
        plain = source.insecure or urllib.parse.urlparse(reference.replace("oci://", "http://")).hostname in (
            "127.0.0.1", "localhost")
        ref = source.ref or {}
        wanted = str(ref.get("tag") or "") if source.kind == "OCIRepository" else ""
        if not wanted:
            constraint_text = str(ref.get("semver") or "") if source.kind == "OCIRepository" else (version or "")
            try:
                tags = helm.oci_tags(reference, plain_http=plain)
            except helm.HelmError as error:
                raise SourceError(f"cannot reach {source.label} at {reference}: {error}") from None
            try:
                best = best_version(parse_constraint(constraint_text or None), tags)
            except ConstraintError as error:
                raise SourceError(f"chart {chart}: {error}") from None
            if best is None:
                raise SourceError(f"no tag of {reference} in {source.label} satisfies {constraint_text or '*'!r} "
                                  f"(it has {', '.join(tags) or 'none'})")
            wanted = best
        staged = self._staging()
        try:
            try:
                archive, manifest_digest = helm.oci_pull(reference, wanted, staged, plain_http=plain)
            except helm.HelmError as error:
                raise SourceError(f"cannot pull {reference}:{wanted} from {source.label}: {error}") from None
            digest = _sha256_file(archive)
            final = self.root / "archives" / f"{digest}.tgz"
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(archive, final)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        fetched = self._expanded(final, source, wanted, "sha256:" + digest)
        return FetchedChart(fetched.path, reference, wanted, manifest_digest or fetched.revision, fetched.digest)

    # ---- what a chart's crds/ make the cluster serve (Helm's Capabilities.APIVersions for the others)

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


def _git(cwd: Path | None, *args: str, error: str) -> str:
    if shutil.which("git") is None:
        raise SourceError("git is not installed")
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if done.returncode != 0:
        detail = " ".join(done.stderr.split()) or f"exit {done.returncode}"
        raise SourceError(f"{error}: {detail}")
    return done.stdout


def _read(location: str, error: str) -> bytes:
    """The bytes at an http(s):// or file:// URL or a local path."""
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme in ("http", "https", "file"):
        try:
            with urllib.request.urlopen(location, timeout=_TIMEOUT) as response:
                return response.read()
        except (urllib.error.URLError, OSError, ValueError) as failure:
            reason = getattr(failure, "reason", failure)
            raise SourceError(f"{error}: {reason}") from None
    try:
        return Path(location).read_bytes()
    except OSError as failure:
        raise SourceError(f"{error}: {failure.strerror or failure}") from None
