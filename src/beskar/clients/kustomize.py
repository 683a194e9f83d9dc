"""The real kustomize (`kubectl kustomize`, or a `kustomize` binary): build a directory as Flux would."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 120  # seconds for one directory; a remote base on a slow network is the usual cause


class KustomizeUnavailable(RuntimeError):
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
    raise KustomizeUnavailable("neither kustomize nor kubectl is on the PATH")


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
