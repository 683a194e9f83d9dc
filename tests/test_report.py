"""`beskar report`: pages drawn purely from the compiled fleet, written atomically, the same bytes twice apart from
the generated-at line; links to the fleet repository in both URL styles; bad input refused with nothing written."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from beskar.catalog import catalog
from beskar.operations import compilation, report, review
from beskar.operations import upgrade as upgrading
from beskar.fleet.image_record import Presence, VerifiedImage, VerifyRecord, write_verify_record
from beskar.report import ReportInput, SiteInput, build_report
from beskar.report.weblinks import Style, web_base, web_repository
from html_tree import Element, parse


def inputs_of(root: Path, **extra) -> ReportInput:
    checked = review.check(root)
    compiled = checked.compiled
    return ReportInput("example", compiled.fleet.settings,
                       tuple(SiteInput(compiled.sites[n], compiled.fleet.sites[n], compiled.rendered[n])
                             for n in sorted(compiled.sites)),
                       tuple(checked.findings), catalog(), "Generated now.", "0", **extra)


@pytest.mark.parametrize("url, base", [
    ("https://gitlab.example.org/cloud/fleet.git", "https://gitlab.example.org/cloud/fleet"),
    ("https://deploy:token@gitlab.example.org/cloud/fleet.git/", "https://gitlab.example.org/cloud/fleet"),
    ("git@gitlab.example.org:cloud/infra/fleet.git", "https://gitlab.example.org/cloud/infra/fleet"),
    ("ssh://git@gitlab.example.org:2222/cloud/fleet.git", "https://gitlab.example.org/cloud/fleet"),
    ("https://github.com/example/fleet", "https://github.com/example/fleet"),
    ("/srv/git/fleet.git", None),
])
def test_web_address_of_a_clone_url(url, base):
    assert web_base(url) == base


def test_links_in_gitlab_and_github_styles():
    gitlab = web_repository({"repository": {"url": "git@gitlab.example.org:cloud/fleet.git", "branch": "main"}})
    assert gitlab.style is Style.GITLAB
    assert gitlab.url("sites/prod brno/site.yaml", 12) == \
        "https://gitlab.example.org/cloud/fleet/-/blob/main/sites/prod%20brno/site.yaml#L12"
    github = web_repository({"repository": {"url": "https://github.com/example/fleet.git", "branch": "release/1"}})
    assert github.style is Style.GITHUB
    assert github.url("beskar.yaml", 3) == "https://github.com/example/fleet/blob/release%2F1/beskar.yaml#L3"
    # a GitHub Enterprise host is not recognisable from its name: `style` says so; `web` when clone and view differ
    enterprise = web_repository({"repository": {"url": "git@code.example.org:ops/fleet.git", "style": "github",
                                                "web": "https://code.example.org/ops/fleet"}})
    assert enterprise.url("beskar.yaml") == "https://code.example.org/ops/fleet/blob/main/beskar.yaml"
    assert web_repository({}) is None and web_repository({"repository": {"url": "/srv/fleet.git"}}) is None


def test_pages_are_pure_and_deterministic(demo_fleet):
    inputs = inputs_of(demo_fleet)
    first, second = build_report(inputs), build_report(inputs)
    assert first == second and sorted(first) == ["index.html", "sites/prod-brno.html", "sites/prod-ostrava.html"]
    for html in first.values():
        assert html.count("Generated now.") == 1 and "<script" not in html and "http-equiv=\"Content-Security-Policy\"" in html
        assert not re.search(r"""(src|href)=["'](https?:)?//""", html.split("<main>")[0])  # nothing fetched


