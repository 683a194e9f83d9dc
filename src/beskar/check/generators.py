"""ConfigMaps and Secrets that kustomize generators make (`configMapGenerator`, `secretGenerator`)."""

from __future__ import annotations

import base64
import posixpath
from dataclasses import dataclass, field
from typing import Any, Iterator

from beskar.check.builds import Sources
from beskar.check.documents import Document
from beskar.check.resources import Problem, Resource

GENERATORS = {"configMapGenerator": "ConfigMap", "secretGenerator": "Secret"}


def sops_encrypted_text(text: str) -> bool:
    """A file sops encrypted: YAML/JSON with a `sops` block, or a dotenv/INI file with `sops_*` entries."""
    return ("sops:" in text and "mac:" in text) or '"sops":' in text or "sops_mac=" in text


@dataclass
class Generated:
    """What the generators of one kustomization made, the files they read and the problems they met."""

    resources: list[tuple[Resource, str]] = field(default_factory=list)  # with behavior: create, merge, replace
    reached: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)


def generate(sources: Sources, directory: str, document: Document | None, spec: dict[str, Any]) -> Generated:
    """One ConfigMap or Secret per generator entry, placed at that entry; its keys as kustomize names them."""
    generated = Generated()
    if document is None:
        return generated
    options = spec.get("generatorOptions") if isinstance(spec.get("generatorOptions"), dict) else {}
    for key, kind in GENERATORS.items():
        entries = spec.get(key)
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            data = _data(sources, generated, directory, document, key, index, entry, kind)
            generated.resources.append((_object(document, (key, index), entry, kind, data, options),
                                        str(entry.get("behavior") or "create")))
    return generated


def _data(sources: Sources, generated: Generated, directory: str, document: Document, key: str, index: int,
          entry: dict[str, Any], kind: str) -> dict[str, str]:
    where = (key, index)
    data: dict[str, str] = {}
    for number, literal in enumerate(_strings(entry.get("literals"))):
        name, _, value = literal.partition("=")
        data[name] = _unquoted(value)
        if kind == "Secret" and value:
            generated.problems.append(Problem(
                "tree/plain-secret", document.file, document.line_of(where + ("literals", number)),
                f"secretGenerator {entry['name']} has the clear-text literal {name.strip()!r}",
                "move the value into a SOPS-encrypted file or Secret"))
    for field_name in ("files", "envs", "env"):
        values = [entry[field_name]] if field_name == "env" and isinstance(entry.get(field_name), str) \
            else list(_strings(entry.get(field_name)))
        for number, item in enumerate(values):
            at = where + ((field_name,) if field_name == "env" else (field_name, number))
            name, _, source = item.partition("=") if "=" in item else ("", "", item)
            path = posixpath.normpath(posixpath.join(directory, source))
            if path not in sources.paths:
                generated.problems.append(Problem(
                    "tree/missing-resource", document.file, document.line_of(at),
                    f"{key} {entry['name']}: file {source!r} does not exist"))
                continue
            generated.reached.add(path)
            text = sources.text(path)
            if field_name == "files":
                data[name or posixpath.basename(source)] = text or ""
            else:
                data.update(dotenv(text or ""))
            if kind == "Secret" and text is not None and not sops_encrypted_text(text):
                generated.problems.append(Problem(
                    "tree/plain-secret", document.file, document.line_of(at),
                    f"secretGenerator {entry['name']} reads {source!r}, which is not SOPS-encrypted",
                    "encrypt it with sops; Flux decrypts generator files of a Kustomization with decryption set"))
    return data


def _object(document: Document, where: tuple, entry: dict[str, Any], kind: str, data: dict[str, str],
            options: dict[str, Any]) -> Resource:
    own = entry.get("options") if isinstance(entry.get("options"), dict) else {}
    metadata: dict[str, Any] = {"name": entry["name"]}
    if isinstance(entry.get("namespace"), str):
        metadata["namespace"] = entry["namespace"]
    for section in ("labels", "annotations"):
        values = {**_mapping(options.get(section)), **_mapping(own.get(section))}
        if values:
            metadata[section] = values
    made: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": metadata}
    if kind == "Secret":
        made["type"] = str(entry.get("type") or "Opaque")
        data = {k: _base64(v) for k, v in data.items()}
    if data:
        made["data"] = data
    if own.get("immutable", options.get("immutable")) is True:
        made["immutable"] = True
    hashed = not own.get("disableNameSuffixHash", options.get("disableNameSuffixHash", False))
    return Resource(made, document, metadata.get("namespace", ""), generator=where, origin_name=entry["name"],
                    hashed=bool(hashed))


def _base64(value: str) -> str:
    """Base64 as kustomize writes generated Secrets: from 70 characters on, in lines of 70, each ending in a
    newline (the content hash is taken over that form)."""
    encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
    if len(encoded) < 70:
        return encoded
    return "".join(encoded[i:i + 70] + "\n" for i in range(0, len(encoded), 70))


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def dotenv(text: str) -> dict[str, str]:
    """An env file as kustomize reads it: `KEY=VALUE` lines, the value verbatim; comments and blanks skipped."""
    pairs = {}
    for line in text.removeprefix("\ufeff").splitlines():
        line = line.lstrip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            if not key.startswith("sops_"):
                pairs[key] = value
    return pairs
