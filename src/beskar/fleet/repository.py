"""The fleet repository on disk: beskar.yaml, profiles and sites, layered per site."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beskar.fleet.documents import KeyPath, Positions, read_document, read_regular_file
from beskar.fleet.image_lock import ImageLock, read_image_lock
from beskar.fleet.layering import Provenance, merge_layers
from beskar.fleet.record import Record, digest
from beskar.problems import InputError, Origin, Problem
from beskar.tree import settle

FLEET_FILE = "beskar.yaml"
SECRETS_FILE = "secrets.sops.yaml"  # sites/<site>/secrets.sops.yaml: the site's encrypted Secret
SOPS_CONFIG = ".sops.yaml"  # written by Beskar from the sites' recipients
SITE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$")
PROFILE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,62})$")  # a file name in profiles/, never a path


def secrets_path(site: str) -> str:
    """Where a site's encrypted Secret lives, relative to the fleet root."""
    return f"sites/{site}/{SECRETS_FILE}"


@dataclass(frozen=True)
class LayeredSite:
    """One site's merged document, before typing, with the provenance of every path."""

    name: str
    profile: str | None
    data: dict[str, Any]
    provenance: Provenance
    files: tuple[str, ...]
    # The bytes of sites/<site>/secrets.sops.yaml as they are (encrypted; never decrypted here), or None.
    secrets_file: bytes | None = None
    # sites/<site>/images.lock.yaml: the digests render pins, or None.
    image_lock: ImageLock | None = None

    def origin(self, path: KeyPath) -> Origin | None:
        """The place that last set `path`, or of its nearest ancestor that has one (else the site file's top)."""
        for depth in range(len(path), -1, -1):
            settings = self.provenance.get(tuple(path[:depth]))
            if settings:
                return settings[-1].origin
        return Origin(self.files[-1], 1, 1, f"site:{self.name}")  # nothing set it: the site file is where to add it


@dataclass
class Fleet:
    """A fleet repository: its settings (from beskar.yaml) and its layered sites."""

    root: Path
    settings: dict[str, Any]
    settings_positions: Positions
    sites: dict[str, LayeredSite] = field(default_factory=dict)
    # Sites whose clusters/<site>/flux-system was written by `flux bootstrap`.
    bootstrapped: frozenset[str] = frozenset()


def _subdocument(data: Any, positions: Positions, key: str) -> tuple[Any, Positions]:
    """The value under `key` with positions re-rooted to it."""
    sub = data.get(key) if isinstance(data, dict) else None
    shifted = {path[1:]: origin for path, origin in positions.items() if path[:1] == (key,)}
    return (sub if sub is not None else {}), shifted


def _expect_mapping(data: Any, positions: Positions, what: str) -> None:
    if not isinstance(data, dict):
        raise InputError([Problem(f"{what} must be a mapping", positions.get(()))])


@dataclass
class FleetHead:
    """A fleet read up to its sites: beskar.yaml's settings and defaults, the names of the sites to layer, and the
    problems found so far. Each site is then layered on its own (`layer`), in this process or a forked worker."""

    root: Path
    settings: dict[str, Any]
    settings_positions: Positions
    defaults: tuple[Any, Positions]
    names: list[str]
    problems: list[Problem]
    _profiles: dict[str, tuple[Any, Positions]] = field(default_factory=dict, repr=False)  # read once each

    def layer(self, name: str) -> LayeredSite:
        """The named site layered over the defaults and its profile; InputError says what is wrong with it."""
        return _layer_site(self.root, name, f"sites/{name}/site.yaml", self.defaults, self._profiles)

    def bootstrapped(self, name: str) -> bool:
        """Whether clusters/<site>/flux-system was written by `flux bootstrap`."""
        return (self.root / "clusters" / name / "flux-system" / "kustomization.yaml").is_file()

    def fleet(self, sites: dict[str, LayeredSite]) -> Fleet:
        """The fleet of these layered sites."""
        return Fleet(self.root, self.settings, self.settings_positions, sites,
                     frozenset(name for name in sites if self.bootstrapped(name)))