def test_two_runs_differ_only_in_the_generated_at_line(run_beskar, demo_fleet, tmp_path):
    # With every part of the pages in play: an upgrade in flight and a verify record as well.
    upgrading.start(demo_fleet, "2025.2")
    cache = "mirror.example.org/cache/"
    write_verify_record(demo_fleet, "prod-brno", cache.rstrip("/"), {
        f"{cache}quay.io__airshipit__nova:2025.1-ubuntu_noble": VerifiedImage(
            Presence.PRESENT, "2026-12-01T10:00:00Z", "quay.io/airshipit/nova:2025.1-ubuntu_noble", "sha256:" + "c" * 64,
            ("nova",)),
        f"{cache}quay.io__example__sidecar:1.0": VerifiedImage(Presence.MISSING, "2026-12-01T10:00:00Z",
                                                                releases=("kube-prometheus-stack", "nova"))})
    env_outputs = []
    for epoch, folder in (("1700000000", "one"), ("1800000000", "two")):
        done = run_beskar_with(run_beskar, demo_fleet, tmp_path / folder, epoch)
        assert done.returncode == 0, done.stderr
        env_outputs.append(tmp_path / folder)
    one, two = env_outputs
    files = sorted(p.relative_to(one).as_posix() for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two).as_posix() for p in two.rglob("*") if p.is_file())
    # No journal left behind; only the writers' lock file stays in .beskar/, as in every folder Beskar writes.
    assert [f for f in files if f.startswith(".beskar/")] == [".beskar/lock"]
    files = [f for f in files if not f.startswith(".beskar/")]
    assert files == ["index.html", "sites/prod-brno.html", "sites/prod-ostrava.html"]
    assert 'class="release upgrading"' in (one / "index.html").read_text()
    assert 'class="verified"' in (one / "sites/prod-brno.html").read_text()
    for relative in files:
        a, b = (one / relative).read_text().splitlines(), (two / relative).read_text().splitlines()
        changed = [(x, y) for x, y in zip(a, b) if x != y]
        assert len(a) == len(b) and len(changed) == 1, changed
        assert "Generated 2023-11-14 22:13 UTC" in changed[0][0] and "Generated 2027-01-15 08:00 UTC" in changed[0][1]


