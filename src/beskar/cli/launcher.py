"""The `beskar` Typer: a command line that names a command builds that command only, not all of them."""

from __future__ import annotations

import copy
import sys
from typing import Any

import typer
from typer.main import get_command_name

# Start-up: typer builds every command of the app (reading each function's signature and evaluating its
# annotations, two dozen commands' worth) before it parses the first word. `beskar sites` needs one of them.
# A command line whose first word names a command runs an app holding only that command (or group); the rest
# (`beskar`, `beskar --help`, an unknown word) the whole app, so --help and the "No such command" errors are
# unchanged. tests/test_cli_coercion.py holds each command's help equal under both.


def _command_name(info: Any) -> str | None:
    name = info.name if isinstance(info.name, str) else None
    return name or (get_command_name(info.callback.__name__) if info.callback else None)


def _group_name(info: Any) -> str | None:
    for name in (info.name, info.typer_instance.info.name):
        if isinstance(name, str):
            return name
    return None


class Beskar(typer.Typer):
    """A Typer whose call builds only the command that the command line's first word names."""

    def only(self, name: str) -> typer.Typer | None:
        """This app holding only the command or group `name`, or None where it has none of that name."""
        matches: list[tuple[str, Any]] = [("command", c) for c in self.registered_commands if _command_name(c) == name]
        for group in self.registered_groups:
            if _group_name(group) is not None:
                matches += [("group", group)] if _group_name(group) == name else []
            elif group.typer_instance.registered_callback is None:  # a nameless group lends the app its commands
                matches += [("command", c) for c in group.typer_instance.registered_commands
                            if _command_name(c) == name]
            else:
                return None  # typer's own case (a warning): not worth guessing
        if len(matches) != 1:
            return None
        (kind, match), = matches
        pruned = copy.copy(self)
        pruned.registered_commands, pruned.registered_groups = [], []
        if kind == "group":
            pruned.registered_groups = [match]
        else:  # held by a nameless group, so that the app stays a group of one command (typer would flatten it)
            holder = typer.Typer()
            holder.registered_commands = [match]
            pruned.add_typer(holder)
        return pruned

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        words = kwargs.get("args", args[0] if args else None)
        words = sys.argv[1:] if words is None else list(words)
        pruned = self.only(words[0]) if words and not words[0].startswith("-") else None
        return typer.Typer.__call__(pruned or self, *args, **kwargs)
