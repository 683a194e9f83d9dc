"""New secret values by kind: passwords, hex tokens, UUIDs, Fernet keys and SSH key pairs."""

from __future__ import annotations

import base64
import secrets
import string
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from beskar.catalog.credentials import DEFAULT_LENGTH

# Letters and digits only: the values land in URLs (mysql+pymysql://user:PASSWORD@host) and INI files,
# where punctuation would need quoting that charts do not do.
PASSWORD_ALPHABET = string.ascii_letters + string.digits
MIN_LENGTH = 16


def password(length: int = DEFAULT_LENGTH) -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def hex_token(length: int = DEFAULT_LENGTH) -> str:
    """`length` hex characters (length * 4 bits)."""
    return secrets.token_hex((length + 1) // 2)[:length]


def fernet_key() -> str:
    """A Fernet key: 32 random bytes, URL-safe base64 (what keystone's fernet and credential keys are)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def ssh_private_key() -> str:
    """An Ed25519 private key in OpenSSH format, unencrypted (the chart writes it into the pod)."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption()).decode()


def ssh_public_key(private_key: str, comment: str = "") -> str:
    """The OpenSSH public key line of a private key (the pair's other half)."""
    key = serialization.load_ssh_private_key(private_key.encode(), password=None)
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()
    return f"{line} {comment}".strip()


GENERATORS = {
    "password": password,
    "hex": hex_token,
    "uuid": lambda length=DEFAULT_LENGTH: str(uuid.uuid4()),
    "fernet": lambda length=DEFAULT_LENGTH: fernet_key(),
    "ssh_private_key": lambda length=DEFAULT_LENGTH: ssh_private_key(),
}


def generate(kind: str, length: int = DEFAULT_LENGTH) -> str:
    """A new random value of `kind` (lengths apply to passwords and hex tokens)."""
    if kind not in GENERATORS:
        raise ValueError(f"no generator for kind {kind!r}")
    return GENERATORS[kind](length)
