"""`beskar report` in a real browser: every page loads with no console error and nothing fetched from outside;
the fleet matrix and the wiring pictures hold what the fleet has; screenshots are non-blank at their size."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from beskar.catalog import catalog
from beskar.model.links import site_links
from beskar.operations import compilation, demo, report, upgrade
from browser import ARTIFACTS, DOCS, SCREENSHOTS, check_screenshot, chromium, require_browser, take_screenshots



def one_node_off(root: Path) -> None:
    """The example with one NIC of brno-cmp-2 at 1500 under its 9000-byte bond: a finding on one node."""
    site = root / "sites/prod-brno/site.yaml"
    text = site.read_text()
    assert "{name: ens1f1, mac: b8:59:9f:16:32:01}" in text
    site.write_text(text.replace("{name: ens1f1, mac: b8:59:9f:16:32:01}",
                                 "{name: ens1f1, mac: b8:59:9f:16:32:01, mtu: 1500}"))
    compilation.render_fleet(root)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    require_browser()
    with chromium(tmp_path_factory.mktemp("chromium") / "profile") as driver:
        yield driver


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, compilation.CompiledFleet, report.Written]:
    root = tmp_path_factory.mktemp("report") / "fleet"
    demo.write_demo(root)
    one_node_off(root)
    written = report.make_report(root, root.parent / "public")
    return root, compilation.compile_fleet(root), written


def test_every_page_loads_cleanly_and_fetches_nothing_from_outside(browser, written):
    _, compiled, result = written
    assert result.pages == ("index.html", *(f"sites/{name}.html" for name in sorted(compiled.sites)))
    for relative in result.pages:
        page, visit = browser.visit((result.output / relative).as_uri())
        assert visit.console_errors == [] and visit.page_errors == [], (relative, visit)
        assert visit.outside == [] and all(url.startswith(("file:", "data:")) for url in visit.requests), visit
        assert page.evaluate("document.querySelectorAll('script').length") == 0  # readable without JavaScript
        page.close()


def test_printed_every_page_fits_the_width_of_an_a4_landscape_page(browser, written):
    """With the print style (A4 landscape, 10 mm margins: 1047 CSS pixels), no table or picture runs off the page."""
    _, _, result = written
    for relative in result.pages:
        page, _ = browser.visit((result.output / relative).as_uri())
        page.emulate_media(media="print")
        page.set_viewport_size({"width": 1047, "height": 740})
        wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .slice(0, 5).map(e => e.tagName + ' ' + (e.getAttribute('class') || ''))""")
        assert wide == [] and page.evaluate("document.documentElement.scrollWidth") <= 1047, (relative, wide)
        assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
        page.close()


def test_a_page_that_reaches_out_is_caught(browser, tmp_path):
    """The watch above can fail: a page with an outside font and script shows both."""
    page_file = tmp_path / "leaky.html"
    page_file.write_text('<!DOCTYPE html><html><head><link rel="stylesheet" href="https://fonts.example.org/a.css">'
                         '</head><body><script>console.error("boom")</script></body></html>')
    page, visit = browser.visit(page_file.as_uri())
    page.close()
    assert visit.outside == ["https://fonts.example.org/a.css"] and "boom" in visit.console_errors


def test_the_matrix_has_a_row_per_site_and_a_column_per_service(browser, written):
    _, compiled, result = written
    page, _ = browser.visit(result.index.as_uri())
    rows = page.eval_on_selector_all("table.matrix tbody tr", "rows => rows.map(r => r.dataset.site)")
    assert rows == sorted(compiled.sites)
    services = {component.name for rendered in compiled.rendered.values() for component in rendered.components}
    columns = page.eval_on_selector_all("table.matrix thead th.service", "cells => cells.map(c => c.textContent)")
    assert sorted(columns) == sorted(services) and len(columns) == len(set(columns))
    for site in compiled.sites:
        cells = page.eval_on_selector_all(f"tr[data-site='{site}'] td.cell",
                                          "cells => cells.map(c => [c.dataset.service, c.classList.contains('absent')])")
        assert [service for service, _ in cells] == columns
        assert {service for service, absent in cells if not absent} == \
            {c.name for c in compiled.rendered[site].components}
    # designate runs in prod-brno only: with two sites in the profile, both differ from the other
    differing = page.eval_on_selector_all("td.differs", "cells => cells.map(c => c.dataset.service)")
    assert "designate" in differing
    page.close()


