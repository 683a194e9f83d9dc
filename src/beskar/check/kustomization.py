"""The kustomization file: its names, the fields of kustomize v5's Kustomization type and the shape of each, and
reading its lists and maps as kustomize does."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterator

from beskar.check.documents import Document

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
YAML_SUFFIXES = (".yaml", ".yml")
# The fields of kustomize v5's Kustomization type (kustomize refuses any other), and the shape of each.
_LISTS = {"resources", "bases", "components", "crds", "configurations", "generators", "transformers", "validators",
          "patchesStrategicMerge", "patchesJson6902", "patches", "configMapGenerator", "secretGenerator", "images",
          "replicas", "replacements", "labels", "vars", "helmCharts", "helmGlobals", "openapi", "sortOptions",
          "buildMetadata", "helmChartInflationGenerator"}
_MAPS = {"commonLabels", "commonAnnotations", "generatorOptions", "metadata", "helmGlobals", "openapi",
         "sortOptions"}
_STRINGS = {"apiVersion", "kind", "namespace", "namePrefix", "nameSuffix"}
FIELDS = _LISTS | _MAPS | _STRINGS
_SHAPES = {"helmGlobals": dict, "openapi": dict, "sortOptions": dict}
_STRING_LISTS = {"resources", "bases", "components", "crds", "configurations", "generators", "transformers",
                 "validators", "buildMetadata"}


@dataclass(frozen=True)
class FieldProblem:
    """A field kustomize refuses: the line it is on, what is wrong, and what to do."""

    line: int
    message: str
    hint: str | None = None


def field_problems(document: Document, spec: dict[str, Any]) -> Iterator[FieldProblem]:
    """Every field of the kustomization `spec` (parsed from `document`) that is unknown or of the wrong shape."""
    for key, value in spec.items():
        where = document.line_of((key,))
        if key not in FIELDS:
            close = difflib.get_close_matches(str(key), sorted(FIELDS), n=1)
            yield FieldProblem(where, f"unknown kustomization field {key!r}",
                               f"did you mean {close[0]!r}?" if close else "kustomize refuses unknown fields")
        elif value is None:
            continue
        elif key in _STRINGS and not isinstance(value, str):
            yield FieldProblem(where, f"{key} must be a string")
        elif key in _SHAPES and not isinstance(value, _SHAPES[key]):
            yield FieldProblem(where, f"{key} must be a mapping")
        elif key in _MAPS and key not in _SHAPES and not isinstance(value, dict):
            yield FieldProblem(where, f"{key} must be a mapping")
        elif key in _MAPS and key in ("commonLabels", "commonAnnotations") and \
                any(not isinstance(v, str) for v in value.values()):
            bad = next(k for k, v in value.items() if not isinstance(v, str))
            yield FieldProblem(document.line_of((key, bad)),
                               f"{key}.{bad} must be a string (quote it: YAML reads {value[bad]!r} as "
                               f"{type(value[bad]).__name__})")
        elif key in _LISTS and key not in _SHAPES and not isinstance(value, list):
            yield FieldProblem(where, f"{key} must be a list, not a {shape(type(value).__name__)}")
        elif key in _STRING_LISTS:
            for index, item in enumerate(value):
                if not isinstance(item, str):
                    yield FieldProblem(document.line_of((key, index)),
                                       f"{key} entries must be strings (paths or URLs)")


def shape(python_type: str) -> str:
    """A Python type's name as YAML calls the shape."""
    return {"list": "list", "str": "string", "int": "number", "float": "number", "bool": "boolean",
            "dict": "mapping"}.get(python_type, python_type)


def entries(spec: dict[str, Any], key: str) -> Iterator[tuple[int, Any]]:
    """The (index, entry) pairs of a list field; nothing when it is absent or not a list."""
    value = spec.get(key)
    if isinstance(value, list):
        yield from enumerate(value)


def strings_map(value: Any) -> dict[str, str]:
    """The string values of a map field (commonLabels, pairs ...); kustomize refuses the others elsewhere."""
    return {str(k): v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}
