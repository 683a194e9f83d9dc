"""`beskar build --output DIR`: one file per built object, written all or nothing."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Iterable

from beskar import tree as trees
from beskar.build.objects import SiteBuild


def emitted_objects(builds: Iterable[SiteBuild]) -> dict[str, bytes]:
    """--output DIR: one file per object, <site>/<layer>/<release>/<Kind>-<name>.yaml, deterministic bytes."""
    files: dict[str, bytes] = {}
    for build in builds:
        for item in build.objects():
            path = item.path
            if path in files:  # same kind and name in two namespaces of one release
                path = path.removesuffix(".yaml") + f"-{item.namespace}.yaml"
            source = f"{item.template}" if item.release == "" else f"HelmRelease {item.release} ({item.template})"
            files[path] = (f"{trees.GENERATED_MARK} build of {posixpath.basename(build.site)}: {source}. "
                           "Do not edit.\n").encode() + trees.emit_file([item.body], "").split(b"\n", 1)[1]
    return dict(sorted(files.items()))


def write_output(directory: Path, builds: tuple[SiteBuild, ...]) -> list[trees.Difference]:
    """Write every object all or nothing; files of earlier builds of these sites that are gone are removed."""
    return trees.write(directory, emitted_objects(builds), [b.site for b in builds])
