"""The site's Kubernetes Secret `common`: its document, its values, and the date each value was set."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

NAME = "common"
# When each value was last set (generated, rotated or edited), one `key: YYYY-MM-DD` line per key.
# Clear text (key names are clear text anyway) and covered by the MAC.
DATES = "beskar/set-on"


def empty(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": NAME, "namespace": namespace},
            "type": "Opaque", "stringData": {}}


def values_of(document: dict[str, Any]) -> dict[str, Any]:
    return dict(document.get("stringData") or {})


def key_names(document: dict[str, Any]) -> list[str]:
    """The keys of a Secret document, encrypted or not (names are never encrypted)."""
    names = list((document.get("stringData") or {}).keys()) + list((document.get("data") or {}).keys())
    return [str(name) for name in names]


def dates_of(document: dict[str, Any]) -> dict[str, str]:
    text = ((document.get("metadata") or {}).get("annotations") or {}).get(DATES) or ""
    dates = {}
    for line in str(text).splitlines():
        key, _, when = line.rpartition(": ")
        if key:
            dates[key] = when.strip()
    return dates


def updated(document: dict[str, Any], namespace: str, values: dict[str, Any], changed: set[str],
            today: date) -> dict[str, Any]:
    """The document with `values` as its stringData (sorted), its name and namespace set, and today's
    date for the changed keys. Everything else in it (labels, other annotations) is kept."""
    result = copy.deepcopy(document)
    metadata = result.setdefault("metadata", {})
    metadata["name"] = NAME
    metadata["namespace"] = namespace
    dates = {key: when for key, when in dates_of(document).items() if key in values}
    dates.update({key: today.isoformat() for key in changed})
    annotations = dict(metadata.get("annotations") or {})
    annotations[DATES] = "".join(f"{key}: {dates[key]}\n" for key in sorted(dates))
    metadata["annotations"] = annotations
    result["stringData"] = {key: values[key] for key in sorted(values)}
    return result
