"""Command-line values converted without pydantic: the few kinds Beskar's options take (text, paths, choices, counts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, get_origin

import typer
from typer.core import TyperGroup

# Start-up: typer (0.2x) converts every parameter it parses, even a default, through a pydantic TypeAdapter,
# and importing pydantic for that costs about a tenth of a second before any command runs. Beskar's options
# are of a few plain kinds, converted here the same way; any other kind (or a typer without that
# mechanism: older ones convert with click's types) is left to typer. tests/test_startup.py asserts that a
# command runs without pydantic, and tests/test_cli_coercion.py that the values are typer's and the errors name the option.


@dataclass(frozen=True)
class PlainValue:
    """Converts one parameter's value, as typer's runtime parameter does (`coerce(value, param, ctx)`)."""

    convert: Callable[[Any], Any]  # one value to its Python value; ValueError: not a valid one

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = param.multiple or param.nargs == -1
        if value is None:
            return () if multiple else None
        try:
            if multiple:
                if isinstance(value, str):
                    raise ValueError("Value must be an iterable.")
                return [self.convert(item) for item in value]
            return self.convert(value)
        except ValueError as error:
            raise typer.BadParameter(str(error), ctx=ctx, param=param) from None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _path(value: Any) -> Path:
    return value if isinstance(value, Path) else Path(_text(value))


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = _text(value).strip().lower()
    if word in ("1", "true", "t", "yes", "y", "on"):
        return True
    if word in ("", "0", "false", "f", "no", "n", "off"):
        return False
    raise ValueError("Input should be a valid boolean, unable to interpret input")


def _choice(kind: type[Enum]) -> Callable[[Any], Enum]:
    by_value = {str(member.value): member for member in kind}

    def convert(value: Any) -> Enum:
        if isinstance(value, kind):
            return value
        if _text(value) in by_value:
            return by_value[_text(value)]
        raise ValueError(f"{_text(value)!r} is not one of {', '.join(repr(v) for v in by_value)}.")
    return convert


def _count(low: int | None, high: int | None) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(_text(value).strip())
            except ValueError:
                raise ValueError("Input should be a valid integer, unable to parse string as an integer") from None
        if low is not None and value < low:
            raise ValueError(f"Input should be greater than or equal to {low}")
        if high is not None and value > high:
            raise ValueError(f"Input should be less than or equal to {high}")
        return value
    return convert


def converter(annotation: Any, info: Any) -> Callable[[Any], Any] | None:
    """How to convert a value of `annotation` (one item of a list), or None: a kind left to typer."""
    if getattr(info, "parser", None) is not None or getattr(info, "clamp", False):
        return None
    if get_origin(annotation) is list:
        (annotation,) = getattr(annotation, "__args__", (None,))
    if annotation is str:
        return _text
    if annotation is bool:
        return _flag
    if annotation is int:
        return _count(info.min, info.max)
    if isinstance(annotation, type) and issubclass(annotation, Enum) and info.case_sensitive:
        return _choice(annotation)
    if annotation is Path and not (info.exists or not info.file_okay or not info.dir_okay or info.writable
                                   or info.resolve_path or info.allow_dash or info.path_type is not None):
        return _path
    return None


def plain_parameters(command: Any, help_names: tuple[str, ...] = ("--help",)) -> None:
    """Give every parameter of `command` and its sub-commands that typer would convert with pydantic a
    PlainValue instead, where its kind is one of the plain ones; `help_names` are the parent's --help names."""
    help_names = tuple((getattr(command, "context_settings", None) or {}).get("help_option_names", help_names))
    params = list(command.params)
    if getattr(command, "_help_option", False) is None:
        # The --help option is made on first use and converts its value (False) too: made here as the command's
        # context would make it (it reads only the names), so that it gets a PlainValue like the others.
        help_option = command.get_help_option(_HelpNames(list(help_names)))
        params += [help_option] if help_option is not None else []
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", False) is not None:
            continue  # not typer's lazily converted parameter (another typer), or already converted
        convert = converter(descriptor.annotation, descriptor.parameter_info)
        if convert is not None and descriptor.file_annotation is None:
            param._runtime_param = PlainValue(convert)
    for sub in getattr(command, "commands", {}).values():
        plain_parameters(sub, help_names)


@dataclass(frozen=True)
class _HelpNames:
    """What a command reads of its context to make its --help option."""

    help_option_names: list[str]


class PlainGroup(TyperGroup):
    """The `beskar` group: its commands' parameters converted by PlainValue where they can be."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_parameters(self)