def run_beskar_with(run_beskar, root: Path, output: Path, epoch: str):
    import os
    import subprocess
    import sys

    # Two hash seeds as well: nothing in the pages may depend on set or dict order of a run.
    env = {**os.environ, "SOURCE_DATE_EPOCH": epoch, "PYTHONHASHSEED": epoch[:2], "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "beskar", "report", "-C", str(root), "--output", str(output)],
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_cli_writes_the_report_and_says_where(run_beskar, demo_fleet, tmp_path):
    done = run_beskar("report", "-C", demo_fleet, "--output", tmp_path / "public", "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["pages"] == ["index.html", "sites/prod-brno.html", "sites/prod-ostrava.html"]
    assert result["sites"] == ["prod-brno", "prod-ostrava"] and result["findings"] == 3  # the DEMO-key warnings
    only = run_beskar("report", "-C", demo_fleet, "--output", tmp_path / "one", "--site", "prod-ostrava")
    assert only.returncode == 0, only.stderr
    assert sorted(p.name for p in (tmp_path / "one/sites").iterdir()) == ["prod-ostrava.html"]
    assert 'data-site="prod-brno"' not in (tmp_path / "one/index.html").read_text()


def test_a_site_gone_from_the_fleet_takes_its_page_along(demo_fleet, tmp_path):
    output = tmp_path / "public"
    report.make_report(demo_fleet, output)
    (output / "notes.txt").write_text("mine")
    shutil.rmtree(demo_fleet / "sites/prod-ostrava")
    compilation.render_fleet(demo_fleet)
    written = report.make_report(demo_fleet, output)
    assert written.pages == ("index.html", "sites/prod-brno.html")
    assert sorted(p.name for p in (output / "sites").iterdir()) == ["prod-brno.html"]
    assert (output / "notes.txt").read_text() == "mine"  # not Beskar's: left alone


def test_the_matrix_highlights_the_site_that_differs_from_its_siblings(demo_fleet, tmp_path):
    """Three production sites, one on another openstack-helm tag: only its openstack-helm cells stand out."""
    source = demo_fleet / "sites/prod-ostrava/site.yaml"
    third = demo_fleet / "sites/prod-plzen/site.yaml"
    third.parent.mkdir()
    document = yaml.safe_load(source.read_text())
    document["charts"] = {"ref": "2025.2.0"}
    third.write_text(yaml.safe_dump(document))
    html = build_report(inputs_of(demo_fleet))["index.html"]
    differing = re.findall(r'<tr class="site-row" data-site="([^"]+)">|<td class="cell differs[^"]*" '
                           r'data-service="([^"]+)"', html)
    by_site: dict[str, list[str]] = {}
    current = None
    for site, service in differing:
        current = site or current
        if service:
            by_site.setdefault(current, []).append(service)
    assert set(by_site) == {"prod-plzen", "prod-brno"}
    assert by_site["prod-brno"] == ["designate"]  # the one site with designate: 1 of 3
    assert "keystone" in by_site["prod-plzen"] and "ingress-nginx" not in by_site["prod-plzen"]
    assert 'title="prod-plzen differs from its profile production: 2 other site(s): 2026.1.0' in html


def images_of_page(html: str) -> dict[str, Element]:
    return {row.attrs["data-image"]: row for row in parse(html).find("section", id="images").find_all("tr", cls="image")}


def test_images_show_what_verify_found_when_it_has_run(demo_fleet):
    page = build_report(inputs_of(demo_fleet))["sites/prod-brno.html"]
    assert "Mirror status: not verified" in parse(page).find("section", id="images").text()
    rows = images_of_page(page)
    cache = "mirror.example.org/cache/"
    nova, keystone = (f"{cache}quay.io__airshipit__{name}:2025.1-ubuntu_noble" for name in ("nova", "keystone"))
    assert "upstream quay.io/airshipit/nova:2025.1-ubuntu_noble" in rows[nova].text()
    # Mutable as `beskar images` says (the catalog's rule): a release series tag moves, a patch version does not.
    assert "mutable" in rows[nova].text() and "mutable" not in rows[f"{cache}docker.io__bitnami__kubectl:1.32.5"].text()
    assert {row.find("td", cls="mirror").text() for row in rows.values()} == {"not verified"}
    # kube-prometheus-stack's values name grafana's repository only: the chart picks the tag, not `latest`
    grafana = rows[f"{cache}docker.io__grafana__grafana:"]
    assert "the chart's" in grafana.text() and "mutable" not in grafana.text()
    assert [hint.text() for hint in grafana.find_all("div", cls="hint")] == [
        "upstream docker.io/grafana/grafana", "the values name the repository; the chart picks the tag"]

    checked = "2026-12-01T10:00:00Z"
    record = VerifyRecord(f"{cache.rstrip('/')}", {
        nova: VerifiedImage(Presence.PRESENT, checked, "quay.io/airshipit/nova:2025.1-ubuntu_noble", "sha256:" + "a" * 64,
                            ("nova",)),
        keystone: VerifiedImage(Presence.MISSING, checked, "quay.io/airshipit/keystone:2025.1-ubuntu_noble",
                                releases=("keystone",)),
        f"{cache}docker.io__grafana__grafana:12.0.2": VerifiedImage(Presence.PRESENT, checked, None, "sha256:" + "b" * 64,
                                                                    ("kube-prometheus-stack",)),
        f"{cache}quay.io__example__sidecar:1.0": VerifiedImage(Presence.MISSING, checked,
                                                                           releases=("kube-prometheus-stack",))},
        "sites/prod-brno/images.verified.yaml")
    page = build_report(inputs_of(demo_fleet, mirror_status={"prod-brno": record}))["sites/prod-brno.html"]
    rows = images_of_page(page)
    state = {image: row.find("td", cls="mirror") for image, row in rows.items()}
    assert state[nova].text() == "present\nsha256:" + "a" * 64 and state[nova].attrs["title"] == f"looked at {checked}"
    assert "missing" in state[keystone].classes and state[keystone].text() == "missing"
    # The repository-only pin is the image the chart made of it; the image no value names is there too, as the chart's.
    assert f"{cache}docker.io__grafana__grafana:" not in rows
    grafana = rows[f"{cache}docker.io__grafana__grafana:12.0.2"]
    assert "present" in grafana.find("td", cls="mirror").text() and "kube-prometheus-stack:repository" in grafana.text()
    exporter = rows[f"{cache}quay.io__example__sidecar:1.0"]
    assert "the chart's default: no value names it" in exporter.text() and "missing" in exporter.text()
    assert exporter.find("td", cls="users").text() == "kube-prometheus-stack"
    # Images verify did not see pulled (unused, or the fleet changed since) say so; the note says when and where it was recorded.
    others = [image for image in rows if image not in record.images]
    assert others and {state[image].text() for image in others} == {"not pulled"}
    # The missing ones first, then the present ones, then those verify did not see pulled.
    assert [state[image].text().split("\n")[0] for image in rows][:4] == ["missing", "missing", "present", "present"]
    note = parse(page).find("p", cls="verified").text()
    assert "at 2026-12-01 10:00:00 UTC" in note and "2 present, 2 missing" in note and "images.verified.yaml" in note
    assert "recorded for mirror" not in note
    moved = VerifyRecord("other.example.org/cache", record.images, record.file)
    page = build_report(inputs_of(demo_fleet, mirror_status={"prod-brno": moved}))["sites/prod-brno.html"]
    assert "recorded for mirror other.example.org/cache; the site now uses mirror.example.org/cache" in \
        parse(page).find("p", cls="verified").text()


@pytest.mark.parametrize("case", ["file", "foreign-folder", "bad-fleet"])
def test_bad_input_is_refused_with_nothing_written(run_beskar, demo_fleet, tmp_path, case):
    output = tmp_path / "out"
    if case == "file":
        output.write_text("not a folder")
        expected = "is not a directory"
    elif case == "foreign-folder":
        output.mkdir()
        (output / "index.html").write_text("<html>someone's page</html>")
        expected = "no report of Beskar's"
    else:
        site = demo_fleet / "sites/prod-brno/site.yaml"
        site.write_text(site.read_text().replace("region: brno", "region: brno\nregoin: typo"))
        expected = "sites/prod-brno/site.yaml:4"
    before = sorted((p.relative_to(tmp_path), p.read_bytes() if p.is_file() else None) for p in tmp_path.rglob("*")
                    if "fleet" not in p.parts)
    done = run_beskar("report", "-C", demo_fleet, "--output", output)
    assert done.returncode == 2 and expected in done.stderr and "Traceback" not in done.stderr, done.stderr
    after = sorted((p.relative_to(tmp_path), p.read_bytes() if p.is_file() else None) for p in tmp_path.rglob("*")
                   if "fleet" not in p.parts)
    assert after == before


def test_layout_takes_edges_in_input_order_not_by_object_address():
    # grandalf's Graph gathers a component's edges in a set hashed by address; the picture then changed between runs.
    from beskar.report.layout import _components

    sizes = tuple((f"r{i}", 10.0, 10.0) for i in range(9)) + (("alone", 10.0, 10.0),)
    edges = tuple(sorted((f"r{i}", f"r{j}") for i in range(9) for j in range(i + 1, 9) if (i * j) % 3 != 1))
    for _ in range(20):
        components = _components(sizes, edges)
        assert [[v.data for v in c.sV] for c in components] == [[f"r{i}" for i in range(9)], ["alone"]]
        assert [(e.v[0].data, e.v[1].data) for e in components[0].sE] == list(edges)


def test_the_matrix_shows_where_an_upgrade_stands(demo_fleet, tmp_path):
    """`beskar upgrade start` on the example fleet: prod-brno carries stage 1 in wave 1, prod-ostrava waits in wave 2."""
    plan = upgrading.plan(demo_fleet, "2025.2")
    stages = [stage.name for stage in plan.site("prod-brno").stages]
    moved = upgrading.start(demo_fleet, "2025.2")
    assert moved.site == "prod-brno" and moved.stage == stages[0]
    written = report.make_report(demo_fleet, tmp_path / "public")
    index = parse(written.index.read_text())
    matrix = index.find("table", cls="matrix")
    brno, ostrava = (matrix.find("tr", data_site=name) for name in ("prod-brno", "prod-ostrava"))
    assert "upgrading" in brno.classes and "upgrading" not in ostrava.classes
    badge = brno.find("td", cls="release").find("div", cls="upgrade")
    assert (badge.attrs["data-stage"], badge.attrs["data-wave"]) == (stages[0], "1")
    assert " ".join(badge.text().split()) == f"stage 1/{len(stages)} {stages[0]} wave 1/2"
    assert "2025.1 → 2025.2" in brno.find("td", cls="release").text()
    waiting = ostrava.find("td", cls="release").find("div", cls="upgrade")
    assert "waiting" in waiting.classes and waiting.attrs["data-wave"] == "2" and "not started" in waiting.text()
    # The services the carried stage moved to the target's images are marked, in that site's row only.
    carried = {c.attrs["data-service"] for c in matrix.find_all("td", cls="carried")}
    assert carried == set(plan.site("prod-brno").stages[0].charts) and not ostrava.find_all("td", cls="carried")
    page = parse((written.output / "sites/prod-brno.html").read_text())
    line = page.find("p", cls="upgrade")
    assert line.attrs["data-stage"] == stages[0] and f"stage 1 of {len(stages)}" in line.text()
    assert f"Next: {stages[1]}" in line.text()
    # On the deployment picture too: the releases the carried stage moved, blue, and only those.
    moved_releases = {g.attrs["data-release"] for g in page.find("svg", cls="deployment").find_all("g", cls="carried")}
    assert moved_releases == carried
    # A report of prod-ostrava alone still counts the waves of the whole fleet.
    alone = report.make_report(demo_fleet, tmp_path / "alone", ["prod-ostrava"])
    badge = parse(alone.index.read_text()).find("tr", data_site="prod-ostrava").find("div", cls="upgrade")
    assert badge.attrs["data-wave"] == "2" and "wave 2/2" in badge.text()

    # One more stage: the badge follows; aborted back to the start, the matrix shows no upgrade at all.
    upgrading.next_stage(demo_fleet, "prod-brno")
    index = parse(report.make_report(demo_fleet, tmp_path / "public").index.read_text())
    badge = index.find("tr", data_site="prod-brno").find("div", cls="upgrade")
    assert badge.attrs["data-stage"] == stages[1] and f"stage 2/{len(stages)}" in badge.text()
    upgrading.abort(demo_fleet, "prod-brno")
    upgrading.abort(demo_fleet, "prod-brno")  # the intent stays, with no stage carried
    index = parse(report.make_report(demo_fleet, tmp_path / "public").index.read_text())
    badge = index.find("tr", data_site="prod-brno").find("div", cls="upgrade")
    assert badge.attrs["data-stage"] == "" and "no stage carried" in badge.text()
    assert not index.find_all("td", cls="carried")
    upgrading.abort(demo_fleet, "prod-brno")
    index = parse(report.make_report(demo_fleet, tmp_path / "public").index.read_text())
    assert not index.find_all(cls="upgrade") and not index.find_all("tr", cls="upgrading")


def test_an_upgrade_the_planner_refuses_says_why_on_the_site_page(demo_fleet, tmp_path):
    upgrading.start(demo_fleet, "2025.2")
    site = demo_fleet / "sites/prod-brno/site.yaml"
    site.write_text(site.read_text().replace("done: [mariadb]", "done: [mariadb, no-such-stage]"))
    compilation.render_fleet(demo_fleet)
    written = report.make_report(demo_fleet, tmp_path / "public")
    line = parse((written.output / "sites/prod-brno.html").read_text()).find("p", cls="upgrade")
    refusal = line.find("span", cls="sev")
    assert refusal.text() == "refused: openstack.upgrade.done names stages this upgrade does not have: no-such-stage"
    badge = parse(written.index.read_text()).find("tr", data_site="prod-brno").find("div", cls="upgrade")
    assert "refused: openstack.upgrade.done names stages" in badge.attrs["title"]


def test_a_verify_record_verify_never_wrote_is_bad_input_with_its_place(run_beskar, demo_fleet, tmp_path):
    (demo_fleet / "sites/prod-brno/images.verified.yaml").write_text(
        "mirror: mirror.example.org/cache\nimages:\n"
        "  mirror.example.org/cache/quay.io__airshipit__nova:2025.1-ubuntu_noble:\n"
        "    state: maybe\n    checked: '2026-12-01T10:00:00Z'\n")
    done = run_beskar("report", "-C", demo_fleet, "--output", tmp_path / "public")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "sites/prod-brno/images.verified.yaml:3:3: " in done.stderr and "not 'maybe'" in done.stderr
    assert "hint: it is written by `beskar images verify`" in done.stderr
    assert not (tmp_path / "public").exists()
