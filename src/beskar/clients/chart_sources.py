"""Chart sources fetched as Flux's source-controller does: GitRepository by `git clone` at its ref (tag, branch,
semver range, commit); HelmRepository by its index.yaml over HTTP(S), the constraint resolved and the archive
checked by digest; OCIRepository and `oci://` HelmRepositories pulled from the registry."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from beskar.build.versions import ConstraintError, best_version, parse_constraint
from beskar.clients import helm
from beskar.clients.chart_entries import CacheEntries, FetchedChart, Source, SourceError, _sha256_file, digest_directory

_TIMEOUT = 30


class GitSources(CacheEntries):
    """GitRepository: the commit a ref points at (ls-remote, once per build), its checkout, the chart copied out."""

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



class HelmRepositories(CacheEntries):
    """HelmRepository: the index (read once per build), the archive by digest, expanded; and OCI registries."""

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
