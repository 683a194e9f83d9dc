"""Real chart sources for the build tests, started by the fixtures: openstack-helm cloned with git from the
reference bundle, the upstream charts served as a Helm repository over HTTP, an OCI registry (docker-registry)."""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

REFERENCE = Path(os.environ.get("BESKAR_REFERENCE") or Path(__file__).resolve().parents[2] / "shared" / "reference")
CHARTS = REFERENCE / "charts"
BUNDLE = CHARTS / "openstack-helm.bundle"
HELM_REPOSITORY = CHARTS / "helm-repository"
UPSTREAM_SOURCES = ("ingress-nginx", "prometheus-community", "rook-release")  # the example fleet's HelmRepositories


def need_reference() -> None:
    if not BUNDLE.is_file() or not (HELM_REPOSITORY / "index.yaml").is_file():
        pytest.skip(f"needs the reference charts in {CHARTS} (../shared, absent in a user's clone)")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class Served:
    """A directory served over HTTP on 127.0.0.1 until stopped."""

    def __init__(self, directory: Path):
        handler = functools.partial(_Quiet, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def serve(directory: Path) -> Iterator[Served]:
    served = Served(directory)
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="session")
def osh_clone(tmp_path_factory) -> Path:
    """openstack-helm cloned with git from the reference bundle (tags 2025.1.0, 2025.2.0, 2026.1.0)."""
    need_reference()
    target = tmp_path_factory.mktemp("osh") / "openstack-helm"
    subprocess.run(["git", "clone", "--quiet", str(BUNDLE), str(target)], check=True, capture_output=True)
    return target


@pytest.fixture(scope="session")
def helm_repository(tmp_path_factory) -> Iterator[Served]:
    """The upstream charts as a real Helm repository over HTTP on 127.0.0.1."""
    need_reference()
    folder = tmp_path_factory.mktemp("helm-repository") / "repo"
    shutil.copytree(HELM_REPOSITORY, folder)
    yield from serve(folder)


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory) -> Path:
    """One chart and render cache for the whole session."""
    return tmp_path_factory.mktemp("beskar-cache")


@pytest.fixture(scope="session")
def example_sources(osh_clone, helm_repository) -> dict[str, str]:
    """--chart-source overrides that point the example fleet's sources at the local ones."""
    return {"openstack-helm": str(osh_clone), **{name: helm_repository.url for name in UPSTREAM_SOURCES}}


def source_arguments(sources: dict[str, str]) -> list[str]:
    return [part for name, location in sorted(sources.items()) for part in ("--chart-source", f"{name}={location}")]


@pytest.fixture(scope="session")
def built_fleet(tmp_path_factory, example_sources, build_cache):
    """The example fleet as `beskar demo` writes it, built once per session: (fleet root, SiteBuilds)."""
    from beskar.operations import build, demo

    root = tmp_path_factory.mktemp("built") / "fleet"
    demo.write_demo(root)
    builds = build.build_fleet(root, None, build.BuildOptions(chart_sources=example_sources, cache=build_cache))
    return root, builds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def oci_registry(tmp_path) -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1 with a temporary storage; yields host:port."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("needs docker-registry (Debian package docker-registry; .ci/run installs it)")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\n"
        "http:\n  addr: 127.0.0.1:%d\n" % (tmp_path / "registry-data", port))
    process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("docker-registry did not start")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
