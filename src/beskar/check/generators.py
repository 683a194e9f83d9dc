"""ConfigMaps and Secrets that kustomize generators make (`configMapGenerator`, `secretGenerator`)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from beskar.check.documents import Document
from beskar.check.resources import Problem, Resource

GENERATORS = {"configMapGenerator": "ConfigMap", "secretGenerator": "Secret"}


def sops_encrypted_text(text: str) -> bool:
    """A file sops encrypted: YAML/JSON with a `sops` block, or a dotenv/INI file with `sops_*` entries."""
    return ("sops:" in text and "mac:" in text) or '"sops":' in text or "sops_mac=" in text


@dataclass
class Generated:
    """What a kustomization's generators make, the files they read and the problems found on the way."""

    resources: list[Resource] = field(default_factory=list)
    reached: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)


def generate(directory: str, document: Document | None, spec: dict[str, Any], paths: frozenset[str],
             text_of: Callable[[str], str | None]) -> Generated:
    """One ConfigMap or Secret per generator entry, placed at that entry; its keys as kustomize names them."""
    generated = Generated()
    if document is not None:
        generated.resources.extend(_generate(directory, document, spec, paths, text_of, generated))
    return generated


def _generate(directory: str, document: Document, spec: dict[str, Any], paths: frozenset[str],
              text_of: Callable[[str], str | None], generated: Generated) -> Iterator[Resource]:
    for key, kind in GENERATORS.items():
        entries = spec.get(key)
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            where = (key, index)
            data: dict[str, str] = {}
            for number, literal in enumerate(_strings(entry.get("literals"))):
                name, _, value = literal.partition("=")
                data[name.strip()] = value
                if kind == "Secret" and value:
                    generated.problems.append(Problem(
                        "tree/plain-secret", document.file, document.line_of(where + ("literals", number)),
                        f"secretGenerator {entry['name']} has the clear-text literal {name.strip()!r}",
                        "move the value into a SOPS-encrypted file or Secret"))
            for field in ("files", "envs", "env"):
                values = [entry[field]] if field == "env" and isinstance(entry.get(field), str) \
                    else list(_strings(entry.get(field)))
                for number, item in enumerate(values):
                    at = where + ((field,) if field == "env" else (field, number))
                    name, _, source = item.rpartition("=") if "=" in item else ("", "", item)
                    path = posixpath.normpath(posixpath.join(directory, source))
                    if path not in paths:
                        generated.problems.append(Problem(
                            "tree/missing-resource", document.file, document.line_of(at),
                            f"{key} {entry['name']}: file {source!r} does not exist"))
                        continue
                    generated.reached.add(path)
                    text = text_of(path)
                    if field == "files":
                        data[name or posixpath.basename(source)] = text or ""
                    else:
                        data.update(_dotenv(text or ""))
                    if kind == "Secret" and text is not None and not sops_encrypted_text(text):
                        generated.problems.append(Problem(
                            "tree/plain-secret", document.file, document.line_of(at),
                            f"secretGenerator {entry['name']} reads {source!r}, which is not SOPS-encrypted",
                            "encrypt it with sops; Flux decrypts generator files of a Kustomization with "
                            "decryption set"))
            metadata = {"name": entry["name"]}
            if isinstance(entry.get("namespace"), str):
                metadata["namespace"] = entry["namespace"]
            generated = {"apiVersion": "v1", "kind": kind, "metadata": metadata, "data": data}
            yield Resource(generated, document, metadata.get("namespace", ""), generator=where)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))


def _dotenv(text: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            if not key.startswith("sops_"):
                pairs[key.strip()] = value
    return pairs
