"""The lint operation: any Flux repository, hand-written or rendered, read and checked with the tree rules.

It imports only what a lint reads (no site model, renderer, build engine or cipher): `beskar lint` starts in a
fraction of the time of `beskar check` (benchmarks/lint.py).
"""

from __future__ import annotations

from pathlib import Path

from beskar.check.builds import RealBuild
from beskar.memory import paused_gc
from beskar.check.engine import Subject, applicable_rules, run_rules
from beskar.check.findings import RULES, Scope
from beskar.check.repository import TreeOptions, built_directories, load_repository
from beskar.clients import kustomize
from beskar.fleet.files import read_chart_skeletons, read_files
from beskar.operations.reviews import Review, fleet_settings, object_count
from beskar.problems import InputError, Problem


def lint(root: Path, *, mirror: str | None = None, charts: Path | None = None,
         disable: list[str] = (), kustomize_binary: bool = False) -> Review:
    """Check any Flux repository (hand-written or rendered) with the tree rules; with `kustomize_binary`, the
    directories Flux builds are built by the real kustomize (Beskar's own reading still gives file:line)."""
    with paused_gc():
        return _lint(Path(root), mirror, charts, list(disable), kustomize_binary)


def _lint(root: Path, mirror: str | None, charts: Path | None, disable: list[str],
          kustomize_binary: bool = False) -> Review:
    if not root.is_dir():
        raise InputError([Problem(f"{root} is not a directory", hint="give the root of a Flux repository")])
    RULES.load([Scope.TREE])  # the settings check --disable against the rules loaded first, then all of them
    settings = fleet_settings(root, list(disable))
    options = TreeOptions(mirror=mirror or settings.mirror,
                          charts=read_chart_skeletons(charts) if charts is not None else None)
    contents, others = read_files(root)
    repository = load_repository(contents, others, options)
    if kustomize_binary:
        try:
            built = kustomize.build_all(root, built_directories(repository))
        except kustomize.KustomizeUnavailable as error:
            raise InputError([Problem(f"--kustomize-binary: {error}",
                                      hint="install kubectl (or kustomize), or lint without --kustomize-binary")])
        real = {d: RealBuild(output.text, output.error) for d, output in built.items()}
        repository = load_repository(contents, others, options, real=real)
    subject = Subject(repository=repository, texts=contents)
    findings = run_rules(subject, settings)
    return Review(root, findings, tuple(sorted(repository.clusters)), object_count(repository), len(repository.files),
                  rules=tuple(applicable_rules(subject, settings)))