def load_fleet(root: Path, only: list[str] | None = None) -> Fleet:
    """Read the fleet at `root` and layer every site (or only the named ones).

    Problems across all files are collected and raised together as one InputError.
    """
    head = open_fleet(root, only)
    problems = list(head.problems)
    sites: dict[str, LayeredSite] = {}
    for name in head.names:
        try:
            sites[name] = head.layer(name)
        except InputError as error:
            problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    return head.fleet(sites)


def open_fleet(root: Path, only: list[str] | None = None) -> FleetHead:
    """Read beskar.yaml and find the sites (or only the named ones), layering none. A problem that leaves nothing
    to layer is raised; the others are kept in the head, to be raised with the sites' own."""
    root = Path(root)
    if not (root / FLEET_FILE).is_file():
        raise InputError([Problem(f"no {FLEET_FILE} here: {root} is not a fleet repository",
                                  hint="run `beskar demo DIR` for an example, or cd into your fleet")])
    settle(root)  # a write a killed beskar left half done is finished (or rolled back) before anything is read
    problems: list[Problem] = []
    fleet_doc, fleet_positions = read_document(root, FLEET_FILE, "global")
    _expect_mapping(fleet_doc, fleet_positions, FLEET_FILE)
    unknown = sorted(set(fleet_doc) - {"fleet", "defaults"})
    for key in unknown:
        problems.append(Problem(f"unknown key {key!r} in {FLEET_FILE}", fleet_positions[(key,)],
                                hint="expected 'fleet' and 'defaults'"))
    settings, settings_positions = _subdocument(fleet_doc, fleet_positions, "fleet")
    _expect_mapping(settings, settings_positions, f"{FLEET_FILE}: fleet")
    defaults = _subdocument(fleet_doc, fleet_positions, "defaults")
    _expect_mapping(defaults[0], defaults[1], f"{FLEET_FILE}: defaults")

    site_dirs, unreadable = (only and _named_site_directories(root, only)) or site_directories(root)
    problems.extend(unreadable)
    if only:
        missing = [name for name in only if name not in site_dirs]
        if missing:
            raise InputError([Problem(f"no site named {name!r}", hint=f"sites: {', '.join(site_dirs) or 'none'}")
                              for name in missing])
        site_dirs = [name for name in site_dirs if name in only]
    return FleetHead(root, settings, settings_positions, defaults, site_dirs, problems)


def _layer_site(root: Path, name: str, relative: str, defaults: tuple[Any, Positions],
                profiles: dict[str, tuple[Any, Positions]]) -> LayeredSite:
    if not SITE_NAME.match(name):
        raise InputError([Problem(f"site directory name {name!r} is not a DNS label (a-z, 0-9, '-')",
                                  Origin(relative, 1, 1, f"site:{name}"))])
    site_doc, site_positions = read_document(root, relative, f"site:{name}")
    _expect_mapping(site_doc, site_positions, relative)
    if "name" in site_doc and site_doc["name"] != name:
        raise InputError([Problem(f"site name {site_doc['name']!r} differs from its directory {name!r}",
                                  site_positions[("name",)])])
    files = [FLEET_FILE]
    layers = [defaults]
    profile = site_doc.get("profile")
    if profile is not None:
        if not isinstance(profile, str) or not PROFILE_NAME.match(profile):
            raise InputError([Problem(f"profile {profile!r} is not a profile name (letters, digits, '-', '_')",
                                      site_positions[("profile",)], hint="the name of a file in profiles/, "
                                      "without .yaml")])
        profile_file = f"profiles/{profile}.yaml"
        if profile not in profiles:
            if not (root / profile_file).is_file():
                known = sorted(p.stem for p in (root / "profiles").glob("*.yaml"))
                raise InputError([Problem(f"profile {profile!r} does not exist ({profile_file} not found)",
                                          site_positions[("profile",)],
                                          hint=f"profiles: {', '.join(known) or 'none'}")])
            doc, positions = read_document(root, profile_file, f"profile:{profile}")
            _expect_mapping(doc, positions, profile_file)
            profiles[profile] = (doc, positions)
        layers.append(profiles[profile])
        files.append(profile_file)
    layers.append((site_doc, site_positions))
    files.append(relative)
    data, provenance = merge_layers(layers)
    data["name"] = name
    return LayeredSite(name, profile, data, provenance, tuple(files), _secrets_bytes(root, name),
                       read_image_lock(root, name))


