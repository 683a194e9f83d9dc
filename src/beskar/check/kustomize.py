"""What `kustomize build` of a directory yields: resources, patches, generators and namespace, with positions."""

from __future__ import annotations

import difflib
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from beskar.check.documents import Document, YamlFile, parse_yaml
from beskar.check.generators import generate
from beskar.check.resources import Problem, Resource, is_object, json_patch, merge_patch, resource_of
from beskar.check.schemas import builtins, namespaced

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
YAML_SUFFIXES = (".yaml", ".yml")
_REMOTE = re.compile(r"^(https?://|git@|ssh://|github\.com/|gitlab\.com/)")


@dataclass
class Build:
    directory: str
    resources: list[Resource] = field(default_factory=list)
    reached: set[str] = field(default_factory=set)  # every file the build read


class Kustomize:
    """Builds directories of one repository (each built once) and collects the problems found on the way."""

    def __init__(self, files: dict[str, YamlFile], paths: frozenset[str], texts: dict[str, str]):
        self.files = files
        self.paths = paths
        self.texts = texts
        self.problems: list[Problem] = []
        self._builds: dict[str, Build] = {}
        subdirectories: dict[str, set[str]] = {}
        files: dict[str, list[str]] = {}
        for path in sorted(paths):
            directory = posixpath.dirname(path)
            files.setdefault(directory, []).append(path)
            while directory:
                parent = posixpath.dirname(directory)
                subdirectories.setdefault(parent, set()).add(directory)
                directory = parent
        self._children = {d: (sorted(subdirectories.get(d, ())), files.get(d, []))
                          for d in set(subdirectories) | set(files)}

    def text_of(self, path: str) -> str | None:
        """A file's text, whether it was parsed as YAML or not."""
        text = self.texts.get(path)
        if text is None and path in self.files:
            text = self.files[path].text
        return text

    def is_directory(self, path: str) -> bool:
        return path in self._children

    def kustomization_file(self, directory: str) -> str | None:
        for name in KUSTOMIZATION_FILES:
            candidate = posixpath.join(directory, name) if directory else name
            if candidate in self.paths:
                return candidate
        return None

    def build(self, directory: str) -> Build:
        """kustomize build DIR, or, without a kustomization file, what Flux generates: every manifest below."""
        if directory not in self._builds:
            self._builds[directory] = Build(directory)  # a cycle of kustomizations ends here
            file = self.kustomization_file(directory)
            self._builds[directory] = self._kustomize(directory, file) if file else self._generated(directory)
        return self._builds[directory]

    def _generated(self, directory: str) -> Build:
        build = Build(directory)
        self._scan(build, directory)
        return build

    def scan(self, directory: str, exclude: set[str]) -> Build:
        """What Flux generates for `directory`, leaving out the directories in `exclude`."""
        build = Build(directory)
        self._scan(build, directory, exclude)
        return build

    def _scan(self, build: Build, directory: str, exclude: set[str] = frozenset()) -> None:
        if directory in exclude:
            return
        subdirectories, files = self._children.get(directory, ((), ()))
        for path in files:
            if path.endswith(YAML_SUFFIXES) and path in self.files:
                build.reached.add(path)
                build.resources.extend(resource_of(d) for d in self.files[path].documents if is_object(d.data))
        for child in subdirectories:
            if child in exclude:
                continue
            if self.kustomization_file(child):
                self._include(build, self.build(child))
            else:
                self._scan(build, child, exclude)

    def _include(self, build: Build, other: Build) -> None:
        build.resources.extend(r.copy() for r in other.resources)
        build.reached |= other.reached

    def _kustomize(self, directory: str, file: str) -> Build:
        build = Build(directory, reached={file})
        parsed = self.files.get(file)
        document = parsed.documents[0] if parsed and parsed.documents else None
        spec = document.data if document is not None and isinstance(document.data, dict) else {}
        for key in ("resources", "bases", "components"):
            for index, entry in _entries(spec, key):
                self._resource(build, directory, document, (key, index), entry)
        for key in ("configurations", "crds", "transformers", "generators", "validators"):
            for index, entry in _entries(spec, key):
                if isinstance(entry, str) and not _REMOTE.match(entry):
                    build.reached.add(posixpath.normpath(posixpath.join(directory, entry)))
        generated = generate(directory, document, spec, self.paths, self.text_of)
        build.resources.extend(generated.resources)
        build.reached |= generated.reached
        self.problems.extend(generated.problems)
        self._patches(build, directory, document, spec)
        namespace = spec.get("namespace")
        if isinstance(namespace, str) and namespace:
            build.resources = [r.copy(namespace=namespace) if r.namespace or namespaced(r.api_version, r.kind) else r
                               for r in build.resources]
        return build

    def _resource(self, build: Build, directory: str, document: Document, where: tuple, entry: Any) -> None:
        if not isinstance(entry, str) or _REMOTE.match(entry):
            return
        path = posixpath.normpath(posixpath.join(directory, entry))
        if path.startswith("../") or path == "..":
            self._missing(document, where, f"{where[0]} entry {entry!r} points outside the repository")
        elif path in self.paths and path.endswith(YAML_SUFFIXES + (".json",)):
            build.reached.add(path)
            parsed = self.files.get(path)
            if parsed is not None:
                build.resources.extend(resource_of(d) for d in parsed.documents if is_object(d.data))
        elif self.is_directory(path):
            if self.kustomization_file(path) is None:
                self._missing(document, where, f"{where[0]} entry {entry!r} is a directory without a "
                              "kustomization.yaml", "kustomize builds only directories with a kustomization file")
            else:
                self._include(build, self.build(path))
        else:
            self._missing(document, where, f"{where[0]} entry {entry!r} does not exist", _near(path, self.paths))

    def _missing(self, document: Document, where: tuple, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem("tree/missing-resource", document.file, document.line_of(where), message, hint))

    def _patches(self, build: Build, directory: str, document: Document | None, spec: dict[str, Any]) -> None:
        for index, entry in _entries(spec, "patchesStrategicMerge"):
            where = ("patchesStrategicMerge", index)
            inline = isinstance(entry, str) and ("\n" in entry or ": " in entry or entry.lstrip()[:1] in ("{", "["))
            patches = (self._inline(document, where, entry) if inline
                       else self._patch_file(build, directory, document, where, entry))
            for patch in patches:
                self._apply(build, patch, None, document, where)
        for key in ("patches", "patchesJson6902"):
            for index, entry in _entries(spec, key):
                if not isinstance(entry, dict):
                    continue
                where = (key, index)
                patches = (self._inline(document, where + ("patch",), entry["patch"]) if "patch" in entry
                           else self._patch_file(build, directory, document, where, entry.get("path")))
                target = entry.get("target") if isinstance(entry.get("target"), dict) else None
                for patch in patches:
                    self._apply(build, patch, target, document, where)

    def _inline(self, document: Document, where: tuple, source: Any) -> list[Document]:
        """An inline patch, parsed so that its lines count from where it stands in the kustomization file."""
        if not isinstance(source, str):
            return []
        node = document.find(where)
        offset = 0
        if node is not None:
            offset = node.start_mark.line + (1 if node.style in ("|", ">") else 0)
        return parse_yaml(document.file, "\n" * offset + source).documents

    def _patch_file(self, build: Build, directory: str, document: Document, where: tuple,
                    source: Any) -> list[Document]:
        if not isinstance(source, str):
            return []
        path = posixpath.normpath(posixpath.join(directory, source))
        if path not in self.paths:
            self._missing(document, where, f"patch file {source!r} does not exist", _near(path, self.paths))
            return []
        build.reached.add(path)
        parsed = self.files.get(path)
        return parsed.documents if parsed else []

    def _apply(self, build: Build, patch: Document, target: dict[str, Any] | None, document: Document,
               where: tuple) -> None:
        operations = isinstance(patch.data, list)
        if target is None:
            if not is_object(patch.data):
                return
            metadata = patch.data.get("metadata") if isinstance(patch.data.get("metadata"), dict) else {}
            target = {"kind": patch.data["kind"], "name": metadata.get("name")}
            if metadata.get("namespace"):
                target["namespace"] = metadata["namespace"]
        matched = False
        for position, resource in enumerate(build.resources):
            if not _selects(target, resource):
                continue
            matched = True
            if operations:
                data, failure = json_patch(resource.data, patch.data)
                if failure:
                    self.problems.append(Problem("tree/missing-patch-target", patch.file, patch.line,
                                                 f"JSON patch on {resource.label()}: {failure}"))
                build.resources[position] = resource.copy(data=data)
            else:
                keyed = f"{resource.api_version} {resource.kind}" in builtins()["kinds"]
                data = merge_patch(resource.data, patch.data, keyed)
                build.resources[position] = resource.copy(data=data, overrides=resource.overrides + [(patch, ())])
        if not matched:
            described = ", ".join(f"{k}={v}" for k, v in sorted(target.items()) if isinstance(v, str))
            self.problems.append(Problem(
                "tree/missing-patch-target", document.file, document.line_of(where),
                f"patch matches no resource of {build.directory or '.'} ({described})",
                "the target's kind, name and namespace must match a resource of this kustomization"))


