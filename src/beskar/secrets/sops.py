"""The SOPS file format without its cryptography: metadata, encryption rules, value types, ENC[...] syntax, leaves.

Reading a file's metadata and key names needs no crypto library; secrets.cipher encrypts and decrypts.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

from beskar.secrets.agefile import entry_problem
from beskar.secrets.errors import SopsError

IV_BYTES = 32  # sops uses 32-byte GCM nonces, not the usual 12
DATA_KEY_BYTES = 32
# The version of sops whose layout Beskar writes: no empty key lists, metadata in struct order.
VERSION = "3.10.2"
KUBERNETES_RULE_REGEX = "^(data|stringData)$"
MAC_ONLY_ENCRYPTED_INIT = hashlib.sha256(b"sops").digest()
# sops' own pattern (aes/cipher.go). It is not anchored at the end, so sops reads `ENC[...]junk` as if the junk
# were not there; no sops writes that, so Beskar refuses it (_ENC_EXACT: base64 parts, a type name, nothing after).
_ENC = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")
_ENC_EXACT = re.compile(r"ENC\[AES256_GCM,data:([A-Za-z0-9+/=]*),iv:([A-Za-z0-9+/=]+),tag:([A-Za-z0-9+/=]+),"
                        r"type:([a-z0-9]+)\]")
RULE_KEYS = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex")
_UNSUPPORTED_RULES = ("unencrypted_comment_regex", "encrypted_comment_regex")
# Serialized order of the metadata fields in sops <= 3.12 (struct order); unknown fields keep their place last.
_ORDER = ("shamir_threshold", "key_groups", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age",
          "lastmodified", "mac", "pgp", *RULE_KEYS, *_UNSUPPORTED_RULES, "mac_only_encrypted", "version")


class TimeText(str):
    """A value sops typed `time` (RFC 3339 text); kept as text, re-encrypted with the same type."""


@dataclass(frozen=True)
class Rule:
    """Which values are encrypted: one of sops' four path rules (default: unencrypted_suffix `_unencrypted`)."""

    kind: str = "unencrypted_suffix"
    value: str = "_unencrypted"

    def selects(self, keys: tuple[str, ...]) -> bool:
        if self.kind == "unencrypted_suffix":
            return not any(k.endswith(self.value) for k in keys)
        if self.kind == "encrypted_suffix":
            return any(k.endswith(self.value) for k in keys)
        if self.kind == "unencrypted_regex":
            return not any(re.search(self.value, k) for k in keys)
        return any(re.search(self.value, k) for k in keys)


KUBERNETES_RULE = Rule("encrypted_regex", KUBERNETES_RULE_REGEX)


@dataclass(frozen=True)
class AgeKey:
    """One age recipient and the armored age file that wraps the data key for it."""

    recipient: str
    enc: str


@dataclass(frozen=True)
class Metadata:
    """The `sops` block: master keys, MAC, encryption rule, version (other master key types kept as read)."""

    age: tuple[AgeKey, ...]
    lastmodified: str
    mac: str
    rule: Rule = Rule()
    mac_only_encrypted: bool = False
    version: str = VERSION
    others: dict[str, Any] = field(default_factory=dict)

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(key.recipient for key in self.age)

    def as_mapping(self) -> dict[str, Any]:
        fields: dict[str, Any] = dict(self.others)
        fields["age"] = [{"recipient": k.recipient, "enc": k.enc} for k in self.age]
        fields["lastmodified"] = self.lastmodified
        fields["mac"] = self.mac
        fields[self.rule.kind] = self.rule.value
        if self.mac_only_encrypted:
            fields["mac_only_encrypted"] = True
        fields["version"] = self.version
        known = [k for k in _ORDER if k in fields]
        return {k: fields[k] for k in known + [k for k in fields if k not in _ORDER]}