def site_directories(root: Path) -> tuple[list[str], list[Problem]]:
    """The names of sites/<site>/ holding a site.yaml (even a broken link: reading it says what is wrong), and a
    problem for each directory that cannot be listed: a site is never dropped silently."""
    names, problems = [], []
    sites = root / "sites"
    try:
        entries = sorted(os.scandir(sites), key=lambda entry: entry.name) if sites.is_dir() else []
    except OSError as error:
        return [], [Problem(f"cannot list sites/: {error.strerror}", Origin("sites", 1, 1, "global"))]
    for entry in entries:
        if entry.is_dir() and _holds_a_site(Path(entry.path)):
            names.append(entry.name)
    return names, problems


def _holds_a_site(directory: Path) -> bool:
    site_file = directory / "site.yaml"
    try:
        present = site_file.is_symlink() or site_file.exists() or not os.access(directory, os.R_OK | os.X_OK)
        os.stat(directory)
    except OSError:
        present = True
    return present


def _named_site_directories(root: Path, only: list[str]) -> tuple[list[str], list[Problem]] | None:
    """The named sites, when each is a site directory (a command about one site then costs the same whatever
    the fleet's size); None when one is not, and the caller lists every site to say which there are."""
    sites = root / "sites"
    named = []
    for name in dict.fromkeys(only):
        directory = sites / name
        if not (SITE_NAME.match(name) and directory.is_dir() and not directory.is_symlink()
                and _holds_a_site(directory)):
            return None
        named.append(name)
    return sorted(named), []


