"""The Helm worker pool: the same output as Helm in this process, Go's collector set for batch work, a dead worker
replaced."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from beskar.clients import helm, helm_pool

from test_build_mechanism import write_chart

CAPABILITIES = helm.Capabilities("v1.32.0")


def _render(pool, chart: Path, name: str) -> helm.Rendered:
    return pool.render(chart, {"replicas": 3}, name=name, namespace="openstack", capabilities=CAPABILITIES,
                       include_crds=True)


def _environment(worker: helm_pool._Worker, chart: Path) -> dict[str, str]:
    """The worker's environment, read once it has rendered (until its exec, /proc shows the parent's)."""
    assert worker.render({"chart": str(chart), "values": {}, "name": "a", "namespace": "openstack",
                          "kube_version": "v1.32.0", "api_versions": [], "include_crds": False}).manifests
    raw = Path(f"/proc/{worker.process.pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def test_every_slot_renders_what_helm_renders_here(tmp_path):
    chart = write_chart(tmp_path / "small")
    expected = helm.render(chart, {"replicas": 3}, name="a", namespace="openstack", capabilities=CAPABILITIES,
                           include_crds=True)
    with helm_pool.HelmPool(2) as pool:
        # More than one slot: every one a worker, whose Go collector is set as this process's cannot be any more.
        assert len(pool._slots) == 2 and all(isinstance(slot, helm_pool._Worker) for slot in pool._slots)
        rendered = [_render(pool, chart, "a") for _ in range(4)]  # the slots are taken in turn
    with helm_pool.HelmPool(1) as pool:
        assert [type(slot) for slot in pool._slots] == [helm_pool._Local]  # one: this process, nothing to start
        rendered.append(_render(pool, chart, "a"))
    assert all(r == expected for r in rendered) and expected.manifests


def test_a_worker_runs_go_with_the_batch_collector_setting_unless_gogc_is_set(monkeypatch, tmp_path):
    chart = write_chart(tmp_path / "small")
    monkeypatch.delenv("GOGC", raising=False)
    worker = helm_pool._Worker()
    try:
        assert _environment(worker, chart)["GOGC"] == helm_pool.WORKER_GOGC
    finally:
        worker.close()
    monkeypatch.setenv("GOGC", "150")
    worker = helm_pool._Worker()
    try:
        assert _environment(worker, chart)["GOGC"] == "150"
    finally:
        worker.close()


def test_a_dead_worker_fails_its_render_and_is_replaced(tmp_path):
    chart = write_chart(tmp_path / "small")
    with helm_pool.HelmPool(2) as pool:
        worker = pool._slots[1]
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
        outcomes = []
        for _ in range(2):  # one of the two renders lands on the dead worker
            try:
                outcomes.append(_render(pool, chart, "a").manifests != {})
            except helm.HelmError as error:
                outcomes.append(str(error))
        died = [o for o in outcomes if isinstance(o, str)]
        assert len(died) == 1 and "the Helm worker process stopped" in died[0]
        assert pool._slots[1] is not worker and pool._slots[1].process.poll() is None
        assert _render(pool, chart, "b").manifests and _render(pool, chart, "c").manifests
