"""The live steps of a mirror plan: each copy skips itself when the mirror already has the image (resumable)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from beskar.clients import skopeo
from beskar.clients.registry import RegistryClient, RegistryError
from beskar.plan.mirroring import Copy
from beskar.plan.steps import Result, ResultType


def repository_and_reference(image: str) -> tuple[str, str, str]:
    """(host, repository, tag or digest) of `host/repository:tag` or `host/repository@sha256:...`."""
    name, at, digest = image.partition("@")
    host, _, rest = name.partition("/")
    if at:
        return host, rest.rpartition(":")[0] if ":" in rest.rpartition("/")[2] else rest, digest
    repository, _, tag = rest.rpartition(":")
    return host, repository, tag


def observe(client: RegistryClient, image: str, digest: str | None) -> str | None:
    """The digest the registry holds for the image (by its pinned digest when it has one), None when missing."""
    _, repository, tag = repository_and_reference(image)
    if digest is not None:
        return client.manifest_digest(repository, digest)
    return client.manifest_digest(repository, tag)


@dataclass
class CopyStep:
    copy: Copy
    mirror: RegistryClient
    source_insecure: bool = False
    authfile: Path | None = None

    @property
    def name(self) -> str:
        return self.copy.name

    @property
    def description(self) -> str:
        return self.copy.description

    def is_skip(self) -> Result:
        try:
            found = observe(self.mirror, self.copy.image.destination, self.copy.image.digest)
        except RegistryError as error:
            return Result(ResultType.FAILED, str(error))
        if found is not None:
            return Result(ResultType.SKIPPED, f"already in the mirror ({found})")
        return Result(ResultType.COMPLETED)

    def run(self) -> Result:
        try:
            skopeo.copy(self.copy.image.source, self.copy.image.destination, source_insecure=self.source_insecure,
                        destination_insecure=self.mirror.insecure, authfile=self.authfile)
        except skopeo.SkopeoError as error:
            return Result(ResultType.FAILED, str(error))
        return Result(ResultType.COMPLETED, f"copied to {self.copy.image.destination}")
