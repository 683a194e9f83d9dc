"""Golden render scenarios: tests/scenarios/<name>/ holds a fleet, its expected tree and structural facts.

Adding a case needs no code: add a scenario directory with `fleet/` and `expect.yaml`, then run
`BESKAR_UPDATE_GOLDEN=1 pytest tests/test_golden.py` once and review the `expected/` it writes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from beskar.check.schemas import schema_errors
from beskar.check.values import unknown_paths
from beskar.catalog import catalog
from beskar.operations.compilation import render_fleet

SCENARIOS = sorted(p for p in (Path(__file__).parent / "scenarios").iterdir() if (p / "fleet").is_dir())


def rendered_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for top in ("clusters", "apps") for p in sorted((root / top).rglob("*")) if p.is_file()}


@pytest.fixture(params=SCENARIOS, ids=[s.name for s in SCENARIOS])
def scenario(request, tmp_path) -> tuple[Path, Path]:
    root = tmp_path / "fleet"
    shutil.copytree(request.param / "fleet", root)
    render_fleet(root)
    return request.param, root


def test_render_matches_golden_files(scenario):
    directory, root = scenario
    actual = rendered_files(root)
    expected_dir = directory / "expected"
    if os.environ.get("BESKAR_UPDATE_GOLDEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        for path, content in actual.items():
            (expected_dir / path).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / path).write_bytes(content)
    expected = rendered_files(expected_dir)
    assert sorted(actual) == sorted(expected), "files differ from the golden set"
    for path in expected:
        assert actual[path] == expected[path], f"{path} differs from {expected_dir / path}"


def _at(document, dotted: str):
    node = document
    for part in dotted.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def test_structural_facts(scenario):
    directory, root = scenario
    facts = yaml.safe_load((directory / "expect.yaml").read_text())
    assert facts, "a scenario states at least one structural fact"
    for fact in facts:
        documents = [d for d in yaml.safe_load_all((root / fact["file"]).read_text()) if d]
        (document,) = [d for d in documents if d["kind"] == fact["kind"] and d["metadata"]["name"] == fact["name"]]
        assert _at(document, fact["path"]) == fact["equals"], fact


def test_scenario_output_is_valid_for_the_engines(scenario):
    _, root = scenario
    for path in sorted(root.glob("apps/**/*.yaml")) + sorted(root.glob("clusters/**/*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert schema_errors(document) == [], path
            if document.get("kind") == "HelmRelease" and "chartRef" in document["spec"]:
                chart = document["spec"]["chartRef"]["name"].removeprefix("openstack-helm-")
                assert unknown_paths(catalog(), chart, document["spec"]["values"]) == [], path
