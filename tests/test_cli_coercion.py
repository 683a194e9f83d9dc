"""The command line without pydantic (cli/coercion.py) and built one command at a time (cli/launcher.py): the same
values as typer's own conversion, every option of Beskar's covered, and the same help and errors."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from beskar.cli import app
from beskar.cli.coercion import PlainValue, converter

typer_coercion = pytest.importorskip("typer._coercion", reason="typer converts with click types: nothing to match")


class Colour(StrEnum):
    RED = "red"
    DARK_BLUE = "dark-blue"


def _both(annotation: Any, info: Any, value: Any) -> tuple[Any, Any]:
    """(typer's conversion, ours) of `value`, or the exception class each raised."""
    results = []
    descriptor = typer_coercion.resolve_type_descriptor(annotation, info)
    param = type("Param", (), {"multiple": False, "nargs": 1})()  # what a conversion reads of its parameter
    for runtime in (typer_coercion.build_runtime_param(descriptor), PlainValue(converter(annotation, info))):
        try:
            results.append(runtime.coerce(value, param=param, ctx=None))
        except typer.BadParameter:
            results.append(typer.BadParameter)
    return results[0], results[1]


@pytest.mark.parametrize(("annotation", "info", "value"), [
    (str, typer.models.OptionInfo(), "prod-brno"), (str, typer.models.OptionInfo(), "ünïcode [x]"),
    (Path, typer.models.OptionInfo(), "sites/prod-brno"), (Path, typer.models.OptionInfo(), Path(".")),
    (Colour, typer.models.OptionInfo(), "dark-blue"), (Colour, typer.models.OptionInfo(), Colour.RED),
    (Colour, typer.models.OptionInfo(), "DARK_BLUE"), (Colour, typer.models.OptionInfo(), "green"),
    (int, typer.models.OptionInfo(min=1), "4"), (int, typer.models.OptionInfo(min=1), "0"),
    (int, typer.models.OptionInfo(min=1000), "999"), (int, typer.models.OptionInfo(), "four"),
    (int, typer.models.OptionInfo(), " 7 "), (int, typer.models.OptionInfo(max=3), "9"),
    (bool, typer.models.OptionInfo(), True), (bool, typer.models.OptionInfo(), "yes"),
    (bool, typer.models.OptionInfo(), "off"), (bool, typer.models.OptionInfo(), "maybe"),
])
def test_a_value_converts_as_typer_converts_it(annotation, info, value):
    theirs, ours = _both(annotation, info, value)
    assert ours == theirs and type(ours) is type(theirs)


def test_a_kind_beskar_does_not_use_is_left_to_typer():
    assert converter(float, typer.models.OptionInfo()) is None
    assert converter(Path, typer.models.OptionInfo(exists=True)) is None
    assert converter(str, typer.models.OptionInfo(parser=str.upper)) is None
    assert converter(list[Path], typer.models.OptionInfo()) is not None  # each item a path


def _parameters(command) -> list:
    found = list(command.params)
    for sub in getattr(command, "commands", {}).values():
        found += _parameters(sub)
    return found


def test_every_option_of_beskar_is_converted_without_pydantic():
    # An option of a new kind would bring pydantic back into every run of its command: convert it in
    # cli/coercion.py (or accept the cost here, knowingly).
    command = typer.main.get_command(app)
    left = [p.name for p in _parameters(command) if hasattr(p, "type_descriptor") and
            not isinstance(p._runtime_param, PlainValue)]
    assert left == []
    assert isinstance(command._help_option._runtime_param, PlainValue)  # --help, made on first use


def _command_lines() -> list[list[str]]:
    full = typer.main.get_command(app)
    lines = [[]]
    for name, command in full.commands.items():
        lines += [[name, "--help"], [name, "--no-such-option"]]
        lines += [[name, sub, "--help"] for sub in getattr(command, "commands", {})]
    return lines


def test_a_command_built_alone_says_what_the_whole_app_says():
    runner = CliRunner()
    lines = _command_lines()
    assert len(lines) > 40  # every command and sub-command
    for words in lines:
        pruned = app.only(words[0]) if words else None
        assert (pruned is None) == (not words), words
        whole = runner.invoke(app, words, prog_name="beskar")
        alone = runner.invoke(pruned or app, words, prog_name="beskar")
        assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output), words


def test_a_word_that_names_no_command_runs_the_whole_app():
    assert app.only("no-such-command") is None and app.only("--help") is None
    result = CliRunner().invoke(app, ["no-such-command"], prog_name="beskar")
    assert result.exit_code == 2 and "No such command 'no-such-command'" in result.output
