"""Kustomize's `replacements:` (inline and `path:` files): a value read from one object's field copied into fields
of the objects its targets select, as kustomize v5 applies it (after every other built-in transformer), and the
replacements kustomize refuses."""

from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from beskar.check import fieldpaths
from beskar.check.builds import Sources
from beskar.check.documents import Document, Path, parse_yaml
from beskar.check.kustomization import entries, shape as shape_name
from beskar.check.resources import Problem, Resource
from beskar.check.schemas import namespaced

_ID = {key: str for key in ("group", "version", "kind", "name", "namespace")}
# The fields of kustomize's Replacement types and the type of each: kustomize refuses another type, and reads the
# kustomization file strictly, so an unknown field there too.
_FIELDS: dict[str, dict[str, Any]] = {
    "entry": {"path": str, "source": "source", "targets": ["target"]},
    "source": {**_ID, "fieldPath": str, "options": "options"},
    "target": {"select": "select", "reject": ["select"], "fieldPaths": [str], "options": "options"},
    "select": {**_ID, "labelSelector": str, "annotationSelector": str},
    "options": {"delimiter": str, "index": int, "encoding": str, "create": bool},
}
_DEFAULT_FIELD = "metadata.name"
_NOT_NAMESPACED = "~X"  # kustomize's effective namespace of a cluster-scoped object: equal to no namespace asked


class Refused(Exception):
    """A replacement kustomize refuses: why, and the path (in the entry's document) of the part at fault."""

    def __init__(self, message: str, where: Path = (), hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint


@dataclass
class Replaced:
    """The objects after a kustomization's replacements, the files they read and the problems met."""

    resources: list[Resource]
    reached: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    failed: bool = False


@dataclass(frozen=True)
class _Entry:
    """One replacement (source and targets), the document that holds it and its path there."""

    spec: dict[str, Any]
    document: Document
    where: Path


def replace(sources: Sources, directory: str, document: Document, spec: dict[str, Any],
            resources: list[Resource]) -> Replaced:
    """Apply the `replacements:` of the kustomization `spec` (parsed from `document`) to `resources`."""
    replaced = Replaced(resources)
    loaded = _load(sources, directory, document, spec, replaced)
    if replaced.failed or not loaded:
        return replaced
    work = [copy.deepcopy(r.data) for r in resources]
    written: list[dict[Path, tuple[str, int]]] = [{} for _ in resources]  # per object: path -> what set it
    for entry in loaded:
        try:
            _apply(resources, work, written, entry)
        except Refused as refused:
            replaced.failed = True
            replaced.problems.append(Problem(
                "tree/kustomization", entry.document.file, entry.document.line_of(entry.where + refused.where),
                f"kustomize refuses to build {directory or '.'}: this replacement fails: {refused.message}",
                refused.hint))
            return replaced
    replaced.resources = [_changed(r, data, w) for r, data, w in zip(resources, work, written)]
    return replaced


def _changed(resource: Resource, data: dict[str, Any], written: dict[Path, tuple[str, int]]) -> Resource:
    if data == resource.data:
        return resource
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):  # kustomize writes annotations back as strings when it ends the build
        metadata["annotations"] = {k: v if isinstance(v, (str, dict, list)) or v is None else fieldpaths.text(v)
                                   for k, v in annotations.items()}
    namespace = str(metadata.get("namespace") or "") if namespaced(resource.api_version, resource.kind) else ""
    return resource.copy(data=data, namespace=namespace, replaced={**resource.replaced, **written})


def _load(sources: Sources, directory: str, document: Document, spec: dict[str, Any],
          replaced: Replaced) -> list[_Entry]:
    """Every replacement in order: inline entries, and the one or the list each `path:` file holds."""
    loaded = []
    for index, entry in entries(spec, "replacements"):
        where = ("replacements", index)
        malformed = _malformed(entry, "entry", True)
        if malformed is not None or not isinstance(entry, dict):
            part, what = malformed or ((), "must be a mapping")
            _refuse(replaced, document, where + part, f"invalid Kustomization: {_dotted(where + part)} {what}",
                    "a replacement has source and targets (select, reject, fieldPaths, options), or path")
            continue
        if entry.get("path") is None:
            loaded.append(_Entry(entry, document, where))
            continue
        if entry.get("source") is not None or entry.get("targets"):
            _refuse(replaced, document, where, "a replacement has both path and an inline source or targets",
                    "kustomize refuses both: keep one")
            continue
        path = posixpath.normpath(posixpath.join(directory, str(entry["path"])))
        text = sources.text(path)
        if text is None:
            replaced.failed = True
            replaced.problems.append(Problem("tree/missing-resource", document.file,
                                             document.line_of(where + ("path",)),
                                             f"replacements file {entry['path']!r} does not exist"))
            continue
        replaced.reached.add(path)
        parsed = sources.files.get(path) or parse_yaml(path, text)
        held = parsed.documents[0] if parsed.documents else None
        if held is None or not isinstance(held.data, (dict, list)):
            _refuse(replaced, document, where + ("path",), f"{path} holds no replacement (a mapping with source "
                    "and targets, or a list of them)")
            continue
        items = list(enumerate(held.data)) if isinstance(held.data, list) else [(None, held.data)]
        for number, item in items:
            at = () if number is None else (number,)
            malformed = _malformed(item, "entry", False)
            if malformed is None and isinstance(item, dict):
                loaded.append(_Entry(item, held, at))
            else:
                part, what = malformed or ((), "must be a mapping")
                _refuse(replaced, held, at + part, f"replacement {_dotted(at + part) or 'file'} {what}",
                        "a replacement has source and targets (select, reject, fieldPaths, options)")
    return loaded


