"""SOPS' cryptography: AES-256-GCM values with the key path as additional data, and the SHA-512 MAC over them."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from typing import Any, Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from beskar.secrets.errors import SopsError
from beskar.secrets.sops import (IV_BYTES, MAC_ONLY_ENCRYPTED_INIT, VERSION, AgeKey, Leaf, Metadata, Rule, Stash,
                                 from_plain, lastmodified_ad, now_rfc3339, parse_value, plain_bytes, transform)


def encrypt_value(value: Any, key: bytes, additional: str, iv: bytes) -> str:
    raw, kind = plain_bytes(value)
    sealed = AESGCM(key).encrypt(iv, raw, additional.encode())
    b64 = base64.b64encode
    return (f"ENC[AES256_GCM,data:{b64(sealed[:-16]).decode()},iv:{b64(iv).decode()},"
            f"tag:{b64(sealed[-16:]).decode()},type:{kind}]")


def decrypt_value(text: str, key: bytes, additional: str, where: str) -> tuple[Any, bytes]:
    """The plaintext of one ENC[...] value and its IV; SopsError names `where` if it does not authenticate."""
    sealed = parse_value(text, where)
    try:
        raw = AESGCM(key).decrypt(sealed.iv, sealed.data + sealed.tag, additional.encode())
    except InvalidTag:
        raise SopsError(where, "authentication failed: the value, its IV or its tag was changed, or the value "
                               "was moved here from another key") from None
    try:
        return from_plain(raw, sealed.kind), sealed.iv
    except (ValueError, KeyError, UnicodeDecodeError) as error:
        raise SopsError(where, f"decrypted to a value that is not of type {sealed.kind}: {error}") from None


@dataclass
class Encrypted:
    documents: list[Any]
    metadata: Metadata


def encrypt_documents(documents: list[Any], key: bytes, age: tuple[AgeKey, ...], rule: Rule = Rule(),
                      lastmodified: str | None = None, new_iv: Callable[[], bytes] = lambda: os.urandom(IV_BYTES),
                      stash: Stash | None = None, mac_only_encrypted: bool = False) -> Encrypted:
    """Encrypt the selected values of every document and compute the MAC (the age wrapping is given)."""
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            raise SopsError(f"document {index + 1}", "a SOPS document must be a mapping at the top")
        if "sops" in document:
            raise SopsError("sops", "the document already has a `sops` key: it is encrypted already")
    digest = hashlib.sha512()
    if mac_only_encrypted:
        digest.update(MAC_ONLY_ENCRYPTED_INIT)
    stash = stash or {}

    def visit(value: Any, leaf: Leaf) -> Any:
        selected = rule.selects(leaf.keys)
        raw, kind = plain_bytes(value)
        if selected or not mac_only_encrypted:
            digest.update(raw)
        if not selected or value == "" or value == b"":
            return value
        iv = stash.get((leaf.additional, kind, raw)) or new_iv()
        return encrypt_value(value, key, leaf.additional, iv)

    encrypted = transform(documents, visit)
    stamp = lastmodified or now_rfc3339()
    mac = encrypt_value(digest.hexdigest().upper(), key, lastmodified_ad(stamp), new_iv())
    metadata = Metadata(tuple(age), stamp, mac, rule, mac_only_encrypted, VERSION)
    return Encrypted(encrypted, metadata)


@dataclass
class Decrypted:
    documents: list[Any]
    stash: Stash
    mac: str


def decrypt_documents(documents: list[Any], metadata: Metadata, key: bytes, verify_mac: bool = True) -> Decrypted:
    """Decrypt every selected value, then check the MAC over all values in document order."""
    digest = hashlib.sha512()
    if metadata.mac_only_encrypted:
        digest.update(MAC_ONLY_ENCRYPTED_INIT)
    stash: Stash = {}

    def visit(value: Any, leaf: Leaf) -> Any:
        selected = metadata.rule.selects(leaf.keys)
        if selected and value != "":
            if not isinstance(value, str):
                raise SopsError(leaf.name, "is not encrypted: a clear-text value sits in an encrypted field")
            value, iv = decrypt_value(value, key, leaf.additional, leaf.name)
            raw, kind = plain_bytes(value)
            stash[(leaf.additional, kind, raw)] = iv
        if selected or not metadata.mac_only_encrypted:
            digest.update(plain_bytes(value)[0])
        return value

    plain = transform(documents, visit)
    stored, _ = decrypt_value(metadata.mac, key, lastmodified_ad(metadata.lastmodified), "sops.mac")
    computed = digest.hexdigest().upper()
    if verify_mac and stored != computed:
        raise SopsError("sops.mac", "MAC mismatch: the values no longer hash to the file's MAC (a value was "
                                    "swapped, a key reordered, or a clear-text field such as metadata.name edited)")
    return Decrypted(plain, stash, computed)
