"""A SOPS file as a whole: read it (no key needed), open it with identities, seal documents into one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from beskar.secrets import age as ages
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
    return SopsFile(file, format_of(file, fmt), body, metadata, parsed)


@dataclass
class Opened:
    """A decrypted file: plaintext documents, the data key, and the IVs of its values for stable rewrites."""

    source: SopsFile
    documents: list[Any]
    data_key: bytes
    stash: sops.Stash


def open_file(source: SopsFile, identities: list[ages.Identity]) -> Opened:
    """Decrypt with the first identity that opens a data key; every value authenticated, the MAC verified."""
    try:
        data_key = ages.unwrap(source.metadata.age, identities, source.file)
        decrypted = sops.decrypt_documents(source.documents, source.metadata, data_key)
    except SopsError as error:
        raise source.locate(error) from None
    return Opened(source, decrypted.documents, data_key, decrypted.stash)


def seal(documents: list[Any], recipients: list[str], fmt: str = "yaml", *, data_key: bytes | None = None,
         stash: sops.Stash | None = None, keep: tuple[sops.AgeKey, ...] = (), rule: sops.Rule = sops.Rule(),
         lastmodified: str | None = None, new_iv: Callable[[], bytes] | None = None) -> str:
    """Encrypt documents to the recipients and return the file text.

    With `data_key` the file keeps its data key; `keep` holds age entries already wrapping it,
    reused for recipients that stay (so their lines do not change); `stash` keeps the IVs of
    unchanged values. Without them everything is fresh.
    """
    data_key = data_key or os.urandom(sops.DATA_KEY_BYTES)
    kept = {key.recipient: key for key in keep}
    wrapped = tuple(kept.get(r) or ages.wrap(data_key, r) for r in dict.fromkeys(recipients))
    options = {"new_iv": new_iv} if new_iv else {}
    encrypted = sops.encrypt_documents(documents, data_key, wrapped, rule, lastmodified, stash=stash, **options)
    return emit(encrypted.documents, encrypted.metadata, fmt)


def emit(documents: list[Any], metadata: sops.Metadata, fmt: str) -> str:
    block = metadata.as_mapping()
    full = [{**doc, "sops": block} for doc in documents]
    if fmt == "json":
        if len(full) != 1:
            raise SopsError("(root)", "a JSON file holds one document")
        return emit_json(full[0])
    return emit_yaml(full)


def rewrap(source: SopsFile, data_key: bytes, recipients: list[str], text_format: str | None = None) -> str:
    """The same file for another set of recipients: values, MAC and lastmodified untouched."""
    kept = {key.recipient: key for key in source.metadata.age}
    wrapped = tuple(kept.get(r) or ages.wrap(data_key, r) for r in dict.fromkeys(recipients))
    return emit(source.documents, sops.with_age(source.metadata, wrapped), text_format or source.format)
