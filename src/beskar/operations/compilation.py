"""Compiling a fleet: load, type and render every site; write or check its tree; explain a value."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, NamedTuple, TypeVar

from beskar import tree as trees
from beskar.catalog import catalog
from beskar.fleet import Fleet, LayeredSite, Setting, open_fleet
from beskar.forking import Forked, fork_map
from beskar.model import Site, type_fleet, type_site
from beskar.operations.emission import emit_sites, jobs_for
from beskar.problems import InputError, Origin, Problem
from beskar.render.site import RenderedSite, render_site
from beskar.secrets import sopsfile
from beskar.secrets.errors import SopsError

R = TypeVar("R")


@dataclass
class CompiledFleet:
    fleet: Fleet
    sites: dict[str, Site]
    rendered: dict[str, RenderedSite]
    _emitted: dict[str, bytes] | None = field(default=None, repr=False)
    _site_files: dict[str, dict[str, bytes]] = field(default_factory=dict, repr=False)

    def emitted(self) -> dict[str, bytes]:
        if self._emitted is None:  # computed once: render --check and beskar check both need it
            self._emitted = emit_sites(self.rendered, jobs=1)
        return self._emitted

    def site_files(self, name: str) -> dict[str, bytes]:
        """A site's tree as the exact bytes written to disk (emitted by the compile's workers when it was asked to)."""
        if name not in self._site_files:
            self._site_files[name] = self.rendered[name].tree.emit()
        return self._site_files[name]

    def owned_prefixes(self) -> list[str]:
        return [prefix for name in sorted(self.rendered) for prefix in trees.site_prefixes(name)]


def compile_fleet(root: Path, only: list[str] | None = None, jobs: int | None = None,
                  emit: bool = False) -> CompiledFleet:
    """Load, layer, type and render the fleet; every input problem of every site is raised together. With many
    sites, `jobs` processes (default: one per core) compile them; the result is the same whatever their number.
    emit: each site's tree is also emitted by the process that compiled it (site_files), for a caller that reads
    every site's files (a build)."""
    fleet, sites = Compilation(root, only, jobs=jobs, each=_with_files if emit else _alone).wait()
    return CompiledFleet(fleet, {name: c.site for name, (c, _) in sites.items()},
                         {name: c.rendered for name, (c, _) in sites.items()},
                         _site_files={name: files for name, (_, files) in sites.items() if files is not None})


def _with_files(compiled: CompiledSite) -> tuple[CompiledSite, dict[str, bytes] | None]:
    return compiled, compiled.rendered.tree.emit()


def _alone(compiled: CompiledSite) -> tuple[CompiledSite, dict[str, bytes] | None]:
    return compiled, None


class CompiledSite(NamedTuple):
    """One site as a compile makes it: layered, typed, rendered."""

    layered: LayeredSite
    site: Site
    rendered: RenderedSite


class _Stage(enum.IntEnum):
    """How far a site got: the problems of the earliest stage any site stopped at are the ones raised."""

    LAYERING = 1
    TYPING = 2
    RENDERING = 3
    DONE = 4


class _Outcome(NamedTuple):
    name: str
    stage: _Stage
    problems: tuple[Problem, ...] = ()
    layered: LayeredSite | None = None  # of a site compiled, when the fleet is kept
    result: Any = None


class Compilation(Generic[R]):
    """A fleet being compiled site by site, and `each` (default: the CompiledSite itself) made of every site as
    soon as it is rendered. Sites are independent: with many of them, forked workers, which inherit beskar.yaml
    read once, layer, type and render a site each in turn, and only what `each` makes of it comes back. The
    caller works on meanwhile; `.wait()` joins, and raises the input problems of every site together, as a
    compile in one process would (all layering problems, else all typing problems, else the first site's that
    fails to render). With keep_fleet=False the layered sites do not come back either (a render needs only
    bytes): `.wait()` gives no fleet."""

    def __init__(self, root: Path, only: list[str] | None = None,
                 each: Callable[[CompiledSite], R] | None = None, jobs: int | None = None,
                 min_sites: int | None = None, keep_fleet: bool = True) -> None:
        self.head = open_fleet(root, only)
        knowledge = catalog()
        settings = self.head.settings
        self._fleet_problems = _fleet_problems(Fleet(self.head.root, settings, self.head.settings_positions))
        made = each or (lambda compiled: compiled)

        def compile_site(name: str) -> _Outcome:
            try:
                layered = self.head.layer(name)
            except InputError as error:
                return _Outcome(name, _Stage.LAYERING, tuple(error.problems))
            problems = _secrets_file_problems(layered)
            try:
                site = type_site(layered, knowledge)
            except InputError as error:
                return _Outcome(name, _Stage.TYPING, tuple(error.problems) + tuple(problems))
            if problems:
                return _Outcome(name, _Stage.TYPING, tuple(problems))
            try:
                rendered = render_site(site, knowledge, settings, bootstrapped=self.head.bootstrapped(name),
                                       secrets_file=layered.secrets_file, image_lock=layered.image_lock)
            except InputError as error:
                return _Outcome(name, _Stage.RENDERING, tuple(error.problems))
            return _Outcome(name, _Stage.DONE, layered=layered if keep_fleet else None,
                            result=made(CompiledSite(layered, site, rendered)))

        self._keep_fleet = keep_fleet
        self._work: Forked[_Outcome] = fork_map(compile_site, self.head.names,
                                                jobs_for(len(self.head.names), jobs, min_sites))

    def wait(self) -> tuple[Fleet | None, dict[str, R]]:
        """The fleet of layered sites (None unless kept), and what `each` made of every site, by name in the
        fleet's order."""
        outcomes = self._work.results()
        layering = list(self.head.problems) + _problems(outcomes, _Stage.LAYERING)
        if layering:
            raise InputError(layering)
        fleet = self.head.fleet({outcome.name: outcome.layered for outcome in outcomes}) if self._keep_fleet else None
        typing = self._fleet_problems + _problems(outcomes, _Stage.TYPING)
        if typing:
            raise InputError(typing)
        rendering = next((outcome.problems for outcome in outcomes if outcome.stage is _Stage.RENDERING), None)
        if rendering:
            raise InputError(list(rendering))
        return fleet, {outcome.name: outcome.result for outcome in outcomes}


