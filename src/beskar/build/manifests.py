"""What a chart's rendered templates apply: objects with their final namespace, test hooks and notes left out."""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import yaml

from beskar.build.objects import BuiltObject

Namespaced = Callable[[str, str], bool]
Parse = Callable[[str, str], list[dict[str, Any]]]  # (template name, text) -> its objects
_TEST_HOOKS = frozenset({"test", "test-success", "test-failure"})


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML as the API server reads it into JSON: timestamps, binary and `=` stay strings."""


for _tag in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:value"):
    _Loader.add_constructor(_tag, lambda loader, node: loader.construct_scalar(node))


class _NoJSONNumber(yaml.constructor.ConstructorError):
    """NaN or an infinity: JSON has no such number, so neither has the Kubernetes API."""


def _finite_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    value = loader.construct_yaml_float(node)
    if not math.isfinite(value):
        raise _NoJSONNumber(None, None, f"{node.value} is a number JSON cannot hold: the Kubernetes API would "
                            "refuse the object", node.start_mark)
    return value


_Loader.add_constructor("tag:yaml.org,2002:float", _finite_float)


class ManifestError(Exception):
    """A rendered template that is not a Kubernetes object (Helm's install would refuse it too)."""


@dataclass(frozen=True)
class Placement:
    """Which release of which layer of which site the objects belong to, and where they go."""

    site: str
    layer: str
    release: str
    namespace: str  # the release's target namespace


def is_test_hook(body: Mapping[str, Any]) -> bool:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    hooks = str(annotations.get("helm.sh/hook", ""))
    return any(h.strip() in _TEST_HOOKS for h in hooks.split(","))


_STR, _MERGE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"
_UNTYPED = (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_NO_KEY = object()


class _Unusual(Exception):
    """A document the fast reading leaves to PyYAML's own (merge keys, complex keys, an error to report)."""


def _scalar(event: yaml.ScalarEvent, loader: _Loader, resolvable: frozenset[str]) -> Any:
    value, tag = event.value, event.tag
    if tag is None and event.implicit[0]:  # plain: typed by its text, as YAML 1.1 does
        if value[:1] not in resolvable:
            return value
        tag = loader.resolve(yaml.ScalarNode, value, event.implicit)
    elif tag is None or tag == "!":
        return value  # quoted
    if tag == _STR:
        return value
    if tag == _MERGE:
        raise _Unusual
    try:
        return loader.construct_object(yaml.ScalarNode(tag, value, style=event.style))
    except yaml.YAMLError:
        raise _Unusual from None


def _fast_load_all(text: str) -> list[Any]:
    """yaml.load_all(text, _Loader) straight from libyaml's events. PyYAML's composer asks Python to resolve every
    node and builds a node tree only to walk it again; this was most of a build's time."""
    loader = _Loader(text)
    resolvable = frozenset(k for k in loader.yaml_implicit_resolvers if k is not None)
    if None in loader.yaml_implicit_resolvers:
        raise _Unusual
    documents: list[Any] = []
    anchors: dict[str, Any] = {}
    stack: list[list[Any]] = []  # [container, pending key of a mapping]
    root: Any = None
    try:
        while loader.check_event():
            event = loader.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                value = _scalar(event, loader, resolvable)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.tag not in _UNTYPED:
                    raise _Unusual
                container: Any = {} if kind is yaml.MappingStartEvent else []
                if event.anchor is not None:
                    anchors[event.anchor] = container
                stack.append([container, _NO_KEY])
                continue
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                value = stack.pop()[0]
            elif kind is yaml.AliasEvent:
                if event.anchor not in anchors:
                    raise _Unusual
                value = anchors[event.anchor]
            elif kind is yaml.DocumentStartEvent:
                anchors, root = {}, None
                loader.constructed_objects = {}
                continue
            elif kind is yaml.DocumentEndEvent:
                documents.append(root)
                continue
            else:
                continue
            if kind is yaml.ScalarEvent and event.anchor is not None:
                anchors[event.anchor] = value
            if not stack:
                root = value
                continue
            top = stack[-1]
            if type(top[0]) is list:
                top[0].append(value)
            elif top[1] is _NO_KEY:
                if isinstance(value, (dict, list)):
                    raise _Unusual
                top[1] = value
            else:
                top[0][top[1]] = value
                top[1] = _NO_KEY
        return documents
    finally:
        loader.dispose()


def _load_all(text: str) -> list[Any]:
    try:
        return _fast_load_all(text)
    except (_Unusual, yaml.YAMLError):
        return list(yaml.load_all(text, Loader=_Loader))  # the exact reading, and its error with line and column


def parse_documents(name: str, text: str) -> list[dict[str, Any]]:
    try:
        documents = _load_all(text)
    except _NoJSONNumber as error:
        line = f", line {error.problem_mark.line + 1}" if error.problem_mark else ""
        raise ManifestError(f"{name}{line}: {error.problem}") from None
    except yaml.YAMLError as error:
        raise ManifestError(f"{name}: the rendered template is not YAML: {error}") from None
    found = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict) or not document.get("kind") or not document.get("apiVersion"):
            raise ManifestError(f"{name}: a rendered document is not a Kubernetes object (no apiVersion/kind)")
        if document.get("kind") == "List" and isinstance(document.get("items"), list):
            found.extend(item for item in document["items"] if isinstance(item, dict))
        else:
            found.append(document)
    return found


def release_objects(rendered: Mapping[str, str], crds: Iterable[tuple[str, str]], placement: Placement,
                    namespaced: Namespaced, parse: Parse | None = None,
                    read_crds: Iterable[tuple[str, dict[str, Any]]] = ()) -> tuple[BuiltObject, ...]:
    """The objects of a render (template path -> text), plus the chart's CRDs when the policy installs them: as
    text (`crds`), or read already (`read_crds`: (file, body) of each)."""
    objects = []
    sources = [(name, text) for name, text in sorted(crds)]
    sources += [(name, text) for name, text in sorted(rendered.items()) if posixpath.basename(name) != "NOTES.txt"]
    bodies = [(name, body) for name, text in sources for body in (parse or parse_documents)(name, text)]
    for name, body in [*read_crds, *bodies]:
        if not is_test_hook(body):
            objects.append(built_object(body, placement, name, namespaced))
    return tuple(sorted(objects, key=lambda o: (o.kind, o.namespace, o.name, o.template)))


def built_object(body: dict[str, Any], placement: Placement, template: str, namespaced: Namespaced) -> BuiltObject:
    api_version, kind = str(body.get("apiVersion")), str(body.get("kind"))
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    namespace = ""
    if namespaced(api_version, kind):
        namespace = str(metadata.get("namespace") or placement.namespace)
        if metadata.get("namespace") != namespace:
            body = {**body, "metadata": {**metadata, "namespace": namespace}}
    return BuiltObject(placement.site, placement.layer, placement.release, api_version, kind, namespace,
                       str(metadata.get("name", "")), body, template)
