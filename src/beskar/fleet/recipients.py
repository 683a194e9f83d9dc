"""Adding and removing a recipient in a site.yaml by editing its text, so comments and layout survive."""

from __future__ import annotations

from typing import Any

from beskar.fleet.documents import parse_document
from beskar.problems import InputError, Origin, Problem

PATH = ("secrets", "recipients")


def _refuse(file: str, line: int, what: str) -> InputError:
    return InputError([Problem(f"cannot edit secrets.recipients here: {what}", Origin(file, line, 1, "site"),
                               hint="edit the list by hand (one `- age1...` item per line), then run the command again")])


def _block_item_prefix(line: str, column: int) -> str | None:
    prefix = line[:column - 1]
    return prefix if prefix.strip() == "-" else None


def _recipients(data: Any) -> list[Any]:
    secrets = data.get("secrets") if isinstance(data, dict) else None
    return list((secrets or {}).get("recipients") or []) if isinstance(secrets, dict) else []


def add_recipient(text: str, file: str, recipient: str, comment: str = "") -> str:
    """site.yaml text with `recipient` appended to secrets.recipients (created if absent)."""
    data, positions = parse_document(text, file, "site")
    if recipient in _recipients(data):
        return text
    note = f"  # {comment}" if comment else ""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    secrets = data.get("secrets", ...)
    if secrets is ...:
        lines.append(f"secrets:\n  recipients:\n    - {recipient}{note}\n")
        return _checked("".join(lines), file, _recipients(data) + [recipient])
    secrets_line = positions[("secrets",)].line
    if secrets is not None and not isinstance(secrets, dict):
        raise _refuse(file, secrets_line, "`secrets` is not a mapping")
    if _flow(lines[secrets_line - 1], "secrets"):
        raise _refuse(file, secrets_line, "`secrets` is written in flow style ({...})")
    if not secrets or "recipients" not in secrets:
        children = [origin.column for path, origin in positions.items() if len(path) == 2 and path[0] == "secrets"]
        indent = " " * ((min(children) - 1) if children else 2)
        lines.insert(secrets_line, f"{indent}recipients:\n{indent}  - {recipient}{note}\n")
        return _checked("".join(lines), file, [recipient])
    key = positions[PATH]
    current = secrets["recipients"]
    if current and not isinstance(current, list):
        raise _refuse(file, key.line, "`recipients` is not a list")
    if _flow(lines[key.line - 1], "recipients"):
        raise _refuse(file, key.line, "`recipients` is written in flow style ([...])")
    if not current:
        lines.insert(key.line, f"{' ' * (key.column + 1)}- {recipient}{note}\n")
    else:
        last = positions[PATH + (len(current) - 1,)]
        prefix = _block_item_prefix(lines[last.line - 1], last.column)
        if prefix is None or last.line != max(o.line for p, o in positions.items() if p[:2] == PATH):
            raise _refuse(file, last.line, "the last item is not a one-line `- value`")
        lines.insert(last.line, f"{prefix}{recipient}{note}\n")
    return _checked("".join(lines), file, list(current or []) + [recipient])


def remove_recipient(text: str, file: str, recipient: str) -> str:
    """site.yaml text without `recipient` in secrets.recipients (unchanged if it is not there)."""
    data, positions = parse_document(text, file, "site")
    current = _recipients(data)
    if recipient not in current:
        return text
    lines = text.splitlines(keepends=True)
    key = positions[PATH]
    if _flow(lines[key.line - 1], "recipients"):
        raise _refuse(file, key.line, "`recipients` is written in flow style ([...])")
    index = current.index(recipient)
    item = positions[PATH + (index,)]
    if _block_item_prefix(lines[item.line - 1], item.column) is None:
        raise _refuse(file, item.line, "the item is not a one-line `- value`")
    del lines[item.line - 1]
    return _checked("".join(lines), file, [r for r in current if r != recipient])


def _flow(line: str, key: str) -> bool:
    after = line.split(f"{key}:", 1)[-1].split("#", 1)[0].strip()
    return after.startswith("[") or after.startswith("{")


def _checked(text: str, file: str, expected: list[Any]) -> str:
    """The edit is only kept if the file still parses and the list is exactly what was meant."""
    data, _ = parse_document(text, file, "site")
    if _recipients(data) != expected:  # pragma: no cover - guards the line arithmetic above
        raise _refuse(file, 1, "the edit would not give the expected list")
    return text
