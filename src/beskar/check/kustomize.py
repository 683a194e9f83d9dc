"""What `kustomize build` of a directory yields: resources, components, generators, patches and transformers,
with the file and line that set each part, and the problems kustomize would refuse to build with."""

from __future__ import annotations

import difflib
import posixpath
import re
from typing import Any

from beskar.check import patches as patching
from beskar.check import transformers
from beskar.check.builds import Build, RealBuild, Sources
from beskar.check.documents import Document, YamlFile, parse_yaml
from beskar.check.generators import generate
from beskar.check.kustomization import (KUSTOMIZATION_FILES, YAML_SUFFIXES, entries, field_problems, shape,
                                        strings_map)
from beskar.check.resources import Problem, Resource, is_object, resource_of

_REMOTE = re.compile(r"^(https?://|git@|ssh://|github\.com/|gitlab\.com/|oci://)")


class Kustomize:
    """Builds directories of one repository (each built once) and collects the problems found on the way."""

    def __init__(self, files: dict[str, YamlFile], paths: frozenset[str], texts: dict[str, str],
                 real: dict[str, RealBuild] | None = None):
        self.sources = Sources(files, paths, texts)
        self.real = real or {}  # directory -> the real kustomize's build, used instead of the model's
        self.files = files
        self.paths = paths
        self.texts = texts
        self.problems: list[Problem] = []
        self._accumulated: dict[str, Build] = {}
        self._builds: dict[str, Build] = {}
        self._building: list[str] = []
        self._guessed: set[str] = set()  # directories scanned because no cluster says what Flux builds
        subdirectories: dict[str, set[str]] = {}
        listed: dict[str, list[str]] = {}
        for path in sorted(paths):
            directory = posixpath.dirname(path)
            listed.setdefault(directory, []).append(path)
            while directory:
                parent = posixpath.dirname(directory)
                subdirectories.setdefault(parent, set()).add(directory)
                directory = parent
        self._children = {d: (sorted(subdirectories.get(d, ())), listed.get(d, []))
                          for d in set(subdirectories) | set(listed)}

    @classmethod
    def of(cls, contents: dict[str, str], other_paths: frozenset[str] = frozenset(),
           real: dict[str, RealBuild] | None = None) -> Kustomize:
        """A builder over file contents (relative path -> text); `other_paths` exist but are not read."""
        files = {path: parse_yaml(path, text) for path, text in sorted(contents.items())
                 if path.endswith(YAML_SUFFIXES)}
        texts = {path: text for path, text in contents.items() if not path.endswith(YAML_SUFFIXES)}
        return cls(files, frozenset(contents) | other_paths, texts, real)

    def directories(self) -> list[str]:
        """Every directory with a kustomization file."""
        return sorted(posixpath.dirname(p) for p in self.paths if posixpath.basename(p) in KUSTOMIZATION_FILES)

    def is_directory(self, path: str) -> bool:
        return path in self._children

    def kustomization_file(self, directory: str) -> str | None:
        for name in KUSTOMIZATION_FILES:
            candidate = posixpath.join(directory, name) if directory else name
            if candidate in self.paths:
                return candidate
        return None

    def patch_files(self) -> frozenset[str]:
        """Every file some kustomization.yaml of the repository reads as a patch (built or not)."""
        found = set()
        for file in self.paths:
            if posixpath.basename(file) not in KUSTOMIZATION_FILES or file not in self.files:
                continue
            documents = self.files[file].documents
            spec = documents[0].data if documents and isinstance(documents[0].data, dict) else {}
            directory = posixpath.dirname(file)
            listed = [e for _, e in entries(spec, "patchesStrategicMerge") if isinstance(e, str) and "\n" not in e]
            for key in ("patches", "patchesJson6902"):
                listed += [e["path"] for _, e in entries(spec, key) if isinstance(e, dict)
                           and isinstance(e.get("path"), str)]
            found |= {posixpath.normpath(posixpath.join(directory, entry)) for entry in listed}
        return frozenset(found)

    def build(self, directory: str) -> Build:
        """kustomize build DIR, or, without a kustomization file, what Flux generates: every manifest below."""
        if directory not in self._builds:
            built = _finished(self._accumulate(directory))
            if directory in self.real:
                built = self._with_real(built, self.real[directory])
            self._builds[directory] = built
        return self._builds[directory]

    def _with_real(self, model: Build, real: RealBuild) -> Build:
        """The real kustomize's objects, each placed where the model found it (else at the kustomization file),
        so that findings keep their file and line."""
        file = self.kustomization_file(model.directory)
        anchor = self.files[file].documents[0] if file and file in self.files and self.files[file].documents \
            else None
        if real.error is not None:
            if not model.failed and file:
                self.problems.append(Problem("tree/kustomization", file, 1, f"kustomize refuses to build "
                                             f"{model.directory or '.'}: {real.error}"))
            return Build(model.directory, model.resources, model.reached, model.patches, model.incomplete, True)
        placed = {_identity(r.data): r for r in model.resources}
        resources = []
        for document in parse_yaml(file or model.directory, real.text or "").documents:
            if not is_object(document.data):
                continue
            known = placed.get(_identity(document.data))
            if known is not None:
                resources.append(known.copy(data=document.data))
            elif anchor is not None:
                resources.append(Resource(document.data, anchor, resource_of(document).namespace,
                                          generator=()))
        return Build(model.directory, resources, model.reached, model.patches, model.incomplete, model.failed)

    def scan(self, directory: str, exclude: set[str]) -> Build:
        """What Flux generates for `directory`, leaving out the directories in `exclude`."""
        self._guessed.add(directory)
        build = Build(directory)
        self._scan(build, directory, exclude)
        return _finished(build)

    def _accumulate(self, directory: str) -> Build:
        """The objects of a directory before the renames that only the outermost build makes (hash suffixes)."""
        if directory in self._accumulated:
            return self._accumulated[directory]
        if directory in self._building:
            return Build(directory, failed=True)  # reported by the resources entry that closes the cycle
        self._building.append(directory)
        try:
            file = self.kustomization_file(directory)
            if file:
                build = Build(directory, reached={file})
                self._kustomization(build, directory, file, component=False)
            else:
                build = Build(directory)
                self._scan(build, directory)
        finally:
            self._building.pop()
        ids = [(r.api_version.rpartition("/")[0], r.kind, r.namespace, r.name) for r in build.resources]
        build.failed |= len(set(ids)) != len(ids)  # kustomize: may not add resource with an already registered id
        self._accumulated[directory] = build
        return build

    def _scan(self, build: Build, directory: str, exclude: set[str] = frozenset()) -> None:
        if directory in exclude:
            return
        subdirectories, files = self._children.get(directory, ((), ()))
        for path in files:
            if path.endswith(YAML_SUFFIXES) and path in self.files and not posixpath.basename(path).startswith("."):
                self._read(build, path, None, ())
        for child in subdirectories:
            if child in exclude:
                continue
            if self.kustomization_file(child):
                self._include(build, self._accumulate(child))
            else:
                self._scan(build, child, exclude)

    def _include(self, build: Build, other: Build) -> None:
        build.resources.extend(r.copy() for r in other.resources)
        build.reached |= other.reached
        build.patches |= other.patches
        build.incomplete |= other.incomplete
        build.failed |= other.failed

    def _refuse(self, build: Build, file: str, line: int, message: str, hint: str | None = None) -> None:
        build.failed = True
        self.problems.append(Problem("tree/kustomization", file, line, message, hint))

    def _read(self, build: Build, path: str, document: Document | None, where: tuple) -> None:
        """The objects of a resource file (each document must be one; kustomize refuses anything else)."""
        build.reached.add(path)
        parsed = self.files.get(path)
        if parsed is None:
            return
        if not parsed.documents and not parsed.flaws:
            build.incomplete = True  # a placeholder, e.g. the gotk-components.yaml `flux bootstrap` writes
        for item in parsed.documents:
            if is_object(item.data):
                build.resources.append(resource_of(item))
            elif document is None and build.directory in self._guessed:
                continue  # a repository without clusters, scanned whole: not a directory Flux is known to build
            else:
                what = type(item.data).__name__ if not isinstance(item.data, dict) else "mapping"
                self.problems.append(Problem(
                    "tree/not-an-object", path, item.line,
                    f"{path} is built by {build.directory or '.'} but this document is a {shape(what)}, not a "
                    "Kubernetes object (apiVersion, kind, metadata.name)",
                    "kustomize refuses to build it; move the file out of the built directory or make it an object"))
                build.failed = True

    def _kustomization(self, build: Build, directory: str, file: str, component: bool) -> None:
        parsed = self.files.get(file)
        if parsed is None or parsed.flaws:
            build.failed = True
            return  # tree/yaml reports it
        if not parsed.documents:
            self._refuse(build, file, 1, f"{file} is empty", "kustomize refuses an empty kustomization file")
            return
        document = parsed.documents[0]
        spec = document.data
        if not isinstance(spec, dict):
            self._refuse(build, file, document.line, f"{file} is a {shape(type(spec).__name__)}, not a mapping of "
                         "kustomization fields")
            return
        self._valid(build, document, spec)  # a refused build is still read, so that its files are checked
        for key in ("resources", "bases"):
            for index, entry in entries(spec, key):
                self._resource(build, directory, document, (key, index), entry)
        for index, entry in entries(spec, "components"):
            self._component(build, directory, document, ("components", index), entry)
        for key in ("configurations", "crds", "transformers", "generators", "validators"):
            for index, entry in entries(spec, key):
                if isinstance(entry, str) and not _REMOTE.match(entry):
                    build.reached.add(posixpath.normpath(posixpath.join(directory, entry)))
                if key in ("transformers", "generators", "validators"):
                    build.incomplete = True  # plugins: what they change is not modelled
        self._generate(build, directory, document, spec)
        self._patches(build, directory, document, spec, json=False)
        namespace = spec.get("namespace")
        if isinstance(namespace, str) and namespace:
            build.resources = [transformers.set_namespace(r, namespace) for r in build.resources]
        prefix, suffix = str(spec.get("namePrefix") or ""), str(spec.get("nameSuffix") or "")
        build.resources = [transformers.rename(r, prefix, suffix) for r in build.resources]
        common = strings_map(spec.get("commonLabels"))
        build.resources = [transformers.add_labels(r, common, True, True) for r in build.resources]
        for _, entry in entries(spec, "labels"):
            if isinstance(entry, dict):
                pairs = strings_map(entry.get("pairs"))
                selectors = entry.get("includeSelectors") is True
                build.resources = [transformers.add_labels(r, pairs, selectors, entry.get("includeTemplates") is True)
                                   for r in build.resources]
        annotations = strings_map(spec.get("commonAnnotations"))
        build.resources = [transformers.add_annotations(r, annotations) for r in build.resources]
        self._patches(build, directory, document, spec, json=True)
        replicas = [e for _, e in entries(spec, "replicas") if isinstance(e, dict)]
        images = [e for _, e in entries(spec, "images") if isinstance(e, dict)]
        build.resources = [transformers.set_images(transformers.set_replicas(r, replicas), images)
                           for r in build.resources]
        if spec.get("replacements") or spec.get("vars") or spec.get("helmCharts"):
            build.incomplete = True  # not modelled: their objects and values may differ from kustomize's

    def _valid(self, build: Build, document: Document, spec: dict[str, Any]) -> None:
        for problem in field_problems(document, spec):
            self._refuse(build, document.file, problem.line, problem.message, problem.hint)

    def _resource(self, build: Build, directory: str, document: Document, where: tuple, entry: Any) -> None:
        if not isinstance(entry, str):
            return
        if _REMOTE.match(entry):
            build.incomplete = True
            return
        path = posixpath.normpath(posixpath.join(directory, entry))
        if path.startswith("../") or path == "..":
            self._missing(build, document, where, f"{where[0]} entry {entry!r} points outside the repository")
        elif path in self.paths and not self.is_directory(path):
            self._read(build, path, document, where)
        elif self.is_directory(path):
            if self.kustomization_file(path) is None:
                self._missing(build, document, where, f"{where[0]} entry {entry!r} is a directory without a "
                              "kustomization.yaml", "kustomize builds only directories with a kustomization file")
            elif path in self._building:
                cycle = " -> ".join(self._building[self._building.index(path):] + [path])
                self._refuse(build, document.file, document.line_of(where),
                             f"{where[0]} entry {entry!r} makes a cycle of kustomizations: {cycle}",
                             "kustomize refuses to build a directory that includes itself")
            else:
                self._include(build, self._accumulate(path))
        else:
            self._missing(build, document, where, f"{where[0]} entry {entry!r} does not exist", _near(path, self.paths))

    def _component(self, build: Build, directory: str, document: Document, where: tuple, entry: Any) -> None:
        """A component runs on what the kustomization listing it has built so far (resources, then patches)."""
        if not isinstance(entry, str) or _REMOTE.match(entry):
            build.incomplete |= isinstance(entry, str)
            return
        path = posixpath.normpath(posixpath.join(directory, entry))
        file = self.kustomization_file(path) if self.is_directory(path) else None
        if file is None:
            self._missing(build, document, where, f"component {entry!r} is not a directory with a kustomization.yaml",
                          _near(path, self.paths))
            return
        if path in self._building:
            self._refuse(build, document.file, document.line_of(where), f"component {entry!r} includes itself")
            return
        build.reached.add(file)
        self._building.append(path)
        try:
            self._kustomization(build, path, file, component=True)
        finally:
            self._building.pop()

    def _missing(self, build: Build, document: Document, where: tuple, message: str,
                 hint: str | None = None) -> None:
        build.failed = True  # kustomize stops at the first file it cannot read
        self.problems.append(Problem("tree/missing-resource", document.file, document.line_of(where), message, hint))

    def _generate(self, build: Build, directory: str, document: Document, spec: dict[str, Any]) -> None:
        generated = generate(self.sources, directory, document, spec)
        build.reached |= generated.reached
        self.problems.extend(generated.problems)
        build.failed |= any(p.rule == "tree/missing-resource" for p in generated.problems)
        for resource, behavior in generated.resources:
            same = [i for i, r in enumerate(build.resources)
                    if r.kind == resource.kind and resource.name in (r.name, r.origin_name)
                    and (not resource.namespace or r.namespace == resource.namespace)]
            if behavior in ("merge", "replace") and not same:
                self._refuse(build, document.file, document.line_of(resource.generator),
                             f"{resource.kind} {resource.name} has behavior {behavior}, but no base of "
                             f"{directory or '.'} generates a {resource.kind} of that name",
                             "merge and replace change a generated object of a base, by its name there")
            elif behavior in ("merge", "replace"):
                base = build.resources[same[0]]
                data = dict(base.data)
                if behavior == "merge":
                    data["data"] = {**(base.data.get("data") or {}), **(resource.data.get("data") or {})}
                else:
                    data["data"] = resource.data.get("data") or {}
                build.resources[same[0]] = base.copy(data=data)
            else:
                build.resources.append(resource)

    def _patches(self, build: Build, directory: str, document: Document, spec: dict[str, Any], json: bool) -> None:
        """patchesStrategicMerge and patches (before the namespace), or patchesJson6902 (after the labels)."""
        if json:
            for index, entry in entries(spec, "patchesJson6902"):
                if isinstance(entry, dict):
                    self._patch(build, directory, document, ("patchesJson6902", index), entry, json_only=True)
            return
        for index, entry in entries(spec, "patchesStrategicMerge"):
            where = ("patchesStrategicMerge", index)
            inline = isinstance(entry, str) and ("\n" in entry or ": " in entry or entry.lstrip()[:1] in ("{", "["))
            patches = (self._inline(document, where, entry) if inline
                       else self._patch_file(build, directory, document, where, entry))
            for patch in patches:
                self._apply(build, patch, None, document, where)
        for index, entry in entries(spec, "patches"):
            if isinstance(entry, dict):
                self._patch(build, directory, document, ("patches", index), entry, json_only=False)

    def _patch(self, build: Build, directory: str, document: Document, where: tuple, entry: dict[str, Any],
               json_only: bool) -> None:
        patches = (self._inline(document, where + ("patch",), entry["patch"]) if "patch" in entry
                   else self._patch_file(build, directory, document, where + ("path",), entry.get("path")))
        target = entry.get("target") if isinstance(entry.get("target"), dict) else None
        for patch in patches:
            if isinstance(patch.data, list) and target is None:
                self._refuse(build, document.file, document.line_of(where),
                             "a JSON patch needs a target (kind, name ...) to apply to")
                continue
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
            self._missing(build, document, where, f"patch file {source!r} does not exist", _near(path, self.paths))
            return []
        build.reached.add(path)
        build.patches.add(path)
        parsed = self.files.get(path)
        return parsed.documents if parsed else []

    def _apply(self, build: Build, patch: Document, target: dict[str, Any] | None, document: Document,
               where: tuple) -> None:
        patched = patching.apply(build.resources, patch, target, (document.file, document.line_of(where)),
                                 build.directory, build.incomplete)
        build.resources = patched.resources
        build.failed |= patched.failed
        self.problems.extend(patched.problems)


def _finished(build: Build) -> Build:
    """What the outermost build adds: content hashes on generated names, and references following renames."""
    resources = [transformers.hash_name(r) if r.hashed else r for r in build.resources]
    finished = Build(build.directory, transformers.follow_renames(resources), set(build.reached),
                     set(build.patches), build.incomplete, build.failed)
    return finished


def _identity(data: dict[str, Any]) -> tuple[str, str, str, str]:
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return (str(data.get("apiVersion", "")).rpartition("/")[0], str(data.get("kind")),
            str(metadata.get("namespace") or ""), str(metadata.get("name")))


def _near(path: str, paths: frozenset[str]) -> str | None:
    siblings = [p for p in paths if posixpath.dirname(p) == posixpath.dirname(path)]
    close = difflib.get_close_matches(path, siblings, n=1)
    return f"did you mean {posixpath.basename(close[0])!r}?" if close else None
