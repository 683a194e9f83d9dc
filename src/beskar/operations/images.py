"""The images of a site: listed from its build, mirrored with skopeo, verified in and locked from its mirror."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

from beskar.build.images import SiteImage, site_images
from beskar.catalog import catalog
from beskar.clients.mirroring import CopyStep, observe
from beskar.clients.registry import RegistryClient, RegistryError
from beskar.fleet.image_lock import LockedImage, write_image_lock
from beskar.fleet.image_record import Presence, VerifiedImage, write_verify_record
from beskar.model import Site
from beskar.operations.build import BuildOptions, build_site
from beskar.operations.compilation import compile_fleet
from beskar.plan.mirroring import MirrorPlan, WantedImage, plan_mirror, wanted_image
from beskar.plan.steps import Outcome, Result, Step, run_steps
from beskar.problems import InputError, Problem


@dataclass(frozen=True)
class RegistryOptions:
    insecure: bool = False  # plain HTTP to the mirror (and to upstream, for mirror)
    authfile: Path | None = None  # else REGISTRY_AUTH_FILE, containers' auth.json, ~/.docker/config.json
    sources: Mapping[str, str] = field(default_factory=dict)  # upstream registry -> where to copy it from


@dataclass(frozen=True)
class Inventory:
    site: str
    mirror: str | None
    layout: str
    images: tuple[SiteImage, ...]

    @property
    def host(self) -> str | None:
        return self.mirror.split("/", 1)[0] if self.mirror else None

    def not_mirrored(self) -> tuple[SiteImage, ...]:
        return tuple(image for image in self.images if image.upstream is None)


def parse_sources(values: list[str]) -> dict[str, str]:
    """`--from REGISTRY=HOST[/PATH]` values: where to copy an upstream registry's images from."""
    sources = {}
    for value in values:
        registry, sep, location = value.partition("=")
        if not sep or not registry or not location:
            raise InputError([Problem(f"--from {value!r} is not REGISTRY=HOST[/PATH]",
                                      hint="e.g. --from quay.io=cache.example.org:5000")])
        sources[registry] = location
    return sources


def inventory(root: Path, site: str, build: BuildOptions = BuildOptions()) -> Inventory:
    """Every image the site's built objects pull or make their operators start, with their users."""
    compiled = compile_fleet(root, [site])
    model: Site = compiled.sites[site]
    built = build_site(root, site, build)
    failures = built.failures
    if failures:
        raise InputError([Problem(f"HelmRelease {f.release} does not render, so its images are unknown: {f.message}",
                                  hint=f"{f.file}:{f.line}") for f in failures])
    mirror = model.mirror.registry if model.mirror else None
    layout = model.mirror.layout if model.mirror else "flat"
    return Inventory(site, mirror, layout, site_images(built.objects(), catalog().image_knowledge, mirror, layout))


def _client(inventory: Inventory, options: RegistryOptions) -> RegistryClient:
    if inventory.host is None:
        raise InputError([Problem(f"site {inventory.site} has no mirror registry (mirror.registry)",
                                  hint="set mirror: {registry: mirror.example.org/cache} in the site or beskar.yaml")])
    client = RegistryClient(inventory.host, insecure=options.insecure,
                            **({"files": [options.authfile]} if options.authfile else {}))
    try:
        client.check()
    except RegistryError as error:
        raise InputError([Problem(str(error), hint="is the mirror up, and are its credentials in auth.json?")]) \
            from None
    return client


def wanted(inventory: Inventory, options: RegistryOptions = RegistryOptions()) -> list[WantedImage]:
    return [wanted_image(image.image, image.upstream, [use.label() for use in image.uses], options.sources)
            for image in inventory.images if image.upstream is not None]


def _observe(client: RegistryClient, images: list[WantedImage]) -> dict[str, str | None]:
    try:
        return {image.destination: observe(client, image.destination, image.digest) for image in images}
    except RegistryError as error:
        raise InputError([Problem(str(error))]) from None


def mirror_plan(inventory: Inventory, options: RegistryOptions) -> tuple[MirrorPlan, list[CopyStep]]:
    """What the mirror lacks, as copy steps (each skips itself once done: a re-run resumes)."""
    client = _client(inventory, options)
    images = wanted(inventory, options)
    plan = plan_mirror(images, _observe(client, images))
    return plan, [CopyStep(copy, client, source_insecure=options.insecure, authfile=options.authfile)
                  for copy in plan.copies]


def run_mirror(steps: list[CopyStep], progress: Callable[[int, int, Step, Result], None] | None = None) -> list[Outcome]:
    return run_steps(steps, progress)


@dataclass(frozen=True)
class Verification:
    inventory: Inventory
    digests: dict[str, str]  # upstream reference (tag, no digest) -> digest in the mirror
    missing: tuple[SiteImage, ...]  # not in the mirror (or not with the digest the objects pin)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.inventory.not_mirrored()


def verify(inventory: Inventory, options: RegistryOptions = RegistryOptions()) -> Verification:
    """HEAD every image in the mirror and record its digest."""
    client = _client(inventory, options)
    found = _observe(client, wanted(inventory, options))
    digests: dict[str, str] = {}
    missing = []
    for image in inventory.images:
        if image.upstream is None:
            continue
        destination = image.image.partition("@")[0]
        digest = found.get(destination)
        if digest is None:
            missing.append(image)
        else:
            digests[image.upstream.partition("@")[0]] = digest
    return Verification(inventory, dict(sorted(digests.items())), tuple(missing))


def lock(root: Path, verification: Verification, now: datetime | None = None) -> str:
    """Write sites/<site>/images.lock.yaml from a complete verification; refuse an incomplete one."""
    if not verification.ok:
        names = [image.image for image in verification.missing + verification.inventory.not_mirrored()]
        raise InputError([Problem(f"{len(names)} image(s) of {verification.inventory.site} are not in its mirror, "
                                  f"so there is nothing to lock them to: {', '.join(names)}",
                                  hint="run `beskar images mirror --site SITE` first; the lock was not written")])
    taken = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    images = {image: LockedImage(digest, taken) for image, digest in verification.digests.items()}
    return write_image_lock(Path(root), verification.inventory.site, images)


def record(root: Path, verification: Verification, now: datetime | None = None) -> str:
    """Write sites/<site>/images.verified.yaml: every image of the site, in the mirror or not, its digest, when."""
    taken = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    missing = {image.image for image in verification.missing}
    found: dict[str, VerifiedImage] = {}
    for image in verification.inventory.images:
        if image.upstream is None:
            found[image.image] = VerifiedImage(Presence.NOT_MIRRORED, taken, releases=image.releases)
        elif image.image in missing:
            found[image.image] = VerifiedImage(Presence.MISSING, taken, image.upstream, releases=image.releases)
        else:
            digest = verification.digests.get(image.upstream.partition("@")[0])
            found[image.image] = VerifiedImage(Presence.PRESENT, taken, image.upstream, digest, image.releases)
    inventory = verification.inventory
    return write_verify_record(Path(root), inventory.site, inventory.mirror, found)
