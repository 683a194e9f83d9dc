"""The typed `secrets` section of a site: who can read its secrets, and how values are generated."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from beskar.model.strict import Strict

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
RECIPIENT = re.compile(rf"^age1[{_BECH32}]{{58}}$")
SSH_RECIPIENT = re.compile(r"^(ssh-ed25519|ssh-rsa) ([A-Za-z0-9+/=]+)( .*)?$")
IDENTITY_PREFIX = "AGE-SECRET-KEY-1"


def _bech32_polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for bit in range(5):
            check ^= generator[bit] if (top >> bit) & 1 else 0
    return check


def _age_key_is_valid(text: str) -> bool:
    """BIP-173 bech32 with the `age` prefix: the checksum holds and the data is 32 bytes with zero padding."""
    hrp, data = text[:3], [_BECH32.index(c) for c in text[4:]]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    if _bech32_polymod(expanded + data) != 1:
        return False
    payload = data[:-6]
    bits = len(payload) * 5
    accumulated = 0
    for value in payload:
        accumulated = accumulated << 5 | value
    return bits - 256 < 5 and accumulated & ((1 << (bits - 256)) - 1) == 0


_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P


def _on_edwards25519(encoded: bytes) -> bool:
    """RFC 8032 5.1.3: the 32 bytes decode to a point of Ed25519 (what age's ssh-ed25519 recipient needs)."""
    number = int.from_bytes(encoded, "little")
    y, sign = number & ((1 << 255) - 1), number >> 255
    if y >= _P:
        return False
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if v * x * x % _P == (-u) % _P:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if v * x * x % _P != u:
        return False
    return not (x == 0 and sign == 1)


def _ssh_strings(blob: bytes) -> list[bytes] | None:
    """The length-prefixed fields of an SSH public key blob (RFC 4253), or None if it does not split cleanly."""
    fields, offset = [], 0
    while offset < len(blob):
        if offset + 4 > len(blob):
            return None
        size = int.from_bytes(blob[offset:offset + 4], "big")
        offset += 4
        if offset + size > len(blob):
            return None
        fields.append(blob[offset:offset + size])
        offset += size
    return fields


def _ssh_key_is_valid(kind: str, encoded: str) -> bool:
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return False
    fields = _ssh_strings(blob)
    if not fields or fields[0] != kind.encode():
        return False
    if kind == "ssh-ed25519":
        return len(fields) == 2 and len(fields[1]) == 32 and _on_edwards25519(fields[1])
    if len(fields) != 3 or not fields[1] or not fields[2]:
        return False
    modulus = fields[2]  # an mpint: positive, with no superfluous leading zero byte
    return modulus[0] & 0x80 == 0 and (modulus[0] != 0 or len(modulus) > 1 and modulus[1] & 0x80 != 0)


def recipient_problem(text: str) -> str | None:
    """Why `text` is not an age recipient Beskar can encrypt to, or None if it is one (syntax and checksum)."""
    if RECIPIENT.match(text):
        if not _age_key_is_valid(text):
            return f"{text!r} has a bad checksum (a typo in an age recipient?)"
        return None
    ssh = SSH_RECIPIENT.match(text)
    if ssh:
        if not _ssh_key_is_valid(ssh.group(1), ssh.group(2)):
            return f"{text!r} is not a valid SSH public key"
        return None
    if text.startswith(IDENTITY_PREFIX) or text.startswith("AGE-SECRET-KEY-"):
        return "this is a private age identity, not a recipient: never put it in the fleet (use age1...)"
    return f"{text!r} is not an age recipient (age1 followed by 58 bech32 characters, or an ssh-ed25519 key)"


def _recipient(value: str) -> str:
    problem = recipient_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _list_or_empty(value: Any) -> Any:
    return [] if value is None else value  # `recipients:` with every item removed reads as null


AgeRecipient = Annotated[str, AfterValidator(_recipient)]
Recipients = Annotated[list[AgeRecipient], BeforeValidator(_list_or_empty)]


class SecretsSettings(Strict):
    """Each site has its own age recipients (its Flux key); operators' recipients open every site."""

    recipients: Recipients = Field(default=[], description="the site's own age recipients: its Flux key "
                                                           "(`beskar secrets keygen`) and anyone for this site only")
    operators: Recipients = Field(default=[], description="operators' age recipients (usually set fleet-wide in "
                                                          "beskar.yaml defaults); they can open every site")
    password_length: int = Field(default=32, ge=16, le=256, description="length of generated passwords and hex tokens")
    max_age_days: int = Field(default=365, ge=1, description="`beskar secrets audit` flags values older than this")
