"""The Secrets of a site's tree as a build reads them: SOPS-encrypted ones opened in memory when a key is at hand."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Mapping

from beskar.build.secrets import placeholders
from beskar.check.resources import Resource
from beskar.secrets import age as ages
from beskar.secrets import sealing, sopsfile
from beskar.secrets.errors import SopsError


def open_secrets(resources: list[Resource], contents: Mapping[str, str], identities: list[ages.Identity]
                 ) -> tuple[dict[tuple[str, str], dict[str, str]], dict[str, str], bool]:
    """The decrypted values of the site's SOPS Secrets, when a key opens them: per Secret, and flat for the
    redactor; and whether any Secret stayed closed (its values are placeholders)."""
    opened: dict[tuple[str, str], dict[str, str]] = {}
    flat: dict[str, str] = {}
    hidden = False
    for resource in resources:
        if resource.kind != "Secret" or "sops" not in resource.data:
            continue
        values_found = None
        if identities:
            try:
                source = sopsfile.read(contents[resource.file], resource.file)
                documents = sealing.open_file(source, identities).documents
                values_found = _secret_values(documents, resource.name)
            except (SopsError, KeyError, ValueError):
                values_found = None
        if values_found is None:
            hidden = True
            continue
        opened[(resource.namespace, resource.name)] = values_found
        flat.update(values_found)
    return opened, flat, hidden


def _secret_values(documents: list[Any], name: str) -> dict[str, str] | None:
    for document in documents:
        if isinstance(document, dict) and (document.get("metadata") or {}).get("name") == name:
            found = {str(k): str(v) for k, v in (document.get("stringData") or {}).items()}
            for key, value in (document.get("data") or {}).items():
                try:
                    found[str(key)] = _b64(str(value))
                except ValueError:
                    found[str(key)] = str(value)
            return found
    return None


def _b64(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError(str(error)) from None


def secret_data(resource: Resource, secrets: Mapping[tuple[str, str], dict[str, str]]) -> dict[str, str]:
    """A ConfigMap's or Secret's data as a valuesFrom reads it: decoded, the values of a SOPS Secret that stayed
    closed as placeholders."""
    body = resource.data
    if resource.kind == "Secret" and "sops" in body:
        opened = secrets.get((resource.namespace, resource.name))
        keys = [*(body.get("stringData") or {}), *(body.get("data") or {})]
        return {k: opened.get(k, "") for k in keys} if opened is not None else placeholders([str(k) for k in keys])
    data = {str(k): str(v) for k, v in (body.get("data") or {}).items()}
    if resource.kind == "Secret":
        decoded = {}
        for key, value in data.items():
            try:
                decoded[key] = _b64(value)
            except ValueError:
                decoded[key] = value
        data = decoded
    data.update({str(k): str(v) for k, v in (body.get("stringData") or {}).items()})
    return data
