"""Shared fixtures: a fresh copy of the packaged example fleet (as packaged, or as `beskar demo` leaves it), and the
CLI run as a real process."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from beskar.operations import demo
from beskar.fleet.examples import write_example


@pytest.fixture
def example_fleet(tmp_path: Path) -> Path:
    """The packaged example fleet (beskar.yaml, profiles/, sites/), unrendered, in tmp_path/fleet."""
    root = tmp_path / "fleet"
    write_example(root)
    return root


@pytest.fixture(scope="session")
def demo_prototype(tmp_path_factory) -> Path:
    """`beskar demo` written once per session (writing, syncing and rendering it is most of a small test's time)."""
    root = tmp_path_factory.mktemp("demo-prototype") / "fleet"
    demo.write_demo(root)
    return root


@pytest.fixture
def demo_fleet(tmp_path: Path, demo_prototype: Path) -> Path:
    """The example fleet as a user gets it from `beskar demo`: written, each site's secrets synced (encrypted to the
    published DEMO keys, which `beskar check` warns about), rendered; in tmp_path/fleet, a copy of its own."""
    root = tmp_path / "fleet"
    shutil.copytree(demo_prototype, root, symlinks=True)
    return root


@pytest.fixture
def run_beskar():
    """Run `python -m beskar ARGS...` (cwd optional); returns the CompletedProcess with text stdout/stderr."""
    def run(*args: str | os.PathLike, cwd: Path | None = None, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        base = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
        base.update(NO_COLOR="1", COLUMNS="200")
        return subprocess.run([sys.executable, "-m", "beskar", *map(str, args)], cwd=cwd, env={**base, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)

    return run


# Real chart sources for the build tests (session-scoped: one clone, one repository server, one build).
from build_sources import (build_cache, built_fleet, example_sources, helm_repository, oci_registry,  # noqa: E402,F401
                           osh_clone)
