"""What a chart's rendered templates apply: objects with their final namespace, test hooks and notes left out."""

from __future__ import annotations

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


def parse_documents(name: str, text: str) -> list[dict[str, Any]]:
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))
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
                    namespaced: Namespaced, parse: Parse | None = None) -> tuple[BuiltObject, ...]:
    """The objects of a render (template path -> text), plus the chart's CRDs when the policy installs them."""
    objects = []
    sources = [(name, text) for name, text in sorted(crds)]
    sources += [(name, text) for name, text in sorted(rendered.items()) if posixpath.basename(name) != "NOTES.txt"]
    for name, text in sources:
        for body in (parse or parse_documents)(name, text):
            if is_test_hook(body):
                continue
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
