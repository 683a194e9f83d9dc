"""A SOPS file as a whole, as far as no key is needed: read it, find a key's line, emit documents and metadata."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beskar.problems import InputError
from beskar.secrets import sops
from beskar.secrets.errors import SopsError
from beskar.secrets.yamlio import Parsed, emit_json, emit_yaml, load_json, load_yaml


def format_of(file: str, override: str | None = None) -> str:
    if override:
        return override
    return "json" if file.lower().endswith(".json") else "yaml"


@dataclass
class SopsFile:
    """An encrypted file as read from disk: its documents (still encrypted) and its metadata."""

    file: str
    format: str
    documents: list[Any]
    metadata: sops.Metadata
    parsed: Parsed

    def line_of(self, where: str) -> int | None:
        for (document, path), line in self.parsed.lines.items():
            if sops.dotted(path) == where:
                return line
        return None

    def locate(self, error: SopsError) -> SopsError:
        return error.located(self.file, self.line_of(error.where))


def parse(text: str, file: str, fmt: str | None = None) -> Parsed:
    fmt = format_of(file, fmt)
    return load_json(text, file) if fmt == "json" else load_yaml(text, file)


def read(text: str, file: str, fmt: str | None = None) -> SopsFile:
    """Parse an encrypted file; needs no key. Raises SopsError (with file and line) if it is not SOPS."""
    parsed = parse(text, file, fmt)
    documents = [doc if doc is not None else {} for doc in parsed.documents]
    if not documents or not isinstance(documents[0], dict) or "sops" not in documents[0]:
        raise SopsError("sops", "not a SOPS file: there is no top-level `sops` metadata", file, 1)
    try:
        metadata = sops.parse_metadata(documents[0]["sops"])
    except SopsError as error:
        raise error.located(file, parsed.origin(0, ("sops",)).line) from None
    body = []
    for doc in documents:
        if not isinstance(doc, dict):
            raise SopsError("(root)", "a SOPS document must be a mapping at the top", file, 1)
        body.append({k: v for k, v in doc.items() if k != "sops"})
    found = SopsFile(file, format_of(file, fmt), body, metadata, parsed)
    try:
        sops.check_sealed(body, metadata.rule)
    except SopsError as error:
        raise found.locate(error) from None
    return found


def emit(documents: list[Any], metadata: sops.Metadata, fmt: str) -> str:
    block = metadata.as_mapping()
    full = [{**doc, "sops": block} for doc in documents]
    if fmt == "json":
        if len(full) != 1:
            raise SopsError("(root)", "a JSON file holds one document")
        return emit_json(full[0])
    return emit_yaml(full)


def read_site_file(data: bytes | None, file: str) -> SopsFile | SopsError | None:
    """A site's secrets file from the bytes the fleet read: the file, why it is unusable, or None if absent.

    Never raises: a check reports an unusable file as a finding and goes on with the other rules.
    """
    if data is None:
        return None
    try:
        return read(data.decode("utf-8"), file)
    except UnicodeDecodeError:
        return SopsError("(file)", "is not UTF-8 text", file, 1)
    except SopsError as error:
        return error
    except InputError as error:  # YAML syntax
        origin = error.problems[0].origin
        return SopsError("(file)", error.problems[0].message, file, origin.line if origin else 1)
