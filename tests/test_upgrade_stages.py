"""Must-hold 2 of `beskar upgrade`: the example fleet walked stage by stage, 2025.1 -> 2025.2 and skip-level
2025.1 -> 2026.1, against the real charts. After each step `beskar check --build` passes and `beskar diff`
against the step before shows only the stage's services' images and Jobs changing; the walked fleet ends
byte-identical to one written at the target.

Affordable on a small machine: one fleet per walk (module scope), walked once; each step builds the site it moved
through the session's render cache, so it renders only the releases its stage changed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from beskar.check.findings import Severity
from beskar.diff import Change, ObjectChange, Status
from beskar.operations import build as building
from beskar.operations import demo, review
from beskar.operations import diff as diffing
from beskar.operations import upgrade as upgrading
from beskar.operations.compilation import render_fleet
from beskar.problems import InputError

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@localhost"}
RENDERED = ("apps", "clusters", "inventory")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, capture_output=True, text=True,
                          check=True).stdout


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


@dataclass
class Step:
    """One `start`/`next` of the walk and what was seen right after it."""

    moved: upgrading.Moved
    stage_charts: tuple[str, ...]
    stage_images: frozenset[str]  # the images the stage pins
    changed_files: set[str]
    errors: list[str]
    warnings: set[str]
    diff: object
    seconds: float


def name_and_tag(image: str) -> tuple[str, str]:
    """An image's last path segment and tag, whatever registry spelling (docker.io/library/...) names it."""
    name, _, tag = image.partition("@")[0].rpartition(":")
    return name.rpartition("/")[2], tag


def _image_or_job(change: ObjectChange) -> bool:
    """A change an image move explains: the object is a Job (Flux replaces it), or every changed field is an
    image reference (containers' image, a HelmRelease's images.tags value)."""
    if change.key.kind == "Job":
        return True
    return change.change is Change.CHANGED and bool(change.fields) and all(
        re.search(r"(^|\.)image$|images\.tags\.", field.path) for field in change.fields)


def _findings(review_result) -> tuple[list[str], set[str]]:
    found = review_result.findings
    return ([f"{f.file}:{f.line}: {f.rule}: {f.message}" for f in found if f.severity is Severity.ERROR],
            {f.rule for f in found if f.severity is Severity.WARNING})


def walk(root: Path, target: str, sources: dict[str, str], cache: Path) -> list[Step]:
    """Walk every site of the fleet at `root` (a git repository) to `target`, committing each step.

    Each step renders only what it changed: the check builds the moved site (its other releases come from the
    render cache: a release's render is keyed by its chart and values), the diff builds the stage's releases of
    the moved site. Every other release is the same as the step before, which the file snapshot proves (a
    release's objects are a function of its HelmRelease, its sources and the Secrets and ConfigMaps it reads,
    all files of the rendered tree)."""
    plans = {site.site: site for site in upgrading.plan(root, target).sites}
    steps: list[Step] = []
    before = snapshot(root)
    base = git(root, "rev-parse", "HEAD").strip()
    moved = upgrading.start(root, target)
    while True:
        started = time.monotonic()
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", moved.message)
        after = snapshot(root)
        changed = {path for path in set(before) | set(after) if before.get(path) != after.get(path)}
        stage = next((s for s in plans[moved.site].stages if s.name == moved.stage), None)
        charts = frozenset(stage.charts if stage else ())
        checked = review.check(root, [moved.site], build=building.BuildOptions(chart_sources=sources, cache=cache))
        result = diffing.diff(root, base, None, diffing.DiffOptions(
            sites=(moved.site,), releases=charts, chart_sources=sources, cache=cache))
        errors, warnings = _findings(checked)
        pinned = frozenset(image for _, keys in stage.pins for _, image in keys) if stage else frozenset()
        steps.append(Step(moved, tuple(sorted(charts)), pinned, changed, errors, warnings, result,
                          time.monotonic() - started))
        before, base = after, git(root, "rev-parse", "HEAD").strip()
        try:
            moved = upgrading.next_stage(root)
        except InputError as error:  # every site runs the target: the walk is over
            assert "no upgrade is under way" in str(error), error
            return steps


