"""The one adapter over Helm: the Helm v4 SDK in-process (helm_python), so a `helm` binary could stand in later."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import yaml
from helm_python import _native


class HelmError(Exception):
    """Helm refused: a chart it cannot load, a dependency it cannot build, a template that fails."""


@dataclass(frozen=True)
class Capabilities:
    kube_version: str
    api_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rendered:
    """Template path -> manifest text, and the chart's CRD files (`crds/`, also of subcharts)."""

    manifests: dict[str, str]
    crds: tuple[tuple[str, str], ...]


def _message(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def chart_metadata(chart_dir: Path) -> dict[str, Any]:
    """Chart.yaml, read without Helm (a folder that is not a chart is reported by the caller)."""
    loaded = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    return loaded if isinstance(loaded, dict) else {}


def build_dependencies(chart_dir: Path) -> None:
    """`helm dependency build`: local (`file://`) dependencies packed into charts/, as helm-controller does."""
    declared = chart_metadata(chart_dir).get("dependencies") or []
    if not declared:
        return
    try:
        helm_python.dependency_build(chart_dir)
    except helm_python.HelmError as error:
        raise HelmError(f"dependency build of {chart_dir.name}: {_message(error)}") from None


def render(chart_path: Path, values: dict[str, Any], *, name: str, namespace: str,
           capabilities: Capabilities, include_crds: bool) -> Rendered:
    """Render as `helm install` would (is_install, revision 1), offline: `lookup` finds nothing."""
    try:
        chart = helm_python.Chart.load(chart_path)
    except helm_python.HelmError as error:
        raise HelmError(_message(error)) from None
    with chart:
        return _render(chart, values, name, namespace, capabilities, include_crds)


class LoadedCharts:
    """Each chart loaded once and shared by the renders of every release that uses it, on any thread: the SDK's
    charts are immutable and safe to share (it releases the GIL while it renders, but renders one at a time)."""

    def __init__(self) -> None:
        self._charts: dict[Path, helm_python.Chart | HelmError] = {}
        self._crds: dict[Path, tuple[tuple[str, str], ...]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> LoadedCharts:
        return self

    def __exit__(self, *_: object) -> None:
        with self._lock:
            for chart in self._charts.values():
                if isinstance(chart, helm_python.Chart):
                    chart.close()
            self._charts.clear()

    def _chart(self, path: Path) -> helm_python.Chart:
        with self._lock:
            if path not in self._charts:
                try:
                    self._charts[path] = helm_python.Chart.load(path)
                except helm_python.HelmError as error:
                    self._charts[path] = HelmError(_message(error))
            found = self._charts[path]
        if isinstance(found, HelmError):
            raise HelmError(str(found))
        return found

    def render(self, chart_path: Path, values: dict[str, Any], *, name: str, namespace: str,
               capabilities: Capabilities, include_crds: bool) -> Rendered:
        chart = self._chart(chart_path)
        rendered = _render(chart, values, name, namespace, capabilities, include_crds=False)
        if not include_crds:
            return rendered
        if chart_path not in self._crds:
            try:
                self._crds[chart_path] = tuple((c["filename"], c["data"]) for c in chart.crds)
            except helm_python.HelmError as error:
                raise HelmError(_message(error)) from None
        return Rendered(rendered.manifests, self._crds[chart_path])


def _render(chart: helm_python.Chart, values: dict[str, Any], name: str, namespace: str, capabilities: Capabilities,
            include_crds: bool) -> Rendered:
    options: dict[str, Any] = {"name": name, "namespace": namespace, "revision": 1, "is_install": True,
                               "kube_version": capabilities.kube_version}
    if capabilities.api_versions:
        options["api_versions"] = list(capabilities.api_versions)
    try:
        # The wrapper's render() does not pass Capabilities; the C ABI takes them in the same options.
        output = _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(options))
        crds = tuple((c["filename"], c["data"]) for c in chart.crds) if include_crds else ()
    except helm_python.HelmError as error:
        raise HelmError(_message(error)) from None
    return Rendered(json.loads(output), crds)


def chart_crds(chart_path: Path) -> tuple[tuple[str, str], ...]:
    try:
        with helm_python.Chart.load(chart_path) as chart:
            return tuple((c["filename"], c["data"]) for c in chart.crds)
    except helm_python.HelmError as error:
        raise HelmError(_message(error)) from None


def archive_digest(archive: Path) -> str:
    return helm_python.digest(archive)


def expand(archive: Path, destination: Path) -> Path:
    """Unpack a chart archive into destination/<chart name>/; a corrupt archive is a HelmError."""
    try:
        helm_python.expand(destination, archive)
    except helm_python.HelmError as error:
        raise HelmError(f"{archive.name}: {_message(error)}") from None
    charts = [p for p in destination.iterdir() if (p / "Chart.yaml").is_file()]
    if len(charts) != 1:
        raise HelmError(f"{archive.name}: not one chart inside")
    return charts[0]


def package(chart_dir: Path, destination: Path) -> Path:
    try:
        return Path(helm_python.package(chart_dir, destination=destination))
    except helm_python.HelmError as error:
        raise HelmError(_message(error)) from None


def push(archive: Path, remote: str, plain_http: bool = False) -> None:
    """Upload a chart archive to an OCI repository root (oci://host/path)."""
    try:
        helm_python.push(archive, remote, plain_http=plain_http)
    except helm_python.HelmError as error:
        raise HelmError(_message(error)) from None


def oci_tags(reference: str, plain_http: bool = False) -> list[str]:
    try:
        with helm_python.RegistryClient(plain_http=plain_http) as client:
            return client.tags(reference)
    except helm_python.HelmError as error:
        raise HelmError(_message(error)) from None


def oci_pull(reference: str, version: str, destination: Path, plain_http: bool = False) -> tuple[Path, str]:
    """Download oci://host/path/chart at version into destination; the archive and its manifest digest."""
    try:
        with helm_python.RegistryClient(plain_http=plain_http) as client:
            manifest = client.resolve(f"{reference}:{version}")
            helm_python.pull(reference, client=client, destination=destination, version=version,
                             plain_http=plain_http)
    except helm_python.HelmError as error:
        raise HelmError(_message(error)) from None
    archives = sorted(destination.glob("*.tgz"))
    if len(archives) != 1:
        raise HelmError(f"{reference}:{version}: the registry sent no chart archive")
    return archives[0], str(manifest.get("digest", ""))


def quiet() -> None:
    """Helm's SDK logs to stderr by default; a build prints its own messages."""
    helm_python.disable_logging()
