"""Beskar's kustomize against the real one: for every directory with a kustomization file in the corpora
(tests/check_cases, the example fleet as rendered, ../shared/reference/flux-repos/*), Beskar's build holds the
same objects as `kubectl kustomize` of it (kind, namespace, name, and content after normalisation), and
Beskar refuses to build exactly the directories kustomize refuses."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from beskar.check.documents import parse_yaml
from beskar.check.kustomize import Kustomize
from beskar.clients import kustomize as real
from beskar.fleet.files import read_files
from beskar.operations import compilation
from beskar.fleet.examples import write_example
from test_check_corpus import CASES, load_case, materialize

REFERENCE = Path(os.environ.get("BESKAR_REFERENCE") or Path(__file__).resolve().parents[2] / "shared" / "reference")
FLUX_REPOS = REFERENCE / "flux-repos"

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None and shutil.which("kustomize") is None,
                                reason="needs kubectl (kustomize v5) on the PATH")


def _numbers(value):
    """kustomize writes the YAML it read back through JSON: 3.0 comes out as 3."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def normalised(data: dict) -> str:
    return json.dumps(_numbers(data), sort_keys=True)


def identity(data: dict) -> tuple[str, str, str, str]:
    metadata = data.get("metadata") or {}
    return (str(data.get("apiVersion")), str(data.get("kind")), str(metadata.get("namespace") or ""),
            str(metadata.get("name")))


def differences(root: Path) -> list[str]:
    """Every way Beskar's build of a directory of `root` differs from kustomize's."""
    contents, others = read_files(root)
    kustomize = Kustomize.of(contents, others)
    found = []
    for directory in kustomize.directories():
        ours = kustomize.build(directory)
        theirs = real.build(root, directory)
        shown = directory or "."
        if theirs.error is not None or ours.failed:
            if theirs.error is None:
                found.append(f"{shown}: Beskar refuses it, kustomize builds it")
            elif not ours.failed:
                found.append(f"{shown}: kustomize refuses it ({theirs.error}), Beskar builds it")
            continue
        expected = {}
        for document in parse_yaml("kustomize output", theirs.text).documents:
            expected.setdefault(identity(document.data), []).append(normalised(document.data))
        built = {}
        for resource in ours.resources:
            built.setdefault(identity(resource.data), []).append(normalised(resource.data))
        for key in sorted(set(expected) | set(built)):
            if key not in built:
                found.append(f"{shown}: {key} only in kustomize's build")
            elif key not in expected:
                found.append(f"{shown}: {key} only in Beskar's build")
            elif sorted(expected[key]) != sorted(built[key]):
                found.append(f"{shown}: {key} differs:\n  kustomize {sorted(expected[key])}\n  beskar    "
                             f"{sorted(built[key])}")
    return found


LINT_CASES = [name for name in CASES if load_case(name).get("command", "lint") == "lint"]


@pytest.mark.parametrize("name", LINT_CASES)
def test_corpus_case(name, tmp_path):
    root = materialize(name, load_case(name), tmp_path)
    assert differences(root) == []


FEATURE_CASES = Path(__file__).parent / "kustomize_cases"
FEATURES = sorted(f"{feature.name}/{case.name}" for feature in FEATURE_CASES.iterdir() if feature.is_dir()
                  for case in feature.iterdir() if case.is_dir())


@pytest.mark.parametrize("name", FEATURES)
def test_kustomize_feature(name):
    """Small builds of one kustomize feature each (tests/kustomize_cases/<feature>/<case>/), the ones kustomize
    refuses among them: Beskar builds the same objects, and refuses the same builds."""
    assert differences(FEATURE_CASES / name) == []


def test_example_fleet_as_rendered(tmp_path):
    root = tmp_path / "fleet"
    write_example(root)
    compilation.render_fleet(root)
    assert differences(root) == []


@pytest.mark.skipif(not FLUX_REPOS.is_dir(), reason="needs ../shared/reference/flux-repos")
@pytest.mark.parametrize("repository", ["flux2-kustomize-helm-example", "flux2-multi-tenancy"])
def test_reference_repository(repository):
    assert differences(FLUX_REPOS / repository) == []
