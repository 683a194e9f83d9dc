"""Objects checked against their schema: the vendored Flux CRDs (every version) and Kubernetes built-in kinds.

jsonschema validates an object at once, with no preparation; fastjsonschema's compiled code is some 10x
faster per object, but compiling a schema first costs up to 0.2 s of CPU (a Deployment's), more than a small
repository's whole lint. So a kind's first COMPILE_AFTER objects are validated by jsonschema, the rest by the
compiled code; only an object that fails is validated again by jsonschema, which lists every error with its path.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import marshal
import os
import sys
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import fastjsonschema
import jsonschema

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@dataclass(frozen=True)
class CrdVersion:
    group: str
    kind: str
    version: str
    served: bool
    deprecated: bool
    deprecation_warning: str | None
    file: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


@dataclass(frozen=True)
class SchemaError:
    """One way an object breaks its schema: dotted path, message, the key path to point at, and a hint."""

    path: str
    message: str
    location: tuple[Any, ...] = ()
    hint: str | None = None


class ApiStatus(StrEnum):
    CURRENT = "current"
    DEPRECATED = "deprecated"
    UNSERVED = "unserved"  # a kind Beskar knows, at an apiVersion that nothing serves
    UNKNOWN = "unknown"  # a kind Beskar has no schema for (another CRD): not checked


def _crds() -> resources.abc.Traversable:
    return resources.files("beskar.catalog").joinpath("data", "crds")


@lru_cache(maxsize=1)
def crd_versions() -> dict[tuple[str, str], CrdVersion]:
    """(apiVersion, kind) -> the Flux CRD version Beskar knows a schema for."""
    index = json.loads(_crds().joinpath("index.json").read_text())
    return {
        (f"{e['group']}/{e['version']}", e["kind"]): CrdVersion(
            e["group"], e["kind"], e["version"], e["served"], e["deprecated"], e.get("deprecationWarning"), e["file"])
        for e in index
    }


@lru_cache(maxsize=1)
def builtins() -> dict[str, Any]:
    """The vendored Kubernetes built-in kinds: {"kubernetes": version, "kinds": {...}, "definitions": {...}}."""
    data = resources.files("beskar.check").joinpath("data", "kubernetes", "v1.32.json").read_text()
    return json.loads(data)


def kubernetes_version() -> str:
    return builtins()["kubernetes"]


def _builtin_key(api_version: Any, kind: Any) -> str:
    return f"{api_version} {kind}"


@lru_cache(maxsize=1)
def _kinds_by_group() -> dict[tuple[str, str], list[str]]:
    """(API group, kind) -> the apiVersions of it that Beskar has a schema for (Flux and built-in)."""
    found: dict[tuple[str, str], list[str]] = {}
    for api_version, kind in crd_versions():
        found.setdefault((api_version.rpartition("/")[0], kind), []).append(api_version)
    for key in builtins()["kinds"]:
        api_version, kind = key.split(" ")
        found.setdefault((api_version.rpartition("/")[0], kind), []).append(api_version)
    return found


def api_status(api_version: Any, kind: Any) -> tuple[ApiStatus, list[str]]:
    """Whether Beskar knows this apiVersion of the kind, and the apiVersions of the kind it does know."""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ApiStatus.UNKNOWN, []
    crd = crd_versions().get((api_version, kind))
    if crd is not None:
        return (ApiStatus.DEPRECATED if crd.deprecated else ApiStatus.CURRENT), []
    if _builtin_key(api_version, kind) in builtins()["kinds"]:
        return ApiStatus.CURRENT, []
    group = api_version.rpartition("/")[0]
    known = _kinds_by_group().get((group, kind))
    if not known and ("." not in group or group.endswith(".k8s.io")):
        # A built-in kind at a removed API version, also of another group (extensions/v1beta1 Ingress).
        known = [v for (g, k), versions in _kinds_by_group().items() if k == kind for v in versions
                 if ("." not in g or g.endswith(".k8s.io"))]
    return (ApiStatus.UNSERVED, sorted(known)) if known else (ApiStatus.UNKNOWN, [])


def namespaced(api_version: Any, kind: Any) -> bool:
    """Whether objects of the kind live in a namespace (unknown kinds: assumed namespaced, as most CRDs are)."""
    entry = builtins()["kinds"].get(_builtin_key(api_version, kind))
    if entry is not None:
        return entry["namespaced"]
    return kind not in _CLUSTER_SCOPED


# Cluster-scoped kinds without a vendored schema, so that their names are not given a namespace.
_CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding", "PriorityClass",
    "IngressClass", "CustomResourceDefinition", "APIService", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "CSIDriver", "VolumeSnapshotClass", "RuntimeClass", "ClusterIssuer", "ClusterPolicy",
})


def _reachable(schema: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    """Only the definitions the schema refers to (compiling all of them for every kind costs 10x)."""
    names: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/definitions/"):
                name = ref.removeprefix("#/definitions/")
                if name not in names:
                    names.add(name)
                    stack.append(definitions[name])
            stack.extend(v for k, v in node.items() if k != "$ref")
        elif isinstance(node, list):
            stack.extend(node)
    return {name: definitions[name] for name in sorted(names)}


def _strict(node: Any) -> Any:
    """Unknown fields are errors: Flux applies with server-side dry-run, which rejects a field the CRD does not
    declare ("field not declared in schema"), except below x-kubernetes-preserve-unknown-fields (values)."""
    if isinstance(node, dict):
        node = {k: _strict(v) for k, v in node.items()}
        if "properties" in node and "additionalProperties" not in node \
                and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A CRD or OpenAPI schema where unknown fields are errors, as the API server's field validation has it."""
    return _strict(schema)


