"""The real kustomize (`kubectl kustomize`, or a `kustomize` binary): a directory built as Flux would build it
(`beskar lint --kustomize-binary`), and a HelmRelease's postRenderers run as helm-controller runs them."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

TIMEOUT = 120  # seconds for one directory; a remote base on a slow network is the usual cause


class KustomizeError(Exception):
    """kustomize refused a post-render, or is not installed."""


class KustomizeUnavailable(KustomizeError, RuntimeError):
    pass


@dataclass(frozen=True)
class KustomizeOutput:
    """What one build gave: the YAML stream, or the error kustomize refused the directory with."""

    directory: str
    text: str | None
    error: str | None = None


def command() -> list[str]:
    """`kustomize build` when a kustomize binary is installed, else `kubectl kustomize`."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    raise KustomizeUnavailable("neither kustomize nor kubectl (with kustomize v5) is on the PATH")


def build(root: Path, directory: str) -> KustomizeOutput:
    """Build `directory` (relative to `root`) with the real kustomize; a refusal is returned, not raised."""
    try:
        done = subprocess.run([*command(), str(root / directory) if directory else str(root)], capture_output=True,
                              text=True, check=False, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return KustomizeOutput(directory, None, f"kustomize took longer than {TIMEOUT} s")
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip() and "Warning:" not in line]
        return KustomizeOutput(directory, None, lines[-1] if lines else f"exit code {done.returncode}")
    return KustomizeOutput(directory, done.stdout)


def build_all(root: Path, directories: list[str]) -> dict[str, KustomizeOutput]:
    return {directory: build(root, directory) for directory in directories}


def post_render(objects: list[dict[str, Any]], spec: Mapping[str, Any]) -> str:
    """The objects after one postRenderers[].kustomize entry (patches, strategic merge or JSON 6902; images), as
    the YAML kustomize writes: the build reads it as it reads Helm's output."""
    tool = command()
    with tempfile.TemporaryDirectory(prefix="beskar-postrender-") as directory:
        base = Path(directory)
        (base / "resources.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
        kustomization: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                         "resources": ["resources.yaml"]}
        for key in ("patches", "images"):
            if spec.get(key):
                kustomization[key] = list(spec[key])
        (base / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
        try:
            done = subprocess.run([*tool, str(base)], capture_output=True, text=True, check=False, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise KustomizeError(f"kustomize took longer than {TIMEOUT} s") from None
    if done.returncode != 0:
        raise KustomizeError(" ".join(done.stderr.split()) or f"{' '.join(tool)} exited {done.returncode}")
    return done.stdout
