"""Container registries through the registry HTTP API v2: manifest digests, with token or basic auth."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import ssl
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Every manifest kind a mirror may hold: a multi-arch index/list (the digest charts pin) or one image.
_ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


class RegistryError(Exception):
    """A registry that is down, refuses the credentials or does not answer as a registry does."""


def auth_files() -> list[Path]:
    """Where credentials are looked for, in the order podman, skopeo and docker use."""
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if os.environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    home = Path(os.environ.get("HOME", "~")).expanduser()
    files.append(Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "containers" / "auth.json")
    files.append(Path(os.environ.get("DOCKER_CONFIG") or home / ".docker") / "config.json")
    return files


def credentials_for(host: str, files: list[Path]) -> tuple[str, str] | None:
    """(user, password) for a registry host from the first auth file that has it (`auths.<host>.auth`)."""
    for path in files:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as error:
            raise RegistryError(f"cannot read the credentials file {path}: {error}") from None
        auths = data.get("auths") if isinstance(data, dict) else None
        for key, entry in (auths or {}).items():
            name = re.sub(r"^https?://", "", key).split("/", 1)[0]
            if name == host and isinstance(entry, dict) and entry.get("auth"):
                try:
                    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    raise RegistryError(f"{path}: the auth of {key} is not base64 user:password") from None
                return user, password
    return None


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


@dataclass
class RegistryClient:
    """One registry host (`mirror.example.org`, `127.0.0.1:5000`); TLS unless insecure."""

    host: str
    insecure: bool = False
    files: list[Path] = field(default_factory=auth_files)
    timeout: float = 30.0
    _authorization: dict[str, str] = field(default_factory=dict)  # scope -> Authorization header

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest of repository:reference (tag or digest), None when the registry does not have it."""
        status, headers, _ = self._request("HEAD", f"/v2/{repository}/manifests/{reference}",
                                           f"repository:{repository}:pull")
        if status == 404:
            return None
        if status == 200:
            digest = headers.get("docker-content-digest", "")
            if not _DIGEST.match(digest):
                raise RegistryError(f"registry {self.host} answered {repository}:{reference} without a "
                                    "manifest digest: is it a registry (API v2)?")
            return digest
        raise RegistryError(f"registry {self.host} answered HTTP {status} for {repository}:{reference}")

    def check(self) -> None:
        """Reachable, a registry, and the credentials (if any) accepted: the API v2 base endpoint."""
        status, headers, _ = self._request("GET", "/v2/", "")
        if status != 200 or "registry/2.0" not in headers.get("docker-distribution-api-version", "registry/2.0"):
            raise RegistryError(f"registry {self.host} answered HTTP {status} at /v2/: not a registry (API v2)")

    def _request(self, method: str, path: str, scope: str) -> tuple[int, dict[str, str], bytes]:
        headers = {"Accept": _ACCEPT}
        if scope in self._authorization:
            headers["Authorization"] = self._authorization[scope]
        status, answer, body = self._send(method, self.host, path, headers)
        if status == 401:
            self._authorization[scope] = self._authorize(answer.get("www-authenticate", ""), scope)
            headers["Authorization"] = self._authorization[scope]
            status, answer, body = self._send(method, self.host, path, headers)
            if status == 401:
                raise RegistryError(f"registry {self.host} refused the credentials"
                                    f"{'' if credentials_for(self.host, self.files) else ' (none found)'}")
        if status == 403:
            raise RegistryError(f"registry {self.host} denies access to {path} (HTTP 403)")
        return status, answer, body

    def _authorize(self, challenge: str, scope: str) -> str:
        scheme, params = _challenge(challenge)
        credentials = credentials_for(self.host, self.files)
        basic = None
        if credentials:
            basic = "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        if scheme == "basic":
            if basic is None:
                raise RegistryError(f"registry {self.host} needs credentials and none were found "
                                    f"(looked in {', '.join(str(f) for f in self.files)})")
            return basic
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"registry {self.host} asked for authentication it does not explain: {challenge!r}")
        realm = urllib.parse.urlsplit(params["realm"])
        query = {"service": params.get("service", "")}
        if scope:
            query["scope"] = scope
        path = f"{realm.path or '/'}?{urllib.parse.urlencode(query)}"
        status, _, body = self._send("GET", realm.netloc, path, {"Authorization": basic} if basic else {},
                                     tls=realm.scheme == "https")
        if status in (401, 403):
            raise RegistryError(f"registry {self.host} refused the credentials (token service {realm.netloc})")
        try:
            answer = json.loads(body)
            token = answer.get("token") or answer["access_token"]
        except (ValueError, KeyError, AttributeError):
            raise RegistryError(f"token service {realm.netloc} of {self.host} answered HTTP {status} "
                                "without a token") from None
        return f"Bearer {token}"

    def _send(self, method: str, host: str, path: str, headers: dict[str, str],
              tls: bool | None = None) -> tuple[int, dict[str, str], bytes]:
        secure = not self.insecure if tls is None else tls
        try:
            if secure:
                connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                    host, timeout=self.timeout, context=ssl.create_default_context())
            else:
                connection = http.client.HTTPConnection(host, timeout=self.timeout)
            try:
                connection.request(method, path, headers=headers)
                response = connection.getresponse()
                body = response.read() if method != "HEAD" else b""
                return response.status, {k.lower(): v for k, v in response.getheaders()}, body
            finally:
                connection.close()
        except ssl.SSLError as error:
            raise RegistryError(f"registry {host}: TLS failed ({error.reason or error}); "
                                "a registry without TLS needs --insecure") from None
        except (OSError, http.client.HTTPException) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else \
                (str(error) or type(error).__name__)
            if isinstance(error, socket.timeout):
                reason = f"no answer in {self.timeout:g} s"
            raise RegistryError(f"registry {host} is not reachable: {reason}") from None