@lru_cache(maxsize=None)
def _schema(api_version: str, kind: str) -> dict[str, Any] | None:
    """The schema of the whole object (built-in kinds) or of everything but metadata (Flux CRDs)."""
    crd = crd_versions().get((api_version, kind))
    if crd is not None:
        return _strict(json.loads(_crds().joinpath(crd.file).read_text()))
    entry = builtins()["kinds"].get(_builtin_key(api_version, kind))
    if entry is None:
        return None
    schema = dict(entry["schema"])
    schema["definitions"] = _reachable(schema, builtins()["definitions"])
    return schema


@lru_cache(maxsize=1)
def _metadata_schema() -> dict[str, Any]:
    definitions = builtins()["definitions"]
    schema = {"$ref": f"#/definitions/{OBJECT_META}"}
    return {**schema, "definitions": _reachable(schema, definitions)}


@lru_cache(maxsize=None)
def _fast(api_version: str, kind: str) -> Callable[[Any], Any]:
    schema = _schema(api_version, kind) if kind else _metadata_schema()
    return _compiled(schema, f"{api_version} {kind}".strip() or "ObjectMeta")


@lru_cache(maxsize=None)
def _compiled_before(api_version: str, kind: str) -> bool:
    """Whether an earlier process left this kind's validator compiled on disk (then loading it costs nothing)."""
    schema = _schema(api_version, kind) if kind else _metadata_schema()
    return _cache_file(schema).is_file()


def _cache_directory() -> Path:
    """Where compiled validators are kept between processes: $BESKAR_CACHE or $XDG_CACHE_HOME/beskar, as the chart
    cache."""
    if os.environ.get("BESKAR_CACHE"):
        return Path(os.environ["BESKAR_CACHE"]) / "schemas"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "beskar" / "schemas"


def _compiled(schema: dict[str, Any], label: str) -> Callable[[Any], Any]:
    """fastjsonschema's validator for `schema`, its bytecode kept on disk: generating and compiling the code of the
    seven schemas a check uses costs a quarter of a second in every process, loading it a few milliseconds. The
    key covers the schema, fastjsonschema's and Python's versions; a cache that cannot be read or written is
    skipped."""
    cached = _cache_file(schema)
    try:
        code = marshal.loads(cached.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        # use_default=False: a validator that filled in the schema's defaults would change the object it checks
        # (the rendered objects themselves, which later rules and `beskar report` read).
        code = compile(fastjsonschema.compile_to_code(schema, use_default=False), f"<schema {label}>", "exec")
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=cached.parent, delete=False, suffix=".part") as staged:
                staged.write(marshal.dumps(code))
            os.replace(staged.name, cached)
        except OSError:
            pass
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # the code fastjsonschema.compile would exec, read back
    return namespace["validate"]


_NO_DEFAULTS = "use_default=False"


def _cache_file(schema: dict[str, Any]) -> Path:
    key = hashlib.sha256(json.dumps([schema, fastjsonschema.VERSION, sys.version, _NO_DEFAULTS],
                                    sort_keys=True).encode()).hexdigest()
    return _cache_directory() / f"{key}.marshal"


@lru_cache(maxsize=None)
def _thorough(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema = _schema(api_version, kind) if kind else _metadata_schema()
    return jsonschema.Draft7Validator(schema)


def knows(document: dict[str, Any]) -> bool:
    """Whether Beskar has a schema for the object's apiVersion and kind."""
    api_version, kind = document.get("apiVersion"), document.get("kind")
    return isinstance(api_version, str) and isinstance(kind, str) and _schema(api_version, kind) is not None


# Objects of one kind validated before its schema is compiled: past about this many, compiling pays for itself
# (unless an earlier process left it compiled on disk).
COMPILE_AFTER = 200
_validated: dict[tuple[str, str], int] = {}


def _passes(key: tuple[str, str], body: Any) -> bool:
    _validated[key] = _validated.get(key, 0) + 1
    if _validated[key] <= COMPILE_AFTER and not _compiled_before(*key):
        return _thorough(*key).is_valid(body)
    try:
        _fast(*key)(body)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def schema_errors(document: dict[str, Any]) -> list[SchemaError]:
    """Every way the object breaks its schema ([] when valid or when Beskar has no schema for its kind)."""
    if not knows(document):
        return []
    api_version, kind = document["apiVersion"], document["kind"]
    if (api_version, kind) in crd_versions():
        # A CRD's schema leaves metadata to the API server, which checks it as ObjectMeta.
        body = {k: v for k, v in document.items() if k != "metadata"}
        checks = [((api_version, kind), body, ())]
        if "metadata" in document:
            checks.append((("", ""), document["metadata"], ("metadata",)))
    else:
        checks = [((api_version, kind), document, ())]
    errors: list[SchemaError] = []
    for key, body, prefix in checks:
        if not _passes(key, body):
            errors.extend(_explain(_thorough(*key), body, prefix))
    return sorted(errors, key=lambda e: (e.path, e.message))


def _explain(validator: jsonschema.protocols.Validator, body: Any, prefix: tuple[Any, ...]) -> list[SchemaError]:
    found = []
    for error in validator.iter_errors(body):
        location = prefix + tuple(error.absolute_path)
        hint = None
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = sorted((error.schema.get("properties") or {}).keys())
            extra = sorted(k for k in error.instance if k not in allowed)
            if extra:
                location += (extra[0],)  # point at the unexpected key itself
                close = difflib.get_close_matches(str(extra[0]), allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else None
        path = ".".join(str(p) for p in prefix + tuple(error.absolute_path)) or "(object)"
        found.append(SchemaError(path, error.message, location, hint))
    return found
