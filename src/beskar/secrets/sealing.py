"""Opening and sealing SOPS files: the data key wrapped by age for each recipient, the values by AES-GCM."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from beskar.secrets import age as ages
from beskar.secrets import cipher, sops
from beskar.secrets.errors import SopsError
from beskar.secrets.sopsfile import SopsFile, emit


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
        decrypted = cipher.decrypt_documents(source.documents, source.metadata, data_key)
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
    encrypted = cipher.encrypt_documents(documents, data_key, wrapped, rule, lastmodified, stash=stash, **options)
    return emit(encrypted.documents, encrypted.metadata, fmt)


def rewrap(source: SopsFile, data_key: bytes, recipients: list[str], text_format: str | None = None) -> str:
    """The same file for another set of recipients: values, MAC and lastmodified untouched."""
    kept = {key.recipient: key for key in source.metadata.age}
    wrapped = tuple(kept.get(r) or ages.wrap(data_key, r) for r in dict.fromkeys(recipients))
    return emit(source.documents, sops.with_age(source.metadata, wrapped), text_format or source.format)
