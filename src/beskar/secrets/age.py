"""age identities and the data key: generation, wrapping and unwrapping, and where identities come from.

Whether a text is a recipient is syntax (model.secrets.recipient_problem, no crypto library needed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyrage

from beskar.model.secrets import IDENTITY_PREFIX, recipient_problem
from beskar.secrets.errors import SopsError
from beskar.secrets.sops import AgeKey

def _recipient(text: str):
    if text.startswith("ssh-"):
        return pyrage.ssh.Recipient.from_str(text)
    return pyrage.x25519.Recipient.from_str(text)


def wrap(data_key: bytes, recipient: str) -> AgeKey:
    """The data key as an armored age file for one recipient (what sops stores in `enc`)."""
    problem = recipient_problem(recipient)
    if problem:
        raise SopsError("sops.age", problem)
    armored = pyrage.encrypt(data_key, [_recipient(recipient)], armored=True).decode("ascii")
    return AgeKey(recipient, armored if armored.endswith("\n") else armored + "\n")


@dataclass(frozen=True)
class Identity:
    """A private age identity and where it was read from (never printed)."""

    secret: object
    recipient: str
    source: str


def generate() -> tuple[str, str]:
    """A new X25519 identity: (the AGE-SECRET-KEY-1... line, its age1... recipient)."""
    identity = pyrage.x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def parse_identities(text: str, source: str) -> list[Identity]:
    """Identities in an age key file: one per line, `#` comments and blank lines ignored."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith(IDENTITY_PREFIX):
            raise SopsError("identity", f"{source}:{number} is not an AGE-SECRET-KEY-1... line "
                                        "(only X25519 age identities are supported)")
        try:
            secret = pyrage.x25519.Identity.from_str(line)
        except Exception:
            raise SopsError("identity", f"{source}:{number} is not a valid age identity") from None
        found.append(Identity(secret, str(secret.to_public()), f"{source}:{number}"))
    return found


def default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


def load_identities(files: list[Path] | None = None, environ: dict[str, str] | None = None) -> list[Identity]:
    """Identities as sops finds them: --identity files, then SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, keys.txt."""
    environ = dict(os.environ) if environ is None else environ
    found: list[Identity] = []
    for path in files or []:
        found += _read_key_file(Path(path))
    if environ.get("SOPS_AGE_KEY"):
        found += parse_identities(environ["SOPS_AGE_KEY"], "SOPS_AGE_KEY")
    if environ.get("SOPS_AGE_KEY_FILE"):
        found += _read_key_file(Path(environ["SOPS_AGE_KEY_FILE"]))
    default = default_key_file()
    if default.is_file():
        found += _read_key_file(default)
    return found


def _read_key_file(path: Path) -> list[Identity]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SopsError("identity", f"cannot read identity file {path}: {error.strerror}") from None
    return parse_identities(text, str(path))


def unwrap(keys: tuple[AgeKey, ...], identities: list[Identity], file: str) -> bytes:
    """The data key, from the first age entry one of the identities opens."""
    if not identities:
        raise SopsError("sops.age", "no age identity to open the file: pass --identity FILE or set "
                                    "SOPS_AGE_KEY_FILE / SOPS_AGE_KEY", file)
    secrets = [identity.secret for identity in identities]
    mine = {identity.recipient for identity in identities}
    # Every entry addressed to a key we hold must open, to the same data key: sops stops at the first entry that
    # opens, but a damaged entry of the site's own key would then pass until Flux, which holds that key alone,
    # fails on it. Other entries (ssh, plugins ...) are tried only while no data key is found.
    found: bytes | None = None
    for key in sorted(keys, key=lambda k: k.recipient not in mine):
        if found is not None and key.recipient not in mine:
            break
        try:
            data_key = pyrage.decrypt(key.enc.encode("ascii"), secrets)
        except Exception:  # wrong identity, or a damaged entry
            if key.recipient in mine:
                raise SopsError("sops.age", f"the entry for {key.recipient} does not open with its identity: it "
                                            "is damaged", file) from None
            continue
        if len(data_key) != 32:
            raise SopsError("sops.age", f"the data key for {key.recipient} is {len(data_key)} bytes, not 32", file)
        if found is not None and data_key != found:
            raise SopsError("sops.age", f"the entry for {key.recipient} holds another data key than the file's", file)
        found = data_key
    if found is not None:
        return found
    recipients = ", ".join(k.recipient for k in keys) or "none"
    raise SopsError("sops.age", f"none of your {len(identities)} identities opens this file "
                                f"(it is encrypted to: {recipients})", file)
