"""Compiling a fleet: load, type and render every site; write or check its tree; explain a value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beskar import tree as trees
from beskar.catalog import Catalog, catalog
from beskar.fleet import Fleet, Setting, load_fleet
from beskar.model import Site, type_fleet, type_site
from beskar.operations.emission import emit_sites
from beskar.problems import InputError, Origin, Problem
from beskar.render.site import RenderedSite, render_site
from beskar.secrets import sopsfile
from beskar.secrets.errors import SopsError


@dataclass
class CompiledFleet:
    fleet: Fleet
    sites: dict[str, Site]
    rendered: dict[str, RenderedSite]
    _emitted: dict[str, bytes] | None = field(default=None, repr=False)

    def emitted(self) -> dict[str, bytes]:
        if self._emitted is None:  # computed once: render --check and beskar check both need it
            self._emitted = emit_sites(self.rendered, jobs=1)
        return self._emitted

    def owned_prefixes(self) -> list[str]:
        return [prefix for name in sorted(self.rendered) for prefix in trees.site_prefixes(name)]


def compile_fleet(root: Path, only: list[str] | None = None) -> CompiledFleet:
    """Load, layer, type and render the fleet; every input problem of every site is raised together."""
    fleet, knowledge, sites = type_sites(root, only)
    rendered = {name: render_one(fleet, knowledge, site) for name, site in sites.items()}
    return CompiledFleet(fleet, sites, rendered)


def type_sites(root: Path, only: list[str] | None = None) -> tuple[Fleet, Catalog, dict[str, Site]]:
    """Load, layer and type the fleet (every input problem of every site raised together), rendering nothing."""
    fleet = load_fleet(root, only)
    knowledge = catalog()
    sites: dict[str, Site] = {}
    problems: list[Problem] = []
    try:
        type_fleet(fleet)
    except InputError as error:
        problems.extend(error.problems)
    for name, layered in fleet.sites.items():
        try:
            sites[name] = type_site(layered, knowledge)
        except InputError as error:
            problems.extend(error.problems)
        problems.extend(_secrets_file_problems(layered))
    if problems:
        raise InputError(problems)
    return fleet, knowledge, sites


def render_one(fleet: Fleet, knowledge: Catalog, site: Site) -> RenderedSite:
    """One typed site of the fleet rendered, with what the fleet holds beside it (its Secret, its image lock)."""
    layered = fleet.sites[site.name]
    return render_site(site, knowledge, fleet.settings, bootstrapped=site.name in fleet.bootstrapped,
                       secrets_file=layered.secrets_file, image_lock=layered.image_lock)


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
