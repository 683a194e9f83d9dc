"""What a person reads: tables that fit 80 columns without cutting site names or releases, and `explain` of a
structured value as YAML with the layer and line of every leaf."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from beskar.fleet.examples import write_example


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("presentation") / "fleet"
    write_example(root)
    return root


def beskar(*args: str, cwd: Path, columns: int = 200) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(NO_COLOR="1", COLUMNS=str(columns))
    return subprocess.run([sys.executable, "-m", "beskar", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def _cells(output: str) -> list[list[str]]:
    """The body rows of a rich table (heavy header and light body borders), as stripped cell texts."""
    return [[cell.strip() for cell in line.strip("│").split("│")] for line in output.splitlines()
            if line.startswith("│")]


def _headers(output: str) -> list[str]:
    """The column headers of a rich table, a header folded over several lines joined again."""
    lines = [[cell.strip() for cell in line.strip("┃").split("┃")] for line in output.splitlines()
             if line.startswith("┃")]
    return [" ".join(part for part in parts if part) for parts in zip(*lines)]


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("command", ["render", "sites"])
def test_tables_fit_the_terminal_and_never_cut_sites_or_releases(fleet, command, columns):
    done = beskar(command, cwd=fleet, columns=columns)
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= columns, done.stdout
    assert "…" not in done.stdout, done.stdout
    rows = _cells(done.stdout)
    headers = _headers(done.stdout)
    assert [row[headers.index("site")] for row in rows] == ["prod-brno", "prod-ostrava"], done.stdout
    release = "2025.1 (ubuntu_noble)" if command == "render" else "2025.1"
    assert all(row[headers.index("release")] == release for row in rows), done.stdout


def test_wide_terminals_keep_every_column(fleet):
    assert _headers(beskar("sites", cwd=fleet, columns=200).stdout) == ["site", "profile", "release", "region",
                                                                       "domain", "nodes", "helm_releases"]
    assert _headers(beskar("render", cwd=fleet, columns=200).stdout) == ["site", "release", "layers", "helm releases",
                                                                        "files", "secret keys", "changed"]


def _leaves(value) -> int:
    if isinstance(value, dict) and value:
        return sum(_leaves(v) for v in value.values())
    if isinstance(value, list) and value:
        return sum(_leaves(v) for v in value)
    return 1


def test_explain_shows_a_structured_value_as_yaml_with_each_leafs_origin(fleet):
    done = beskar("explain", "prod-brno", "networks", cwd=fleet)
    assert done.returncode == 0, done.stderr
    first, *body = done.stdout.splitlines()
    assert first == "prod-brno networks ="
    as_json = json.loads(beskar("explain", "prod-brno", "networks", "--format", "json", cwd=fleet).stdout)["value"]
    assert yaml.safe_load("\n".join(body)) == as_json  # the comments aside, it is the value
    site_file = (fleet / "sites/prod-brno/site.yaml").read_text().splitlines()
    leaves = [line for line in body if "#" in line]
    assert len(leaves) == _leaves(as_json)  # one commented line per leaf
    cidr = next(line for line in body if "10.16.0.0/24" in line)
    line = next(i for i, text in enumerate(site_file, 1) if "cidr: 10.16.0.0/24" in text)
    assert re.search(rf"# site:prod-brno sites/prod-brno/site.yaml:{line}:\d+$", cidr), cidr
    assert any(line.strip().startswith("physnet: null") and line.endswith("# default") for line in body)


def test_explain_names_every_layer_of_a_leaf_set_twice(fleet):
    done = beskar("explain", "prod-brno", "openstack.nova", cwd=fleet)
    ratio = next(line for line in done.stdout.splitlines() if line.strip().startswith("cpu_allocation_ratio:"))
    assert "# site:prod-brno sites/prod-brno/site.yaml:" in ratio and ", over global beskar.yaml:" in ratio, ratio


def test_explain_of_a_scalar_is_unchanged(fleet):
    done = beskar("explain", "prod-brno", "openstack.nova.cpu_allocation_ratio", cwd=fleet)
    assert done.stdout.splitlines()[0] == "prod-brno openstack.nova.cpu_allocation_ratio = 3.0"