@dataclass
class Walk:
    target: str
    root: Path
    direct: Path  # the same fleet written at the target
    plan: upgrading.UpgradePlan
    steps: list[Step]
    before: tuple[list[str], set[str]]  # errors and warning rules of `check --build` of the whole fleet, before
    after: tuple[list[str], set[str]]  # and after the walk


@pytest.fixture(scope="module", params=["2025.2", "2026.1"])
def walked(request, tmp_path_factory, example_sources, build_cache) -> Walk:
    """The example fleet (as `beskar demo` leaves it, committed) walked to the target, once per module."""
    target = request.param
    root = tmp_path_factory.mktemp(f"walk-{target}") / "fleet"
    demo.write_demo(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "demo")
    direct = root.parent / "direct"
    shutil.copytree(root, direct, ignore=shutil.ignore_patterns(".git"))
    whole = building.BuildOptions(chart_sources=example_sources, cache=build_cache)
    before = _findings(review.check(root, build=whole))
    plan = upgrading.plan(root, target)
    steps = walk(root, target, example_sources, build_cache)
    after = _findings(review.check(root, build=whole))
    fleet_file = direct / "beskar.yaml"
    fleet_file.write_text(fleet_file.read_text().replace('release: "2025.1"', f'release: "{target}"'))
    render_fleet(direct)
    print(f"\nwalk to {target}: {len(steps)} steps, median "
          f"{sorted(s.seconds for s in steps)[len(steps) // 2]:.1f} s, total {sum(s.seconds for s in steps):.0f} s")
    return Walk(target, root, direct, plan, steps, before, after)


def test_every_site_walks_every_stage_in_order_then_finishes(walked):
    target, plans, steps = walked.target, walked.plan, walked.steps
    expected = [(name, stage) for wave in plans.waves for name in wave
                for stage in [*(s.name for s in plans.site(name).stages), "finish"]]
    assert [(s.moved.site, s.moved.stage) for s in steps] == expected
    for step in steps:
        if not step.moved.finished:
            source = plans.site(step.moved.site).source
            assert step.moved.message == f"upgrade({step.moved.site}): {step.moved.stage} to {target} " \
                                         f"({source} -> {target})"


def test_each_step_changes_only_its_sites_stage_releases(walked):
    for step in walked.steps:
        site = step.moved.site
        assert all(path.startswith(f"apps/{site}/03-openstack/") or path == f"sites/{site}/site.yaml"
                   for path in step.changed_files), (step.moved.stage, step.changed_files)
        if step.moved.finished:  # the stages carried every image: the release moves in the model alone
            assert step.changed_files == {f"sites/{site}/site.yaml"}, step.changed_files
        else:
            releases = {Path(path).stem.split("-", 1)[1] for path in step.changed_files if path.startswith("apps/")}
            assert releases == set(step.stage_charts), step.moved.stage


def test_check_build_passes_before_after_and_at_each_step(walked):
    assert walked.before[0] == [] and walked.after[0] == []
    assert walked.after[1] == walked.before[1]  # the fleet at the target warns of nothing new
    for step in walked.steps:
        assert step.errors == [], (step.moved.site, step.moved.stage, step.errors)
        # mid-upgrade a site mixes two releases' images on purpose: tree/image-release-mix knows the target
        assert step.warnings - walked.before[1] == set(), (step.moved.stage, step.warnings)


def test_diff_after_each_step_shows_only_the_stages_images_and_jobs(walked):
    pulled: set[tuple[str, str]] = set()
    for step in walked.steps:
        (site,) = step.diff.sites
        assert site.built and not site.failures, (step.moved.stage, site.failures)
        if step.moved.finished:  # the release moves in the model only: the stages already carried every image
            assert site.images == () and site.objects == (), step.moved.site
            continue
        assert site.status is Status.CHANGED, step.moved.stage
        # the images the built pods pull that move are the stage's pins (a stage may pin only images no pod of
        # the site pulls: mariadb's ks_user); nothing appears or goes
        moved = {name_and_tag(image.new.upstream) for image in site.images if image.new is not None}
        assert all(image.change is Change.CHANGED for image in site.images), step.moved.stage
        assert moved <= {name_and_tag(image) for image in step.stage_images}, (step.moved.stage, moved)
        pulled.update(moved)
        releases = {change.release or change.key.name for change in site.objects}
        assert releases == set(step.stage_charts), (step.moved.stage, releases)
        odd = [f"{c.key} {[f.path for f in c.fields]}" for c in site.objects if not _image_or_job(c)]
        assert odd == [], (step.moved.stage, odd)
    assert ("keystone", f"{walked.target}-ubuntu_noble") in pulled and ("rabbitmq", "4.1") in pulled