def _malformed(value: Any, shape: Any, strict: bool, where: Path = ()) -> tuple[Path, str] | None:
    """The path of the first part that is not of its type in kustomize's Replacement types (or, when `strict`,
    not one of their fields), and what is wrong there."""
    if value is None:
        return None  # null is every type's empty value
    if isinstance(shape, list):
        if not isinstance(value, list):
            return where, "must be a list"
        for index, item in enumerate(value):
            found = _malformed(item, shape[0], strict, where + (index,))
            if found is not None:
                return found
        return None
    if shape in (str, int, bool):
        fits = isinstance(value, shape) and (shape is bool or not isinstance(value, bool))
        return None if fits else (where, f"must be a {shape_name(shape.__name__)}")
    if not isinstance(value, dict):
        return where, "must be a mapping"
    for key, item in value.items():
        if key not in _FIELDS[shape]:
            if strict:
                return where + (key,), f"unknown field {key!r}"
            continue
        found = _malformed(item, _FIELDS[shape][key], strict, where + (key,))
        if found is not None:
            return found
    return None


def _dotted(path: Path) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


def _refuse(replaced: Replaced, document: Document, where: Path, message: str, hint: str | None = None) -> None:
    replaced.failed = True
    replaced.problems.append(Problem("tree/kustomization", document.file, document.line_of(where), message, hint))


def _apply(resources: list[Resource], work: list[dict[str, Any]], written: list[dict[Path, tuple[str, int]]],
           entry: _Entry) -> None:
    spec = entry.spec
    source, targets = spec.get("source"), spec.get("targets")
    if not isinstance(source, dict) or not isinstance(targets, list):
        raise Refused("replacements must specify a source and at least one target",
                      ("source",) if not isinstance(source, dict) else ())
    value = _value(resources, work, source)
    for number, target in enumerate(targets):
        where = ("targets", number)
        select = target.get("select") if isinstance(target, dict) else None
        if not isinstance(select, dict):
            raise Refused("target must specify resources to select", where)
        paths = target.get("fieldPaths") or [_DEFAULT_FIELD]
        options = target.get("options") if isinstance(target.get("options"), dict) else {}
        rejects = [r for r in target.get("reject") or [] if r is not None]
        for resource, data, locations in zip(resources, work, written):
            ids = _ids(resource, data)
            if not any(_selects(select, i) for i in ids) or not _labelled(select, data) \
                    or any(_rejects(reject, ids, data) for reject in rejects):
                continue
            for position, path in enumerate(paths):
                at = where + ("fieldPaths", position)
                line = entry.document.line_of(entry.where + at)
                for trail in _write(data, str(path), value, options, at):
                    locations[trail] = (entry.document.file, line)


def _value(resources: list[Resource], work: list[dict[str, Any]], source: dict[str, Any]) -> Any:
    matches = [data for resource, data in zip(resources, work)
               if any(_selects(source, i) for i in _ids(resource, data))]
    if not matches:
        raise Refused(f"nothing selected by the source {_label(source)}", ("source",),
                      "a replacement's source selects exactly one object of what the kustomization builds")
    if len(matches) > 1:
        raise Refused(f"the source {_label(source)} selects {len(matches)} objects, not one", ("source",),
                      "add kind, name or namespace to the source until it selects one object")
    path = str(source.get("fieldPath") or _DEFAULT_FIELD)
    value = fieldpaths.lookup(matches[0], fieldpaths.split(path))
    if value is None or value == {} or value == []:
        raise Refused(f"fieldPath `{path}` is missing for the source {_label(source)}", ("source", "fieldPath"),
                      "the source object must have the field (not null, not empty)")
    options = source.get("options") if isinstance(source.get("options"), dict) else {}
    if options.get("delimiter"):
        if isinstance(value, (dict, list)):
            raise Refused("delimiter option can only be used with scalar nodes", ("source", "options"))
        parts = fieldpaths.text(value).split(str(options["delimiter"]))
        index = options.get("index") or 0
        if not isinstance(index, int) or not 0 <= index < len(parts):
            raise Refused(f"options.index {index} is out of bounds for value {fieldpaths.text(value)}",
                          ("source", "options", "index"))
        return parts[index]
    return copy.deepcopy(value)


