"""Copying images between registries with the `skopeo` CLI (every platform, digests kept)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class SkopeoError(Exception):
    """skopeo is missing or a copy failed; the message is skopeo's own last word."""


def copy(source: str, destination: str, *, source_insecure: bool = False, destination_insecure: bool = False,
         authfile: Path | None = None, timeout: float = 1800) -> None:
    """`skopeo copy --all --preserve-digests docker://SOURCE docker://DESTINATION`: the mirror holds the very
    manifest (index) upstream has, so a digest a chart pins resolves in the mirror too."""
    if shutil.which("skopeo") is None:
        raise SkopeoError("skopeo is not installed (Debian: apt-get install skopeo)")
    command = ["skopeo", "copy", "--all", "--preserve-digests", "--retry-times", "2"]
    if source_insecure:
        command.append("--src-tls-verify=false")
    if destination_insecure:
        command.append("--dest-tls-verify=false")
    if authfile is not None:
        command += ["--authfile", str(authfile)]
    command += [f"docker://{source}", f"docker://{destination}"]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SkopeoError(f"copy of {source} took longer than {timeout:g} s") from None
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.strip().splitlines() if line.strip()]
        raise SkopeoError(lines[-1] if lines else f"skopeo exited with {completed.returncode}")
