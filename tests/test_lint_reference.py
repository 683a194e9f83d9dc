"""`beskar lint` on repositories nobody wrote for it (the Flux project's reference layouts), and with the real
kustomize (`--kustomize-binary`)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from beskar.operations import review

REFERENCE = Path(os.environ.get("BESKAR_REFERENCE") or Path(__file__).resolve().parents[2] / "shared" / "reference")
FLUX_REPOS = REFERENCE / "flux-repos"
BINARY_CASES = Path(__file__).parent / "lint_binary"
needs_reference = pytest.mark.skipif(not FLUX_REPOS.is_dir(), reason="needs ../shared/reference/flux-repos")
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None and shutil.which("kustomize") is None,
                                   reason="needs kubectl (kustomize v5) on the PATH")

# Every finding left on the reference repositories, with the reason it is real.
REMAINING = {
    "flux2-kustomize-helm-example": {},
    "flux2-multi-tenancy": {
        ("tree/deprecated-api", "infrastructure/kyverno/source.yaml", 1):
            "OCIRepository source.toolkit.fluxcd.io/v1beta2: OCIRepository is served as v1 since Flux 2.6, and "
            "v1beta2 is deprecated; Flux 2.7 stops serving it",
    },
}


@needs_reference
@pytest.mark.parametrize("repository", sorted(REMAINING))
def test_reference_repository_has_only_its_real_findings(repository):
    result = review.lint(FLUX_REPOS / repository)
    found = {(f.rule, f.file, f.line) for f in result.findings}
    assert found == set(REMAINING[repository]), [f"{f.rule} {f.file}:{f.line} {f.message}" for f in result.findings]
    assert result.objects > 20  # the clusters' objects were found, not skipped
    # an ExternalArtifact's and an OCIRepository's paths are not this repository's: nothing built twice
    assert not any(f.rule == "tree/duplicate-name" for f in result.findings)


@needs_reference
def test_artifact_paths_map_back_to_this_repository():
    """flux2-kustomize-helm-example builds apps/production through the ExternalArtifact `apps`."""
    result = review.lint(FLUX_REPOS / "flux2-kustomize-helm-example")
    assert result.clusters == ("production", "staging")
    assert result.objects == 32


@needs_reference
@needs_kubectl
@pytest.mark.parametrize("repository", sorted(REMAINING))
def test_reference_repository_with_the_real_kustomize(repository):
    model = review.lint(FLUX_REPOS / repository)
    real = review.lint(FLUX_REPOS / repository, kustomize_binary=True)
    assert real.findings == model.findings


@needs_kubectl
def test_the_model_and_the_real_kustomize_check_what_a_replacement_made(tmp_path):
    """A replacement copies an image with the `latest` tag into a Deployment: Beskar's own build and the real
    kustomize's (--kustomize-binary) both report it, at the replacement's target field path (what set it)."""
    root = tmp_path / "repo"
    shutil.copytree(BINARY_CASES / "replacements", root)

    def worker_tags(findings):
        return [f for f in findings if f.rule == "tree/image-tag" and "Deployment jobs/worker" in f.message]

    for found in (worker_tags(review.lint(root).findings),
                  worker_tags(review.lint(root, kustomize_binary=True).findings)):
        assert [(f.file, f.line) for f in found] == [("apps/kustomization.yaml", 16)]
        assert "worker:latest" in found[0].message


@needs_kubectl
def test_a_build_kustomize_refuses_is_reported_at_its_kustomization(tmp_path):
    """`vars` (deprecated) are not modelled: a var naming an object the build lacks is found by the real
    kustomize only, and reported at the kustomization file."""
    root = tmp_path / "repo"
    shutil.copytree(BINARY_CASES / "replacements", root)
    with (root / "apps" / "kustomization.yaml").open("a") as file:
        file.write("vars:\n  - name: RELEASE\n    objref: {apiVersion: v1, kind: ConfigMap, name: missing}\n")
    assert not [f for f in review.lint(root).findings if f.rule == "tree/kustomization"]
    found = [f for f in review.lint(root, kustomize_binary=True).findings if f.rule == "tree/kustomization"]
    assert [(f.file, f.line) for f in found] == [("apps/kustomization.yaml", 1)]
    assert "kustomize refuses to build apps" in found[0].message


def test_a_replacement_kustomize_refuses_is_reported_where_it_is_written(tmp_path):
    """Without the real kustomize, Beskar's own build refuses a replacement whose source selects nothing, at
    the source, as kubectl kustomize does."""
    root = tmp_path / "repo"
    shutil.copytree(BINARY_CASES / "replacements", root)
    text = (root / "apps" / "kustomization.yaml").read_text()
    (root / "apps" / "kustomization.yaml").write_text(text.replace("name: release\n", "name: missing\n"))
    found = [f for f in review.lint(root).findings if f.rule == "tree/kustomization"]
    assert [(f.file, f.line) for f in found] == [("apps/kustomization.yaml", 7)]
    assert "nothing selected by the source ConfigMap missing" in found[0].message


def test_without_kubectl_the_option_is_an_input_error(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(BINARY_CASES / "replacements", root)
    env = {**os.environ, "PATH": str(tmp_path / "no-bin"), "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "beskar", "lint", "--kustomize-binary", str(root)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--kustomize-binary" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