def parse_metadata(raw: Any) -> Metadata:
    """The metadata block as a reader needs it; raises SopsError naming the field that is wrong."""
    if not isinstance(raw, dict):
        raise SopsError("sops", "the `sops` metadata block is not a mapping")
    if raw.get("key_groups") or raw.get("shamir_threshold"):
        raise SopsError("sops.key_groups", "key groups (Shamir secret sharing) are not supported; use one group")
    for name in _UNSUPPORTED_RULES:
        if raw.get(name):
            raise SopsError(f"sops.{name}", "comment-based encryption rules are not supported")
    rules = [name for name in RULE_KEYS if raw.get(name)]
    if len(rules) > 1:
        raise SopsError("sops", f"more than one encryption rule ({', '.join(rules)}); sops allows one")
    rule = Rule(rules[0], str(raw[rules[0]])) if rules else Rule()
    age = []
    for index, entry in enumerate(raw.get("age") or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("recipient"), str) \
                or not isinstance(entry.get("enc"), str):
            raise SopsError(f"sops.age[{index}]", "an age entry needs `recipient` and `enc` strings")
        damage = entry_problem(entry["recipient"], entry["enc"])
        if damage:
            raise SopsError(f"sops.age[{index}]", damage)
        age.append(AgeKey(entry["recipient"], entry["enc"]))
    for name in ("lastmodified", "mac"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise SopsError(f"sops.{name}", f"the metadata has no `{name}`")
    lastmodified_ad(raw["lastmodified"])
    others = {k: v for k, v in raw.items()
              if k not in ("age", "lastmodified", "mac", "mac_only_encrypted", "version", *RULE_KEYS) and v}
    return Metadata(tuple(age), raw["lastmodified"], raw["mac"], rule, bool(raw.get("mac_only_encrypted")),
                    str(raw.get("version", "")), others)


def lastmodified_ad(text: str) -> str:
    """The MAC's additional data: lastmodified re-formatted as Go's time.RFC3339 formats the parsed time."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SopsError("sops.lastmodified", f"{text!r} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise SopsError("sops.lastmodified", f"{text!r} has no time zone")
    offset = moment.utcoffset()
    base = moment.replace(microsecond=0, tzinfo=None).isoformat()
    if not offset:
        return base + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{base}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- values ---------------------------------------------------------------------------------------

def go_float(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def plain_bytes(value: Any) -> tuple[bytes, str]:
    """A scalar's byte form (what the MAC hashes and AES encrypts) and its sops type name."""
    if isinstance(value, bool):
        return (b"True" if value else b"False"), "bool"
    if isinstance(value, TimeText):
        return value.encode(), "time"
    if isinstance(value, str):
        return value.encode(), "str"
    if isinstance(value, int):
        return str(value).encode(), "int"
    if isinstance(value, float):
        return go_float(value).encode(), "float"
    raise TypeError(f"sops cannot hold a {type(value).__name__}")


_BOOL_TEXT = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
              "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def from_plain(raw: bytes, kind: str) -> Any:
    if kind == "bytes":
        # sops decrypts `type:bytes` to raw bytes but has no way to write one (its Encrypt knows str, int, int64,
        # float, bool, comment): a value typed bytes was retyped by hand, and would print as b'...'.
        raise ValueError("sops never writes type bytes (the type was changed from what was encrypted)")
    text = raw.decode("utf-8", errors="strict")
    if kind == "str":
        return text
    if kind in ("int", "int64"):
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise ValueError(f"{text!r} is not an integer")
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return _BOOL_TEXT[text]
    if kind == "time":
        return TimeText(text)
    raise ValueError(f"unknown type {kind!r}")


@dataclass(frozen=True)
class Sealed:
    data: bytes
    iv: bytes
    tag: bytes
    kind: str


def parse_value(text: str, where: str) -> Sealed:
    match = _ENC.match(text)
    if not match:
        raise SopsError(where, "is not an ENC[AES256_GCM,...] value: a clear-text value sits in an encrypted field")
    match = _ENC_EXACT.fullmatch(text)
    if not match:
        raise SopsError(where, "is not one ENC[AES256_GCM,data:...,iv:...,tag:...,type:...] value: there is text "
                               "after it, or a part is not base64")
    try:
        data, iv, tag = (base64.b64decode(part, validate=True) for part in match.groups()[:3])
    except ValueError:
        raise SopsError(where, "authentication failed: the value's data, iv or tag is not valid base64") from None
    if not iv or len(tag) != 16:
        raise SopsError(where, "authentication failed: the value's iv or tag has the wrong length")
    return Sealed(data, iv, tag, match.group(4))


# The types sops' Decrypt knows, less `bytes` (which it never writes) and `comment` (Beskar keeps no comments),
# plus `time` (RFC 3339 text, sops >= 3.9).
VALUE_TYPES = ("str", "int", "int64", "float", "bool", "time")


def check_sealed(documents: list[Any], rule: Rule) -> None:
    """Every value the rule encrypts is one well-formed ENC[...] of a type sops writes: no key is needed to know
    (so `check` and `render` refuse what `decrypt` would). Raises SopsError naming the first value that is not."""
    def visit(value: Any, leaf: Leaf) -> Any:
        if rule.selects(leaf.keys) and value != "":
            if not isinstance(value, str):
                raise SopsError(leaf.name, "is not encrypted: a clear-text value sits in an encrypted field")
            sealed = parse_value(value, leaf.name)
            if sealed.kind not in VALUE_TYPES:
                raise SopsError(leaf.name, f"type:{sealed.kind} is not a type sops writes "
                                           f"({', '.join(VALUE_TYPES)}): the value's type was changed")
        return value

    transform(documents, visit)


# --- trees ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Leaf:
    """A scalar in a document: its full path (keys and list indices) and the mapping keys alone (the AD)."""

    document: int
    path: tuple[Any, ...]
    keys: tuple[str, ...]

    @property
    def additional(self) -> str:
        return ":".join(self.keys) + ":"

    @property
    def name(self) -> str:
        return dotted(self.path)


def dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (("." if out else "") + str(part))
    return out or "(root)"


def _transform(value: Any, document: int, path: tuple, keys: tuple, visit: Callable[[Any, Leaf], Any]) -> Any:
    if isinstance(value, dict):
        return {k: _transform(v, document, path + (k,), keys + (k,), visit) for k, v in value.items()}
    if isinstance(value, list):
        return [_transform(v, document, path + (i,), keys, visit) for i, v in enumerate(value)]
    if value is None:
        return None  # sops neither encrypts nor hashes nulls
    return visit(value, Leaf(document, path, keys))


def transform(documents: list[Any], visit: Callable[[Any, Leaf], Any]) -> list[Any]:
    """Every document with each non-null scalar replaced by visit(value, leaf), in document order."""
    return [_transform(doc, index, (), (), visit) for index, doc in enumerate(documents)]


def leaves(documents: list[Any]) -> Iterator[tuple[Any, Leaf]]:
    found: list[tuple[Any, Leaf]] = []
    transform(documents, lambda value, leaf: found.append((value, leaf)))
    return iter(found)


# IVs of unchanged values are reused on re-encryption (as `sops edit` does) so diffs show only what changed.
Stash = dict[tuple[str, str, bytes], bytes]


def with_age(metadata: Metadata, age: tuple[AgeKey, ...]) -> Metadata:
    return replace(metadata, age=tuple(age))