def _secrets_bytes(root: Path, name: str) -> bytes | None:
    """sites/<site>/secrets.sops.yaml as it is (never decrypted here), None when there is none; anything else in
    its place (a directory, a FIFO, an unreadable file) is an input error, never a Secret dropped."""
    relative = f"sites/{name}/{SECRETS_FILE}"
    path = root / relative
    if not path.is_symlink() and not path.exists():
        return None
    try:
        if not path.resolve(strict=True).is_relative_to(root.resolve()):
            raise ValueError("it leads outside the fleet")
        return read_regular_file(path)
    except (OSError, RuntimeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
    except ValueError as error:
        reason = str(error)
    raise InputError([Problem(f"cannot read {relative}: {reason}", Origin(relative, 1, 1, f"site:{name}"))])


def section_of_every_site(root: Path, key: str) -> dict[str, Any] | None:
    """site -> the layered value of one top-level `key` (e.g. `secrets`), for every site, without positions.

    Parsed with the C loader and layered as load_fleet layers, but only that key: what a command about one
    site needs from all the others, at a cost that hardly grows with the fleet. None when anything is
    unusual (a file that does not parse, a layer that is not a mapping, a missing profile): the caller then
    takes load_fleet's path, which places each problem at its file and line.
    """
    import yaml  # the C loader: no positions, which only a problem needs (and then load_fleet runs)

    base = os.fspath(root)
    documents: dict[str, tuple[Any, str]] = {}
    wanted = {key, "profile", "defaults"}
    # What each file gives (its wanted keys), and each site's layered value, are recorded under the digests of
    # the bytes they came from: the next command reads every file but parses and layers only what changed
    # (that was nearly all the cost at 200 sites).
    record = Record(root, f"section-{key}")

    def document(relative: str, data: bytes | None = None) -> tuple[Any, str]:
        """The file's top-level mapping with only the wanted keys, and the digest of its bytes: the C parser's
        events (no Python per scalar) find each wanted key's text, and only that text is loaded."""
        if relative not in documents:
            data = _regular_bytes(os.path.join(base, relative)) if data is None else data
            entry = f"{relative}:{digest(data)}"
            found = record.get(entry)
            if found is None:
                found = {"keys": _pruned(_top_level_keys(yaml, data.decode("utf-8"), wanted), relative, key)}
                record.put(entry, found)
            documents[relative] = found["keys"], entry
        return documents[relative]

    try:
        fleet_document, fleet_entry = document(FLEET_FILE)
        if not isinstance(fleet_document, dict):
            return None
        defaults = fleet_document.get("defaults") or {}
        found = {}
        sites = os.path.join(base, "sites")
        for entry in sorted(os.scandir(sites), key=lambda e: e.name) if os.path.isdir(sites) else []:
            if not entry.is_dir():
                continue
            # One open per site instead of site_directories' stats: a site directory is one with a site.yaml;
            # anything unusual (a dangling link, an unreadable directory) is load_fleet's to report.
            site_file = os.path.join(entry.path, "site.yaml")
            try:
                data = _regular_bytes(site_file)
            except FileNotFoundError:
                if os.path.islink(site_file):
                    return None
                continue
            name = entry.name
            site, site_entry = document(f"sites/{name}/site.yaml", data)
            profile = site.get("profile")
            if profile is not None and not (isinstance(profile, str) and PROFILE_NAME.match(profile)):
                return None  # load_fleet says what is wrong with it
            profile_document, profile_entry = document(f"profiles/{profile}.yaml") if profile is not None else ({}, "")
            layered_entry = f"layered:{name}|{fleet_entry}|{profile_entry}|{site_entry}"
            layered = record.get(layered_entry)
            if layered is None:
                layers = [defaults, profile_document, site]
                if not SITE_NAME.match(name) or not all(isinstance(layer, dict) for layer in layers):
                    return None
                merged, _ = merge_layers([({key: layer[key]} if key in layer else {}, {}) for layer in layers])
                layered = {"value": merged.get(key)}
                record.put(layered_entry, layered)
            found[name] = layered["value"]
    except (OSError, ValueError, yaml.YAMLError, AttributeError, TypeError):
        return None
    record.save()
    return found


def _regular_bytes(path: str) -> bytes:
    """The bytes of a regular file; ValueError for anything else (a FIFO is never waited on)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ValueError(f"{path} is not a regular file")
        with os.fdopen(descriptor, "rb", closefd=False) as stream:
            return stream.read()
    finally:
        os.close(descriptor)


def _pruned(keys: dict[str, Any] | None, relative: str, key: str) -> dict[str, Any] | None:
    """Of a file's wanted keys what layering `key` reads: beskar.yaml's `defaults.<key>`, a profile's or site's
    `<key>` and `profile`."""
    if keys is None:
        return None
    if relative == FLEET_FILE:
        defaults = keys.get("defaults")
        if isinstance(defaults, dict):
            return {"defaults": {key: defaults[key]} if key in defaults else {}}
        return {"defaults": defaults} if "defaults" in keys else {}
    return {k: v for k, v in keys.items() if k in (key, "profile")}


def _top_level_keys(yaml: Any, text: str, wanted: set[str]) -> dict[str, Any] | None:
    """The values of the wanted top-level keys of a block mapping, each loaded from its own lines; None if the
    document is not such a mapping (the caller then reads the fleet the full way)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        events = iter(loader.get_event, None)
        for event in events:
            if isinstance(event, (yaml.StreamStartEvent, yaml.DocumentStartEvent)):
                continue
            if not isinstance(event, yaml.MappingStartEvent) or event.flow_style:
                return None
            break
        pieces = []
        for key in events:
            if isinstance(key, yaml.MappingEndEvent):
                break
            if not isinstance(key, yaml.ScalarEvent) or key.start_mark.column != 0:
                return None
            depth, last = 0, None
            for last in events:
                if isinstance(last, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                    depth += 1
                elif isinstance(last, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                    depth -= 1
                if depth == 0:
                    break
            if key.value in wanted:
                piece = text[key.start_mark.index:last.end_mark.index]
                if not piece.startswith(key.value):  # marks that are not character offsets: read it the full way
                    return None
                pieces.append(piece)
    finally:
        loader.dispose()
    loaded = yaml.load("\n".join(pieces), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if pieces else {}
    return loaded if isinstance(loaded, dict) else None
