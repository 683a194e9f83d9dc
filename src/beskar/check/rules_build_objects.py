"""Build rules over whole objects: templates that fail, schemas (built-in kinds, Flux and the site's own CRDs),
names Kubernetes accepts, and objects two releases both make."""

from __future__ import annotations

import re
from typing import Any, Iterator

import jsonschema

from beskar.check import schemas
from beskar.check.build import BuiltSite
from beskar.check.findings import Finding, Scope, Severity, report, rule

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@rule("build/template", Severity.ERROR, Scope.BUILD, "every HelmRelease renders with real Helm (a template error "
      "is reported at the HelmRelease, with Helm's message)")
def template_failures(built: BuiltSite) -> Iterator[Finding]:
    for failure in built.build.failures:
        yield report("build/template", f"HelmRelease {failure.release} does not render: {failure.message}",
                     file=failure.file, line=failure.line, site=built.site)


@rule("build/schema", Severity.ERROR, Scope.BUILD, "every built object is valid against the Kubernetes schema of "
      "its kind (unknown fields are errors) or the CRD the site's charts install")
def object_schemas(built: BuiltSite) -> Iterator[Finding]:
    crds = _crd_schemas(built)
    for item in built.build.objects():
        file, line = built.where(item)
        if schemas.knows(item.body):
            errors = [(e.path, e.message) for e in schemas.schema_errors(item.body)]
        elif (item.api_version, item.kind) in crds:
            body = {k: v for k, v in item.body.items() if k not in ("metadata", "apiVersion", "kind")}
            errors = [(".".join(map(str, e.absolute_path)) or "(object)", e.message)
                      for e in crds[(item.api_version, item.kind)].iter_errors(body)]
        else:
            continue
        for path, message in errors[:3]:
            yield report("build/schema", f"{item.key} ({item.template}): {path}: {message}", file=file, line=line,
                         site=built.site)


def _crd_schemas(built: BuiltSite) -> dict[tuple[str, str], Any]:
    found = {}
    for item in built.build.objects():
        if item.kind != "CustomResourceDefinition":
            continue
        spec = item.body.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        for version in spec.get("versions") or []:
            schema = ((version.get("schema") or {}).get("openAPIV3Schema")) if isinstance(version, dict) else None
            if group and kind and isinstance(schema, dict):
                properties = {k: v for k, v in (schema.get("properties") or {}).items()
                              if k not in ("metadata", "apiVersion", "kind")}
                required = [r for r in schema.get("required") or [] if r not in ("metadata", "apiVersion", "kind")]
                body_schema = schemas.strict({**schema, "properties": properties, "required": required})
                found[(f"{group}/{version.get('name')}", kind)] = jsonschema.Draft7Validator(body_schema)
    return found


@rule("build/object-name", Severity.ERROR, Scope.BUILD, "every built object's name is one the API server accepts "
      "(a DNS subdomain: lowercase letters, digits, '-' and '.', at most 253 characters)")
def object_names(built: BuiltSite) -> Iterator[Finding]:
    for item in built.build.objects():
        if item.name and (len(item.name) > 253 or not _SUBDOMAIN.match(item.name)):
            file, line = built.where(item)
            yield report("build/object-name", f"{item.key} ({item.template}): the API server refuses this name",
                         file=file, line=line, site=built.site,
                         hint="a chart derives such names from values (e.g. a node label key with '/')")


@rule("build/duplicate-object", Severity.ERROR, Scope.BUILD, "no two releases (or a release and a layer) of a site "
      "make the same object (kind, namespace, name)")
def duplicates(built: BuiltSite) -> Iterator[Finding]:
    makers: dict[Any, list[Any]] = {}
    for item in built.build.objects():
        makers.setdefault(item.key, []).append(item)
    for key, items in sorted(makers.items()):
        owners = sorted({i.release or f"layer {i.layer}" for i in items})
        if len(owners) > 1:
            file, line = built.where(items[-1])
            yield report("build/duplicate-object", f"{key} is made by {' and '.join(owners)}: Helm refuses to adopt "
                         "an object another release owns", file=file, line=line, site=built.site)