def test_the_walked_fleet_renders_the_bytes_of_a_fleet_written_at_the_target(walked):
    target, root, direct = walked.target, walked.root, walked.direct
    walked_tree, direct_tree = snapshot(root), snapshot(direct)
    rendered = sorted(p for p in direct_tree if p.split("/")[0] in RENDERED)
    assert rendered and {p: walked_tree.get(p) for p in rendered} == {p: direct_tree[p] for p in rendered}
    assert sorted(p for p in walked_tree if p.split("/")[0] in RENDERED) == rendered
    for name in ("prod-brno", "prod-ostrava"):
        text = (root / f"sites/{name}/site.yaml").read_text()
        assert "upgrade:" not in text and f'release: "{target}"' in text


def chart_sources(root: Path, site: str) -> dict[str, str]:
    """HelmRelease name -> the GitRepository its chart comes from, as rendered."""
    found = {}
    for path in root.glob(f"apps/{site}/03-openstack/*.yaml"):
        document = yaml.safe_load(path.read_text())
        if isinstance(document, dict) and document.get("kind") == "HelmRelease":
            found[document["metadata"]["name"]] = document["spec"]["chart"]["spec"]["sourceRef"]["name"]
    return found


def test_a_stage_moves_its_charts_to_the_ref_the_target_needs(tmp_path, example_sources, build_cache):
    """2024.1 -> 2025.1 needs openstack-helm 2026.1.0 instead of 2025.1.0 (releases.yaml): a stage takes its
    charts from a second GitRepository at the new tag, built from the charts of that tag; the last step leaves
    one source at the new tag, as a fleet written at 2025.1."""
    root = tmp_path / "fleet"
    demo.write_demo(root)
    fleet_file = root / "beskar.yaml"
    fleet_file.write_text(fleet_file.read_text().replace('release: "2025.1"', 'release: "2024.1"')
                          .replace("distro: ubuntu_noble", "distro: ubuntu_jammy"))
    render_fleet(root)
    direct = tmp_path / "direct"
    shutil.copytree(root, direct)
    plan = upgrading.plan(root, "2025.1").site("prod-brno")
    staged = "openstack-helm-2026.1.0"
    moved, done = upgrading.start(root, "2025.1"), []
    while not moved.finished:
        done.append(moved.stage)
        charts = {chart for stage in plan.stages if stage.name in done for chart in stage.charts}
        sources = chart_sources(root, "prod-brno")
        assert {name for name, source in sources.items() if source == staged} == charts, moved.stage
        if moved.stage == "mariadb":
            gits = [d for d in yaml.safe_load_all((root / "clusters/prod-brno/sources.yaml").read_text())
                    if d["kind"] == "GitRepository"]
            assert {d["metadata"]["name"]: d["spec"]["ref"] for d in gits if "openstack" in d["metadata"]["name"]} \
                == {"openstack-helm": {"tag": "2025.1.0"}, staged: {"tag": "2026.1.0"}}
            (built,) = building.build_fleet(root, ["prod-brno"], building.BuildOptions(
                chart_sources={**example_sources, staged: example_sources["openstack-helm"]}, cache=build_cache,
                releases=frozenset({"mariadb", "keystone"})))
            versions = {release.release: release.chart.version for release in built.releases}
            assert versions == {"mariadb": "2026.1.0", "keystone": "2025.1.0"}, versions
        moved = upgrading.next_stage(root, "prod-brno")
    assert set(chart_sources(root, "prod-brno").values()) == {"openstack-helm"}
    fleet_file = direct / "beskar.yaml"
    fleet_file.write_text(fleet_file.read_text().replace('release: "2024.1"', 'release: "2025.1"'))
    render_fleet(direct)
    walked, wanted = snapshot(root), snapshot(direct)
    rendered = [p for p in wanted if p.split("/")[0] in RENDERED and "/prod-brno/" in p]
    assert rendered and {p: walked.get(p) for p in rendered} == {p: wanted[p] for p in rendered}
