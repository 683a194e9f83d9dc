"""kubectl kustomize (kustomize v5) for a HelmRelease's postRenderers, as helm-controller runs them."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Mapping

import yaml


class KustomizeError(Exception):
    pass


def post_render(objects: list[dict[str, Any]], spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The objects after one postRenderers[].kustomize entry: patches (strategic merge or JSON 6902), images."""
    if shutil.which("kubectl") is None:
        raise KustomizeError("kubectl (with kustomize v5) is not installed")
    with tempfile.TemporaryDirectory(prefix="beskar-postrender-") as directory:
        base = Path(directory)
        (base / "resources.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
        kustomization: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                         "resources": ["resources.yaml"]}
        for key in ("patches", "images"):
            if spec.get(key):
                kustomization[key] = list(spec[key])
        (base / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
        done = subprocess.run(["kubectl", "kustomize", str(base)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise KustomizeError(" ".join(done.stderr.split()) or f"kubectl kustomize exited {done.returncode}")
    return [d for d in yaml.safe_load_all(done.stdout) if isinstance(d, dict)]
