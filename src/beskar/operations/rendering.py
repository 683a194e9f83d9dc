"""`beskar render`: re-render only the sites whose inputs or tree differ from the render record; skip the rest."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from beskar import tree as trees
from beskar.fleet.repository import FLEET_FILE, site_directories
from beskar.operations.inputs import shared_digest, site_digest
from beskar.memory import paused_gc
from beskar.tree.digest import SiteRecord, content_digest, holds, read_records, record

@dataclass(frozen=True)
class SiteFigures:
    """What a render reports of one site, whether it was rendered now or skipped as recorded."""

    release: str
    distro: str
    layers: int
    releases: int
    files: int
    secret_keys: int


@dataclass(frozen=True)
class Rendering:
    sites: dict[str, SiteFigures]
    changes: list[trees.Difference]
    skipped: tuple[str, ...] = ()


def recorded_outputs(root: Path, names: list[str]) -> dict[str, dict[str, str]]:
    """Each site's files (path -> digest) as the render record has them, for the sites whose inputs hash as
    recorded at their last render; whether the files on disk are still those is the caller's to see (under the
    fleet's lock). Take it before reading the inputs: an input edited meanwhile then only costs a full render."""
    records = read_records(root) if names else {}
    if not records:
        return {}
    shared = shared_digest(root)
    return {name: entry.outputs for name in names
            if (entry := records.get(name)) is not None and site_digest(root, name, shared) == entry.inputs}


def render_tree(root: Path, only: list[str] | None = None, check: bool = False) -> Rendering:
    """Render and write the tree (or with check=True only compare it), skipping every site whose inputs and
    Beskar hash as recorded at its last render and whose files on disk are still exactly the recorded ones."""
    root = Path(root)
    names = _site_names(root, only)
    records = read_records(root) if names else {}
    inputs: dict[str, str | None] = {}
    skipped: dict[str, SiteRecord] = {}
    figures: dict[str, SiteFigures] = {}
    if records:
        shared = shared_digest(root)
        with trees.locked(root, exclusive=False):
            for name in names:
                inputs[name] = site_digest(root, name, shared)
                entry = records.get(name)
                if entry and inputs[name] == entry.inputs and holds(root, trees.site_prefixes(name), entry.outputs):
                    try:
                        figures[name] = SiteFigures(**entry.figures)
                    except TypeError:  # a record of another shape: render the site
                        continue
                    skipped[name] = entry
    rest = [name for name in names if name not in skipped] if names else None
    changes = [trees.Difference(path, trees.Change.UNCHANGED) for entry in skipped.values() for path in entry.outputs]
    if rest is None or rest:
        if rest is not None and not records:  # no record yet: the digests are taken before reading, as above
            shared = shared_digest(root)
            inputs = {name: site_digest(root, name, shared) for name in rest}
        emitted, outputs, rendered = _emit(root, only if rest is None or len(rest) == len(names) else rest)
        prefixes = [prefix for name in rendered for prefix in trees.site_prefixes(name)]
        changes += trees.compare(root, emitted, prefixes) if check else trees.write(root, emitted, prefixes)
        figures.update(rendered)
        if not check:
            # Only inputs that hash the same after the render as before it were what it read: a file edited
            # meanwhile (and perhaps edited back later) must not pair its old digest with the new output.
            shared_after = shared_digest(root)
            record(root, {name: SiteRecord(digest, outputs[name], asdict(rendered[name])) for name in rendered
                          if (digest := inputs.get(name)) and digest == site_digest(root, name, shared_after)})
    order = names or sorted(figures)
    return Rendering({name: figures[name] for name in order if name in figures},
                     sorted(changes, key=lambda d: d.path), tuple(skipped))


def _site_names(root: Path, only: list[str] | None) -> list[str] | None:
    """The sites to render, or None when anything is unusual (loading the fleet then says what, with its place)."""
    if not (root / FLEET_FILE).is_file():
        return None
    trees.settle(root)
    names, problems = site_directories(root)
    if problems or not names or (only and not set(only) <= set(names)):
        return None
    return [name for name in names if not only or name in only]


def _emit(root: Path, only: list[str] | None) -> tuple[dict[str, bytes], dict[str, dict[str, str]],
                                                        dict[str, SiteFigures]]:
    """Every file of the sites as bytes, each file's digest and each site's figures. Each site is layered, typed,
    rendered and emitted in turn, on every core, and only its bytes come back (a fleet's trees as objects are ten
    times their bytes); the cyclic collector is paused meanwhile: it would scan the same millions of live objects
    again and again (1.4x the time)."""
    # Imported here, not above, for start-up: a no-op render never loads the model and the renderers (most of
    # its time). Not a cycle dodge: the arrow is the same, only later.
    from beskar.operations.compilation import Compilation, CompiledSite

    def emitted(compiled: CompiledSite) -> tuple[dict[str, bytes], dict[str, str], SiteFigures]:
        site, rendered = compiled.site, compiled.rendered
        files = rendered.tree.emit()
        return files, {path: content_digest(content) for path, content in files.items()}, SiteFigures(
            site.openstack.release, site.openstack.distro, len({c.layer for c in rendered.components}) + 1,
            len(rendered.components), len(rendered.tree.files), len(rendered.secrets))

    with paused_gc():
        _, sites = Compilation(root, only, each=emitted, keep_fleet=False).wait()
        files: dict[str, bytes] = {}
        for emitted_files, _, _ in sites.values():
            files.update(emitted_files)
        return (dict(sorted(files.items())), {name: digests for name, (_, digests, _) in sites.items()},
                {name: sites[name][2] for name in sorted(sites)})
