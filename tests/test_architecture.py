"""The rooms' arrows (DESIGN.md) hold: `lint-imports` passes, and its contracts name every package of beskar."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="needs import-linter (the test extra)")

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "beskar"


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def layered_packages() -> set[str]:
    (layers,) = [c for c in contracts() if c["type"] == "layers"]
    return {name.strip(" ()") for layer in layers["layers"] for name in layer.split("|")}  # (optional)


def test_every_contract_is_kept():
    # A new import the wrong way (a pure room reaching a client, a cycle, a crypto library below operations)
    # fails here, with import-linter's own account of the chain.
    command = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command;"
                              " sys.exit(lint_imports_command())", "--no-cache"],
                             cwd=ROOT, capture_output=True, text=True)
    assert command.returncode == 0, command.stdout[-6000:] + command.stderr[-2000:]
    assert "BROKEN" not in command.stdout


def test_the_layers_name_every_package_and_module_of_beskar():
    # A package added without its place in the rooms would be free of every arrow.
    tops = {f"beskar.{p.name}" for p in SOURCE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    tops |= {f"beskar.{p.stem}" for p in SOURCE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    missing = sorted(tops - layered_packages())
    assert missing == [], f"add {missing} to the layers contract in pyproject.toml, at its place in DESIGN.md's rooms"


def test_the_pure_rooms_are_forbidden_the_outside():
    (forbidden,) = [c for c in contracts() if c["type"] == "forbidden"]
    pure = {"beskar.check", "beskar.plan", "beskar.render", "beskar.model", "beskar.fleet", "beskar.catalog"}
    assert pure <= set(forbidden["source_modules"])
    assert {"subprocess", "socket", "http", "openstack", "pyrage", "cryptography"} <= set(forbidden["forbidden_modules"])