def _entries(spec: dict[str, Any], key: str) -> Iterator[tuple[int, Any]]:
    value = spec.get(key)
    if isinstance(value, list):
        yield from enumerate(value)


def _selects(target: dict[str, Any], resource: Resource) -> bool:
    group, _, version = resource.api_version.rpartition("/")
    checks = (("kind", resource.kind), ("name", resource.name), ("namespace", resource.namespace),
              ("group", group), ("version", version))
    for key, actual in checks:
        wanted = target.get(key)
        if wanted is None:
            continue
        if key in ("kind", "name", "namespace"):
            try:
                if not re.fullmatch(str(wanted), actual):
                    return False
            except re.error:  # kustomize reads these as regular expressions; a broken one matches literally
                if str(wanted) != actual:
                    return False
        elif str(wanted) != actual:
            return False
    selector = target.get("labelSelector")
    if isinstance(selector, str) and selector:
        labels = ((resource.data.get("metadata") or {}).get("labels") or {})
        for term in selector.split(","):
            key, _, value = term.partition("=")
            if labels.get(key.strip()) != value.strip() or not value:
                return False
    return True


def _near(path: str, paths: frozenset[str]) -> str | None:
    siblings = [p for p in paths if posixpath.dirname(p) == posixpath.dirname(path)]
    close = difflib.get_close_matches(path, siblings, n=1)
    return f"did you mean {posixpath.basename(close[0])!r}?" if close else None