def test_each_wiring_picture_has_an_element_per_node_and_per_network(browser, written):
    _, compiled, result = written
    for name, site in compiled.sites.items():
        page, _ = browser.visit((result.output / f"sites/{name}.html").as_uri())
        nodes = page.eval_on_selector_all("svg.wiring g.node", "gs => gs.map(g => g.dataset.node)")
        networks = page.eval_on_selector_all("svg.wiring g.network", "gs => gs.map(g => g.dataset.network)")
        assert sorted(nodes) == sorted(n.name for n in site.nodes)
        assert networks == [n.name for n in site.networks]
        links = site_links(site, catalog())
        for node in site.nodes:  # drawn and visible, each NIC, bond, VLAN and bridge in it with its MTU
            box = page.locator(f"svg.wiring g.node[data-node='{node.name}']").bounding_box()
            assert box and box["width"] > 100 and box["height"] > 100
            devices = dict(page.eval_on_selector_all(
                f"svg.wiring g.node[data-node='{node.name}'] g.device:not(.bmc)",
                "gs => gs.map(g => [g.dataset.device, g.querySelectorAll('text')[1].textContent])"))
            assert sorted(devices) == sorted(link.name for link in links[node.name])
            for link in links[node.name]:  # the MTU drawn is the model's link fact
                assert devices[link.name].endswith(f"MTU {link.mtu}"), (node.name, link, devices[link.name])
        releases = page.eval_on_selector_all("svg.deployment g.release", "gs => gs.map(g => g.dataset.release)")
        assert sorted(releases) == sorted(c.name for c in compiled.rendered[name].components)
        overflowing = page.eval_on_selector_all("svg.deployment g.release", """gs => gs.filter(g =>
            [...g.querySelectorAll('text')].some(t => t.getBBox().width > g.querySelector('rect').getBBox().width - 4))
            .map(g => g.dataset.release)""")
        assert overflowing == []  # every name and label inside its box (kube-prometheus-stack is long)
        overflowing = page.eval_on_selector_all("svg.wiring g.device", """gs => gs.filter(g =>
            [...g.querySelectorAll('text')].some(t => t.getBBox().width > g.querySelector('rect').getBBox().width - 2))
            .map(g => g.dataset.device)""")
        assert overflowing == [], (name, overflowing)  # prod-ostrava's `active-backup · MTU 9000` is long
        page.close()


def test_a_finding_is_marked_on_its_node(browser, written):
    _, _, result = written
    page, _ = browser.visit((result.output / "sites/prod-brno.html").as_uri())
    marked = page.eval_on_selector_all("svg.wiring g.node", "gs => gs.filter(g => g.querySelector('g.marker'))"
                                                            ".map(g => g.dataset.node)")
    assert marked == ["brno-cmp-2"]
    tip = page.locator("svg.wiring g.node[data-node='brno-cmp-2'] g.marker title").text_content()
    assert "model/mtu-mismatch" in tip and "ens1f1" in tip
    red = page.eval_on_selector_all("svg.wiring g.node[data-node='brno-cmp-2'] g.link line[stroke='#c62828']",
                                    "ls => ls.length")
    assert red == 1  # ens1f1 -> bond0, and only it
    link = page.locator("#findings a", has_text="sites/prod-brno/site.yaml").first.get_attribute("href")
    assert re.fullmatch(r"https://gitlab\.example\.org/cloud/fleet/-/blob/main/sites/prod-brno/site\.yaml#L\d+", link)
    page.close()


@pytest.fixture(scope="module")
def upgrading(tmp_path_factory) -> report.Written:
    """The same fleet two stages into its upgrade to 2025.2 (`beskar upgrade start`, then `next`): prod-brno in
    wave 1, prod-ostrava waiting in wave 2."""
    root = tmp_path_factory.mktemp("upgrading") / "fleet"
    demo.write_demo(root)
    one_node_off(root)
    upgrade.start(root, "2025.2")
    upgrade.next_stage(root, "prod-brno")
    return report.make_report(root, root.parent / "public")


def test_the_matrix_shows_the_stage_and_wave_of_a_site_mid_upgrade(browser, upgrading):
    page, visit = browser.visit(upgrading.index.as_uri())
    assert visit.console_errors == [] and visit.page_errors == [] and visit.outside == [], visit
    stages = [stage.name for stage in upgrade.plan(upgrading.output.parent / "fleet").site("prod-brno").stages]
    badges = dict(page.eval_on_selector_all(
        "table.matrix tr.site-row", "rows => rows.map(r => [r.dataset.site, [...r.querySelectorAll('td.release "
                                    ".upgrade')].map(b => [b.dataset.stage, b.dataset.wave, b.innerText])])"))
    assert badges["prod-brno"] == [[stages[1], "1", f"stage 2/{len(stages)} {stages[1]}\nwave 1/2"]]
    assert badges["prod-ostrava"] == [[None, "2", "to 2025.2: wave 2/2, not started"]]  # no stage yet
    box = page.locator("tr[data-site='prod-brno'] td.release .upgrade").bounding_box()
    assert box and box["width"] > 50 and box["height"] > 20  # shown, not hidden
    carried = page.eval_on_selector_all("tr[data-site='prod-brno'] td.carried", "cs => cs.map(c => c.dataset.service)")
    assert carried and set(carried) <= {"mariadb", "rabbitmq"}
    page.close()


@pytest.fixture(scope="module")
def screenshots(browser, written, upgrading):
    """Every README picture, saved as a test artifact (BESKAR_ARTIFACTS, default build/test-artifacts/report/)."""
    return take_screenshots({"example": written[2].output, "upgrading": upgrading.output}, ARTIFACTS / "report",
                            browser)


@pytest.mark.parametrize("name", [shot[0] for shot in SCREENSHOTS if shot[1] in ("example", "upgrading")])
def test_screenshots_are_non_blank_at_their_size(browser, screenshots, name):
    path, expected = screenshots[name]
    check_screenshot(browser, path, expected, DOCS)
