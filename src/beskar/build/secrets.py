"""Secret values in a build: stable placeholders in place of values, so that no build output holds one."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Mapping

PLACEHOLDER = "BESKAR_SECRET.{key}"  # URL-safe: templates put passwords into connection URLs
_SHORTEST = 6  # shorter values ("true", "admin") would be replaced where they are no secret


def placeholder(key: str) -> str:
    return PLACEHOLDER.format(key=key)


def placeholders(keys: list[str]) -> dict[str, str]:
    """The data of a Secret whose values are not at hand: each key reads as its placeholder."""
    return {key: placeholder(key) for key in keys}


def shown_secret(body: Mapping[str, Any], values: Mapping[str, str] | None) -> dict[str, Any]:
    """A SOPS-encrypted Secret as Flux applies it: decrypted (values given) or placeholders, no sops metadata."""
    shown = {k: v for k, v in body.items() if k != "sops"}
    for section in ("data", "stringData"):
        data = shown.get(section)
        if isinstance(data, dict):
            if values is None:
                shown[section] = {key: placeholder(key) for key in data}
            elif section == "data":
                shown[section] = {key: base64.b64encode(str(values.get(key, "")).encode()).decode() for key in data}
            else:
                shown[section] = {key: values.get(key, "") for key in data}
    return shown


class Redactor:
    """Replaces each known secret value, wherever a template put it, by the placeholder of its key."""

    def __init__(self, secrets: Mapping[str, str]):
        pairs = [(str(value), placeholder(key)) for key, value in secrets.items()
                 if isinstance(value, str) and len(value) >= _SHORTEST]
        # Longest first: a value that contains another is replaced whole.
        self.pairs = sorted(dict(pairs).items(), key=lambda p: (-len(p[0]), p[0]))

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def text(self, value: str) -> str:
        for secret, shown in self.pairs:
            if secret in value:
                value = value.replace(secret, shown)
        return value

    def body(self, body: Any) -> Any:
        if not self.pairs:
            return body
        if isinstance(body, dict) and body.get("kind") == "Secret" and isinstance(body.get("data"), dict):
            body = {**body, "data": {k: self._encoded(v) for k, v in body["data"].items()}}
        return self._walk(body)

    def _walk(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, dict):
            return {k: self._walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self._walk(v) for v in node]
        return node

    def _encoded(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            plain = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return value
        redacted = self.text(plain)
        return value if redacted == plain else base64.b64encode(redacted.encode()).decode()
