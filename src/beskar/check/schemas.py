"""Flux objects checked against the openAPIV3Schema of their CRD version (vendored in the catalog)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema


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
    path: str
    message: str


def _crds() -> resources.abc.Traversable:
    return resources.files("beskar.catalog").joinpath("data", "crds")


@lru_cache(maxsize=1)
def crd_versions() -> dict[tuple[str, str], CrdVersion]:
    """(apiVersion, kind) -> the CRD version Beskar knows a schema for."""
    index = json.loads(_crds().joinpath("index.json").read_text())
    return {
        (f"{e['group']}/{e['version']}", e["kind"]): CrdVersion(
            e["group"], e["kind"], e["version"], e["served"], e["deprecated"], e.get("deprecationWarning"), e["file"])
        for e in index
    }


@lru_cache(maxsize=None)
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads(_crds().joinpath(crd_versions()[(api_version, kind)].file).read_text())
    return jsonschema.Draft7Validator(schema)


def knows(document: dict[str, Any]) -> bool:
    return (document.get("apiVersion"), document.get("kind")) in crd_versions()


def schema_errors(document: dict[str, Any]) -> list[SchemaError]:
    """Every way the object breaks its CRD schema ([] when valid or when the kind has no vendored schema)."""
    key = (document.get("apiVersion"), document.get("kind"))
    if key not in crd_versions():
        return []
    # metadata is validated by the API server, not the CRD schema; Kubernetes strips it before validation.
    body = {k: v for k, v in document.items() if k != "metadata"}
    errors = _validator(*key).iter_errors(body)
    return sorted((SchemaError(".".join(str(p) for p in e.absolute_path) or "(object)", e.message) for e in errors),
                  key=lambda e: (e.path, e.message))