def _write(data: dict[str, Any], path: str, value: Any, options: dict[str, Any], where: Path) -> list[Path]:
    """Set every field `path` reaches; returns their paths in the object."""
    create = options.get("create") is True
    what = "unable to find or create field" if create else "unable to find field"
    try:
        found = list(fieldpaths.slots({"": data}, "", fieldpaths.split(path), create, value))
        if not found:
            raise Refused(f"{what} {path!r} in replacement target", where,
                          None if create else "correct the field path, or set options.create: true to make it")
        for holder, key, _ in found:
            holder[key] = _set(holder[key], value, options)
        return [trail for _, _, trail in found]
    except fieldpaths.PathError as error:
        raise Refused(f"{what} {path!r} in replacement target: {error}", where) from None


def _set(target: Any, value: Any, options: dict[str, Any]) -> Any:
    """The new content of a target field: a scalar keeps its type and takes the value's text, anything else is
    replaced by the value."""
    delimiter = options.get("delimiter")
    if delimiter:
        if isinstance(target, (dict, list)):
            raise fieldpaths.PathError("delimiter option can only be used with scalar nodes")
        parts = fieldpaths.text(target).split(str(delimiter))
        index = options.get("index") or 0
        new = fieldpaths.text(value)
        if not isinstance(index, int) or index < 0:
            parts.insert(0, new)
        elif index >= len(parts):
            parts.append(new)
        else:
            parts[index] = new
        value = str(delimiter).join(parts)
    if isinstance(target, (dict, list)):
        return copy.deepcopy(value)
    if isinstance(target, fieldpaths.Created) and isinstance(value, (dict, list)):
        return copy.deepcopy(value)
    return fieldpaths.typed(target, value if isinstance(value, str) else fieldpaths.text(value))


def _ids(resource: Resource, data: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(group, version, kind, name, namespace) the object has now and had before (kustomize's previous ids)."""
    api_version = str(data.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    kind = str(data.get("kind", ""))
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    namespace = _effective(api_version, kind, str(metadata.get("namespace") or ""))
    current = (group, version, kind, str(metadata.get("name", "")), namespace)
    return [current] + [(group, version, kind, name, _effective(api_version, kind, ns))
                        for name, ns in reversed(resource.previous)]


def _effective(api_version: str, kind: str, namespace: str) -> str:
    if not namespaced(api_version, kind):
        return _NOT_NAMESPACED
    return namespace or "default"


def _selects(selector: dict[str, Any], identity: tuple[str, str, str, str, str]) -> bool:
    group, version, kind, name, namespace = identity
    for key, have in (("group", group), ("version", version), ("kind", kind), ("name", name)):
        if selector.get(key) and str(selector[key]) != have:
            return False
    wanted = selector.get("namespace")
    return not wanted or namespace == _effective("", str(selector.get("kind") or ""), str(wanted))


def _labelled(selector: dict[str, Any], data: dict[str, Any]) -> bool:
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return all(_matches(str(selector.get(key) or ""), metadata.get(section))
               for key, section in (("labelSelector", "labels"), ("annotationSelector", "annotations")))


def _rejects(reject: dict[str, Any], ids: list[tuple[str, str, str, str, str]], data: dict[str, Any]) -> bool:
    by_id = any(reject.get(key) for key in _ID)
    by_label = bool(reject.get("labelSelector") or reject.get("annotationSelector"))
    if not by_id and not by_label:
        return False
    return (not by_id or any(_selects(reject, i) for i in ids)) and (not by_label or _labelled(reject, data))


_TERM = re.compile(r"\s*(!?)\s*([^\s,=!()]+)\s*(?:(==|=|!=)\s*([^\s,()]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*(?:,|$)")


def _matches(selector: str, labels: Any) -> bool:
    """A Kubernetes label selector (`a=b,c!=d,e in (x,y),!f,g`) on a labels (or annotations) map."""
    labels = labels if isinstance(labels, dict) else {}
    position = 0
    while position < len(selector.strip()):
        term = _TERM.match(selector, position)
        if term is None or term.end() == position:
            return False  # kustomize refuses a selector it cannot parse; selecting nothing is the safe reading
        position = term.end()
        negated, key, operator, value, set_operator, members = term.groups()
        have = labels.get(key)
        have = None if have is None else fieldpaths.text(have)
        if operator in ("=", "=="):
            ok = have == value
        elif operator == "!=":
            ok = have != value
        elif set_operator:
            within = have in {m.strip() for m in members.split(",")}
            ok = within if set_operator == "in" else not within
        else:
            ok = (have is None) if negated else (have is not None)
        if not ok:
            return False
    return True


def _label(selector: dict[str, Any]) -> str:
    kind = selector.get("kind") or "any kind"
    namespace = f"{selector['namespace']}/" if selector.get("namespace") else ""
    return f"{kind} {namespace}{selector.get('name') or '(any name)'}"
