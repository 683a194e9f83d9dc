"""An age-encrypted data key (a SOPS file's `enc`) checked against age's format without a key: armor, header, stanza.

Opening an entry needs its private key, which nobody but the site's Flux may have; its shape needs none. A damaged
entry of the site's own key would let an operator decrypt the file (with the operator's entry) while Flux fails
on it after the merge, so every entry is checked wherever the file is read.
"""

from __future__ import annotations

import base64
import binascii
import re

BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
END = "-----END AGE ENCRYPTED FILE-----"
VERSION_LINE = b"age-encryption.org/v1"
COLUMNS = 64
NONCE_BYTES = 16
WRAPPED_DATA_KEY_BYTES = 32 + 16  # the 32-byte data key in one STREAM chunk with its 16-byte tag
_ARGUMENT = re.compile(rb"[\x21-\x7e]+")
# The stanza each recipient's entry must hold (its type and how many arguments of how many bytes).
_STANZAS = {"age1": ("X25519", (32,)), "ssh-ed25519": ("ssh-ed25519", (4, 32)), "ssh-rsa": ("ssh-rsa", (4,))}


def _unpadded(text: bytes) -> bytes:
    """age's base64: standard alphabet, no padding, canonical (the unused bits zero)."""
    try:
        value = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True) if b"=" not in text else None
    except binascii.Error:
        value = None
    if value is None or base64.b64encode(value).rstrip(b"=") != text:
        raise ValueError("a stanza or the MAC of its header is not age's base64")
    return value


def _dearmored(text: str) -> bytes:
    lines = text.strip().split("\n")
    if len(lines) < 3 or lines[0].strip() != BEGIN or lines[-1].strip() != END:
        raise ValueError("it is not an armored age file (BEGIN/END AGE ENCRYPTED FILE lines)")
    body = [line.strip() for line in lines[1:-1]]
    if any(len(line) != COLUMNS for line in body[:-1]) or not 0 < len(body[-1]) <= COLUMNS:
        raise ValueError("its armor is not wrapped at 64 columns")
    try:
        return base64.b64decode("".join(body), validate=True)
    except binascii.Error:
        raise ValueError("its armor is not base64") from None


def _stanzas(data: bytes) -> tuple[list[tuple[list[bytes], bytes]], bytes]:
    """The header's stanzas (arguments, body) and what follows the MAC line (nonce and payload)."""
    version, _, rest = data.partition(b"\n")
    if version != VERSION_LINE:
        raise ValueError("its header does not start with age-encryption.org/v1")
    stanzas = []
    while rest.startswith(b"-> "):
        line, _, rest = rest.partition(b"\n")
        arguments = line[3:].split(b" ")
        if not all(_ARGUMENT.fullmatch(a) for a in arguments):
            raise ValueError("a stanza line of its header is malformed")
        body = b""
        while True:
            chunk, newline, rest = rest.partition(b"\n")
            if not newline or len(chunk) > COLUMNS:
                raise ValueError("a stanza body of its header is malformed")
            body += chunk
            if len(chunk) < COLUMNS:
                break
        stanzas.append((arguments, _unpadded(body)))
    if not stanzas:
        raise ValueError("its header has no recipient stanza")
    if not rest.startswith(b"--- "):
        raise ValueError("its header has no MAC line")
    mac, newline, payload = rest[4:].partition(b"\n")
    if not newline or len(_unpadded(mac)) != 32:
        raise ValueError("its header MAC is malformed")
    return stanzas, payload


def entry_problem(recipient: str, enc: str) -> str | None:
    """Why the entry wrapping the data key for `recipient` is not a well-formed age file for it, or None."""
    try:
        stanzas, payload = _stanzas(_dearmored(enc))
        kind = next((_STANZAS[prefix] for prefix in _STANZAS if recipient.startswith(prefix)), None)
        if kind is not None:
            name, sizes = kind
            mine = [(arguments[1:], body) for arguments, body in stanzas if arguments[0] == name.encode()]
            if len(mine) != 1:
                raise ValueError(f"it holds {len(mine)} {name} stanzas, not one")
            arguments, body = mine[0]
            if [len(_unpadded(a)) for a in arguments] != list(sizes) or (name != "ssh-rsa" and len(body) != 32):
                raise ValueError(f"its {name} stanza is malformed")
        if len(payload) != NONCE_BYTES + WRAPPED_DATA_KEY_BYTES:
            raise ValueError(f"its payload is {len(payload)} bytes, not the {NONCE_BYTES + WRAPPED_DATA_KEY_BYTES} "
                             "of a wrapped data key")
    except ValueError as error:
        return f"the age entry for {recipient} is damaged: {error}"
    return None