def _problems(outcomes: list[_Outcome], stage: _Stage) -> list[Problem]:
    return [problem for outcome in outcomes if outcome.stage is stage for problem in outcome.problems]


def _fleet_problems(fleet: Fleet) -> list[Problem]:
    try:
        type_fleet(fleet)
    except InputError as error:
        return list(error.problems)
    return []


def _secrets_file_problems(layered) -> list[Problem]:
    """The site's encrypted Secret is copied into the tree as it is: it must be a SOPS file (no key is needed to
    know), else Flux would fail on it long after the merge."""
    if layered.secrets_file is None:
        return []
    relative = f"sites/{layered.name}/secrets.sops.yaml"
    layer = f"site:{layered.name}"
    try:
        sopsfile.read(layered.secrets_file.decode("utf-8"), relative)
    except UnicodeDecodeError as error:
        data = layered.secrets_file
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        return [Problem(f"not UTF-8 text: byte 0x{data[error.start]:02x}", Origin(relative, line, column, layer))]
    except InputError as error:
        return [Problem(p.message, Origin(relative, p.origin.line, p.origin.column, layer) if p.origin else
                        Origin(relative, 1, 1, layer), p.hint) for p in error.problems]
    except SopsError as error:
        return [Problem(f"not a usable SOPS file: {error.where}: {error.message}",
                        Origin(relative, error.line or 1, 1, layer),
                        hint=f"`beskar secrets sync {layered.name}` writes it")]
    return []


def render_fleet(root: Path, only: list[str] | None = None, check: bool = False) -> tuple[CompiledFleet, list[trees.Difference]]:
    """Render and write the tree (or with check=True only compare it with what is on disk)."""
    compiled = compile_fleet(root, only)
    emitted = compiled.emitted()
    if check:
        return compiled, trees.compare(root, emitted, compiled.owned_prefixes())
    return compiled, trees.write(root, emitted, compiled.owned_prefixes())


@dataclass(frozen=True)
class Explanation:
    site: str
    path: str
    value: Any
    settings: tuple[Setting, ...]
    default: bool
    beneath: dict[tuple[Any, ...], tuple[Setting, ...]] = field(default_factory=dict)  # path below -> settings


def explain(root: Path, site_name: str, dotted: str) -> Explanation:
    """The final typed value at a dotted path of a site, and every layer that set it."""
    compiled = compile_fleet(root, [site_name])
    layered = compiled.fleet.sites[site_name]
    site = compiled.sites[site_name]
    parts = [int(p) if p.isdigit() else p for p in dotted.split(".") if p]
    value: Any = site.model_dump(mode="json")
    for part in parts:
        if isinstance(value, list) and not isinstance(part, int):
            value = next((item for item in value if isinstance(item, dict) and item.get("name") == part), _MISSING)
        elif isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            value = _MISSING
        if value is _MISSING:
            raise InputError([Problem(f"site {site_name} has no value at {dotted!r}",
                                      hint="paths are dotted keys; list items by name, e.g. nodes.brno-ctl-1.roles")])
    settings = tuple(layered.provenance.get(tuple(parts), ()))
    below = {key[len(parts):]: tuple(found) for key, found in layered.provenance.items()
             if len(key) > len(parts) and list(key[:len(parts)]) == parts}
    return Explanation(site_name, dotted, value, settings, default=not settings, beneath=below)


_MISSING = object()
