"""Helm renders spread over worker processes that load only the Helm adapter (the SDK renders one at a time in a process)."""

from __future__ import annotations

import json
import os
import queue
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any, Self

import orjson

import beskar
from beskar.clients import helm

# Go's collector in a worker, unless GOGC is set: at Go's default (100) a render of an openstack-helm chart spends a
# third of its CPU collecting; at 400, measured over 40 renders of the 50-site benchmark fleet, 35% less CPU and 25%
# less wall time, for a larger heap between collections. (This process's Go runtime read its environment when
# Helm was loaded: setting GOGC now would not reach it.)
WORKER_GOGC = "400"
_LENGTH = struct.Struct(">Q")  # each message: its length, then that many bytes of JSON


def _send(stream: IO[bytes], data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> bytes | None:
    """The next message, or None at the end of the stream (a whole message or none: a cut one is the end too)."""
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    size = _LENGTH.unpack(header)[0]
    data = stream.read(size)
    return data if len(data) == size else None


# A job's values go as json writes them (a value orjson would change, an int beyond 64 bits, NaN, reaches Helm as it
# is); a reply is Helm's text, which orjson writes and reads back exactly, in a fraction of json's time.
def _job_bytes(job: dict[str, Any]) -> bytes:
    return json.dumps(job, ensure_ascii=False, separators=(",", ":")).encode()


def _reply_bytes(reply: dict[str, Any]) -> bytes:
    return orjson.dumps(reply)


class _Local:
    """The slot of this process: it has Helm loaded already, so one render at a time runs here, in a thread that
    releases the GIL while Go renders."""

    def __init__(self) -> None:
        self._charts = helm.LoadedCharts()

    def render(self, job: dict[str, Any]) -> helm.Rendered:
        return self._charts.render(Path(job["chart"]), job["values"], name=job["name"], namespace=job["namespace"],
                                   capabilities=helm.Capabilities(job["kube_version"], tuple(job["api_versions"])),
                                   include_crds=job["include_crds"])

    def close(self) -> None:
        self._charts.__exit__()


class _Worker:
    """A worker process: a fresh interpreter that imports this module and the adapter, nothing else of Beskar. Not a
    fork: Go's runtime, loaded with Helm in this process, does not survive one (its threads stay behind); nor
    multiprocessing's spawn or forkserver: both import the parent's __main__ in each worker (the `beskar` script or a
    benchmark, so all of Beskar again)."""

    def __init__(self) -> None:
        source = str(Path(beskar.__file__).resolve().parent.parent)  # this Beskar, wherever it was imported from
        env = {"GOGC": WORKER_GOGC, **os.environ,
               "PYTHONPATH": os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)}
        # -P: the working directory (a fleet) is not on the worker's path. Same session and process group as this
        # process: a build killed with its group takes its workers along; a closed pipe ends them otherwise.
        self.process = subprocess.Popen([sys.executable, "-P", "-m", __name__], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env)

    def render(self, job: dict[str, Any]) -> helm.Rendered:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            _send(self.process.stdin, _job_bytes(job))
            data = _receive(self.process.stdout)
        except OSError:
            data = None
        reply = orjson.loads(data) if data is not None else None
        if reply is None:
            code = self.process.wait()
            raise _Died(f"the Helm worker process stopped (exit status {code}) rendering {job['chart']}")
        if "error" in reply:
            raise helm.HelmError(reply["error"])
        return helm.Rendered(reply["manifests"], tuple((name, data) for name, data in reply["crds"]))

    def close(self) -> None:
        self.leave()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def leave(self) -> None:
        """Tell the worker to go (the end of its input), without waiting for it."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass


class _Died(helm.HelmError):
    """A worker that stopped: the render fails, the slot gets a fresh worker."""


class HelmPool:
    """Renders on `processes` slots at once, each chart loaded once per slot. One slot is this process (nothing to
    start); more are that many worker processes, whose Go runtimes start with the batch collector setting: the Go
    runtime of this process read its environment when the process started, and renders here cost ~40% more CPU
    (measured over the example fleet's 32 renders: 3.7 to 4.6 CPU seconds at Go's default, 2.3 to 2.5 at 400).
    render() is called from many threads; each waits for a free slot. The output of a render is Helm's own, wherever
    it ran: the same bytes whatever the number of processes."""

    def __init__(self, processes: int) -> None:
        self._free: queue.SimpleQueue[_Local | _Worker] = queue.SimpleQueue()
        # Workers start now: they load Helm while this process does what comes before the first render.
        self._slots: list[_Local | _Worker] = [_Local()] if processes <= 1 else [_Worker() for _ in range(processes)]
        self._lock = threading.Lock()
        for slot in self._slots:
            self._free.put(slot)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        with self._lock:
            for slot in self._slots:
                if isinstance(slot, _Worker):
                    slot.leave()  # all at once: each takes a while to end
            for slot in self._slots:
                slot.close()
            self._slots.clear()

    def render(self, chart_path: Path, values: dict[str, Any], *, name: str, namespace: str,
               capabilities: helm.Capabilities, include_crds: bool) -> helm.Rendered:
        job = {"chart": str(chart_path), "values": values, "name": name, "namespace": namespace,
               "kube_version": capabilities.kube_version, "api_versions": list(capabilities.api_versions),
               "include_crds": include_crds}
        slot = self._free.get()
        try:
            return slot.render(job)
        except _Died:
            slot.close()
            with self._lock:
                fresh = _Worker() if self._slots else None
                if fresh is not None:
                    self._slots[self._slots.index(slot)] = fresh
            slot = fresh or slot
            raise
        finally:
            self._free.put(slot)


def serve() -> None:
    """A worker's loop: a job in on stdin, Helm's output (or its error) out, until stdin closes."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever else writes to stdout (Go, a library) goes to stderr, not into the replies
    jobs = sys.stdin.buffer
    helm.quiet()
    local = _Local()
    try:
        while (data := _receive(jobs)) is not None:
            try:
                rendered = local.render(json.loads(data))
                reply: dict[str, Any] = {"manifests": rendered.manifests, "crds": rendered.crds}
            except helm.HelmError as error:
                reply = {"error": str(error)}
            _send(replies, _reply_bytes(reply))
    except (BrokenPipeError, KeyboardInterrupt):
        pass  # the build stopped: so does its worker, quietly
    finally:
        local.close()


if __name__ == "__main__":
    serve()
