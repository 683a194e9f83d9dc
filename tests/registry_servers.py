"""Real container registries for the image tests: Debian's docker-registry on 127.0.0.1 with a temporary
config (deletion enabled, optionally htpasswd auth), and tiny images written by hand as OCI layouts and pushed
with skopeo."""
from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import shutil
import socket
import subprocess
import tarfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
                  "application/vnd.docker.distribution.manifest.v2+json")


def need_tools() -> None:
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs Debian's {tool} (.ci/run installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Registry:
    """A docker-registry process on 127.0.0.1, its storage in a temporary directory."""

    host: str
    process: subprocess.Popen
    auth: tuple[str, str] | None = None

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(self.host, timeout=10)
        headers = dict(headers or {})
        if self.auth:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(self.auth).encode()).decode()
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    def digest(self, repository: str, tag: str) -> str | None:
        response = self.request("HEAD", f"/v2/{repository}/manifests/{tag}", {"Accept": MANIFEST_TYPES})
        return response.getheader("Docker-Content-Digest") if response.status == 200 else None

    def delete(self, repository: str, tag: str) -> None:
        digest = self.digest(repository, tag)
        assert digest, f"{repository}:{tag} is not in {self.host}"
        response = self.request("DELETE", f"/v2/{repository}/manifests/{digest}")
        assert response.status == 202, response.status

    def repositories(self) -> set[str]:
        connection = http.client.HTTPConnection(self.host, timeout=10)
        connection.request("GET", "/v2/_catalog?n=1000")
        body = json.loads(connection.getresponse().read())
        connection.close()
        return set(body["repositories"])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_registry(directory: Path, auth: tuple[str, str] | None = None) -> Registry:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
              "storage": {"filesystem": {"rootdirectory": str(directory / "data")}, "delete": {"enabled": True}},
              "http": {"addr": f"127.0.0.1:{port}"}}
    if auth:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
            hashed = crypt.crypt(auth[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        (directory / "htpasswd").write_text(f"{auth[0]}:{hashed}\n")
        config["auth"] = {"htpasswd": {"realm": "test", "path": str(directory / "htpasswd")}}
    (directory / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    process = subprocess.Popen(["docker-registry", "serve", str(directory / "config.yml")],
                               stdout=subprocess.DEVNULL, stderr=(directory / "log").open("wb"))
    registry = Registry(f"127.0.0.1:{port}", process, auth)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if registry.request("GET", "/v2/").status in (200, 401):
                return registry
        except OSError:
            time.sleep(0.1)
    registry.stop()
    raise RuntimeError(f"docker-registry did not start: {(directory / 'log').read_text()}")


def oci_layout(directory: Path, content: str) -> Path:
    """A one-layer image as an OCI layout, written by hand: a layer tarball, a config and a manifest."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}", len(data)

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        payload = content.encode()
        info = tarfile.TarInfo("image.txt")
        info.size, info.mtime = len(payload), 0
        tar.addfile(info, io.BytesIO(payload))
    layer, layer_size = blob(buffer.getvalue())
    config, config_size = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                                           "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode())
    manifest, manifest_size = blob(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                    "size": layer_size}]}).encode())
    (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest, "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": "image"}}]}))
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return directory


def push(layout: Path, destination: str) -> None:
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:image", f"docker://{destination}"],
                   check=True, capture_output=True, timeout=120)


def push_images(work: Path, destinations: dict[str, str]) -> None:
    """Push one distinct tiny image per destination (name -> content), a few at a time."""
    def one(item: tuple[int, tuple[str, str]]) -> None:
        index, (destination, content) = item
        push(oci_layout(work / f"image-{index}", content), destination)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, enumerate(sorted(destinations.items()))))
