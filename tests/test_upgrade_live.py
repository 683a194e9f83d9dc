"""`beskar upgrade next/status --live`: the site's Flux objects read with the real `kubernetes` client from an HTTP
endpoint that answers the two list calls as an API server does (no API server runs here), with objects that
validate against the Flux CRDs' schemas (test_upgrade_plan.status_list checks them)."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import Iterator

import pytest

from beskar.clients.flux_status import ClusterUnreachable, as_list, read_flux_status

from build_sources import free_port
from test_upgrade_plan import helm_release, kustomization, status_list
from test_upgrade_walk import snapshot

LISTS = {"/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations": ("kustomize.toolkit.fluxcd.io/v1", "KustomizationList"),
         "/apis/helm.toolkit.fluxcd.io/v2/helmreleases": ("helm.toolkit.fluxcd.io/v2", "HelmReleaseList")}


class FluxLists:
    """What the endpoint answers: the objects of each kind, and the requests it saw."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.requests: list[tuple[str, str]] = []


def serve(state: FluxLists) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?")[0]
            state.requests.append((path, self.headers.get("Authorization", "")))
            if path not in LISTS:
                self.send_response(404)
                self.end_headers()
                return
            api_version, kind = LISTS[path]
            items = [i for i in state.items if i["apiVersion"] == api_version]
            body = json.dumps({"apiVersion": api_version, "kind": kind, "metadata": {"resourceVersion": "7"},
                               "items": items}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig(path: Path, server: str, context: str = "prod-brno") -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "brno", "cluster": {"server": server}}],
        "users": [{"name": "operator", "user": {"token": "t0ken"}}],
        "contexts": [{"name": context, "context": {"cluster": "brno", "user": "operator"}}]}))
    return path


@pytest.fixture
def cluster(tmp_path) -> Iterator[tuple[FluxLists, Path]]:
    pytest.importorskip("kubernetes", reason="the live reader needs the kubernetes client")
    state = FluxLists()
    for server in serve(state):
        yield state, kubeconfig(tmp_path / "kubeconfig", server)


def test_the_reader_lists_both_kinds_as_kubectl_would(cluster):
    state, config = cluster
    state.items = status_list(kustomization(), helm_release("mariadb"), helm_release("keystone"))["items"]
    document = read_flux_status("prod-brno", config)
    assert document["kind"] == "List" and document["items"] == state.items
    assert [path for path, _ in state.requests] == list(LISTS)
    assert {auth for _, auth in state.requests} == {"Bearer t0ken"}


def test_items_without_kind_take_the_lists():
    listed = {"items": [{"metadata": {"name": "x"}}, "junk"]}
    assert as_list(listed, "helm.toolkit.fluxcd.io", "v2", "HelmRelease") == [
        {"metadata": {"name": "x"}, "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease"}]


def test_an_unknown_context_or_a_cluster_not_there_is_unreachable(cluster, tmp_path):
    _, config = cluster
    with pytest.raises(ClusterUnreachable, match="kubeconfig"):
        read_flux_status("prod-ostrava", config)
    closed = kubeconfig(tmp_path / "closed", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ClusterUnreachable, match="cannot reach the API server"):
        read_flux_status(None, closed, timeout=2)


def test_next_live_waits_for_the_stage_then_goes_on(cluster, demo_fleet, run_beskar):
    state, config = cluster
    assert run_beskar("upgrade", "start", "--to", "2025.2", cwd=demo_fleet).returncode == 0
    state.items = status_list(kustomization(), helm_release("mariadb", ready="False"))["items"]
    before = snapshot(demo_fleet)
    refused = run_beskar("upgrade", "next", "--live", "--kubeconfig", config, cwd=demo_fleet)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "stage mariadb is not done: HelmRelease mariadb is not Ready" in refused.stderr
    assert snapshot(demo_fleet) == before
    shown = run_beskar("upgrade", "status", "--context", "prod-brno", "--kubeconfig", config, "-o", "json",
                       cwd=demo_fleet)
    assert shown.returncode == 0 and json.loads(shown.stdout)["waiting"]["prod-brno"]
    state.items = status_list(kustomization(), helm_release("mariadb"))["items"]
    moved = run_beskar("upgrade", "next", "--live", "--kubeconfig", config, cwd=demo_fleet)
    assert moved.returncode == 0 and "rabbitmq-4.0" in moved.stdout, moved.stderr


def test_next_live_on_a_cluster_it_cannot_read_is_exit_2(demo_fleet, run_beskar, tmp_path):
    pytest.importorskip("kubernetes", reason="the live reader needs the kubernetes client")
    assert run_beskar("upgrade", "start", "--to", "2025.2", cwd=demo_fleet).returncode == 0
    closed = kubeconfig(tmp_path / "closed", f"http://127.0.0.1:{free_port()}")
    refused = run_beskar("upgrade", "next", "--live", "--kubeconfig", closed, cwd=demo_fleet)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "prod-brno: cannot read the cluster status (context prod-brno)" in " ".join(refused.stderr.split())
