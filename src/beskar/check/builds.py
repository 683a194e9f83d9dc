"""What a kustomize build reads and yields: the repository's files, the built objects, and problems met."""

from __future__ import annotations

from dataclasses import dataclass, field

from beskar.check.documents import YamlFile
from beskar.check.resources import Resource


@dataclass(frozen=True)
class RealBuild:
    """What the real kustomize made of a directory (`beskar lint --kustomize-binary`): its output, or why it
    refused to build it."""

    text: str | None
    error: str | None = None


@dataclass(frozen=True)
class Sources:
    """The files a build may read: parsed YAML, every path that exists, and the text of the other files."""

    files: dict[str, YamlFile]
    paths: frozenset[str]
    texts: dict[str, str]

    def text(self, path: str) -> str | None:
        if path in self.texts:
            return self.texts[path]
        parsed = self.files.get(path)
        return parsed.text if parsed is not None else None


@dataclass
class Build:
    """The objects of one directory, the files the build read, and whether some of them are unknown."""

    directory: str
    resources: list[Resource] = field(default_factory=list)
    reached: set[str] = field(default_factory=set)  # every file the build read
    patches: set[str] = field(default_factory=set)  # files read as patches, not as objects
    # A listed file whose objects are not in the repository (`flux bootstrap` fills gotk-components.yaml),
    # or a remote resource: patches that match nothing here may match those.
    incomplete: bool = False
    failed: bool = False  # kustomize refuses to build it (reported as tree/kustomization)
