"""Configuration files inside values (nova.conf, ml2_conf.ini, policy.yaml, user-data) diffed line by line."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from typing import Any

import yaml

from beskar.diff.changes import TextChange

_INI = re.compile(r"\.(conf|ini|cfg)$", re.I)
_YAML = re.compile(r"\.(ya?ml)$", re.I)
_JSON = re.compile(r"\.json$", re.I)
_SECTION = re.compile(r"^\s*\[[^\]]+\]\s*$")
# A line that holds a credential: `password = x`, `transport_url = rabbit://user:pass@host`, `token: x`.
_SENSITIVE_KEY = re.compile(r"(pass(word|wd)?|secret|token|credential|private|_key\b|^key\b|auth_key|psk)", re.I)
_URL_USERINFO = re.compile(r"://[^/\s:@]+:[^@\s]+@")
# What `beskar build` puts in place of every secret value: safe to show.
_PLACEHOLDER = re.compile(r"BESKAR_SECRET(\.[\w.\-]+|\[[^\]]*\])")
_KEY_VALUE = re.compile(r"^(\s*[-#;]?\s*)([^=:\s][^=:]*?)(\s*[=:]\s*)(.*)$")


def file_name(path: str) -> str:
    """The key a file is held under: `data["nova.conf"]` -> nova.conf, `spec.values.conf.policy` -> policy."""
    if path.endswith('"]') and '["' in path:
        return path[path.rindex('["') + 2:-2]
    return path.rsplit(".", 1)[-1]


def format_of(name: str, old: str, new: str) -> str:
    """ini, yaml, json or text, from the file name, else from the content."""
    if _INI.search(name):
        return "ini"
    if _JSON.search(name):
        return "json"
    if _YAML.search(name):
        return "yaml"
    sample = new or old
    if any(_SECTION.match(line) for line in sample.splitlines()[:50]):
        return "ini"
    return "text"


def is_text_file(value: Any) -> bool:
    """A string value that is a file rather than a word: more than one line."""
    return isinstance(value, str) and "\n" in value.strip()


def _normalised(text: str, form: str) -> list[str]:
    """YAML and JSON re-emitted with sorted keys, so a reordered map is no difference; others as they are."""
    try:
        if form == "json":
            return json.dumps(json.loads(text), indent=2, sort_keys=True).splitlines()
        if form == "yaml":
            documents = list(yaml.safe_load_all(text))
            return yaml.safe_dump_all(documents, sort_keys=True, default_flow_style=False).splitlines()
    except (ValueError, yaml.YAMLError):
        pass
    return text.splitlines()


def digest(value: Any, salt: str) -> str:
    """A short salted digest that says "changed" without showing the value (equal values, equal digests)."""
    data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")
    return "sha256:" + hashlib.sha256(salt.encode() + b"\0" + data).hexdigest()[:10]


def masked_line(line: str, salt: str) -> str:
    """A line of a secret file, with the credential it may carry replaced by its digest."""
    bare = _PLACEHOLDER.sub("", line)
    match = _KEY_VALUE.match(line)
    if match and not _SECTION.match(line):
        lead, key, separator, value = match.groups()
        value_bare = _PLACEHOLDER.sub("", value).strip()
        if (_SENSITIVE_KEY.search(key) and value_bare) or _URL_USERINFO.search(_PLACEHOLDER.sub("", value)):
            return f"{lead}{key}{separator}<secret {digest(value, salt)}>"
        return line
    if _URL_USERINFO.search(bare) or (len(bare.strip()) >= 16 and not re.search(r"\s", bare.strip())):
        return f"<secret line {digest(line, salt)}>"
    return line


def diff_text(path: str, old: str, new: str, *, secret: bool = False, salt: str = "") -> TextChange | None:
    """The changed lines of a file, each `-`/`+`, under the ini section (or a hunk line) they belong to.

    In a Secret (`secret=True`), every line that may carry a credential shows its digest instead.
    """
    form = format_of(file_name(path), old, new)
    before, after = _normalised(old, form), _normalised(new, form)
    lines: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        context = _section_before(before, i1) if form == "ini" else None
        heading = f"{context}" if context else f"@@ line {j1 + 1}"
        if not lines or lines[-1] != heading:
            lines.append(heading)
        lines.extend("-" + (masked_line(line, salt) if secret else line) for line in before[i1:i2])
        lines.extend("+" + (masked_line(line, salt) if secret else line) for line in after[j1:j2])
    if not lines:
        return None
    return TextChange(path, form, tuple(lines))


def _section_before(lines: list[str], index: int) -> str | None:
    for line in reversed(lines[:index + 1] if index < len(lines) else lines):
        if _SECTION.match(line):
            return line.strip()
    return None
