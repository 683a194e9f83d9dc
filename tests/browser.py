"""Driving the real Chromium (Debian's /usr/bin/chromium) with Playwright: visit pages, watch what they ask the
network and the console, take screenshots and look at them. Also takes the README's screenshots of the report."""
from __future__ import annotations

import base64
import os
import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import pytest

from pngs import png_size

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
LOCAL = ("file:", "data:", "about:")
# Screenshots are test artifacts here; the README's copies are in DOCS.
ARTIFACTS = Path(os.environ.get("BESKAR_ARTIFACTS", Path(__file__).resolve().parents[1] / "build" / "test-artifacts"))
DOCS = Path(__file__).resolve().parents[1] / "docs"


def require_browser() -> None:
    """Skip (with the reason) where the browser or its driver is missing."""
    pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is a test dependency "
                                                      "(pip install -e '.[test]')")
    if not CHROMIUM.is_file():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")


@dataclass
class Visit:
    """What one page did while it loaded: console errors, uncaught errors, every request, and those not local."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


@contextmanager
def chromium(profile: Path) -> Iterator["Browser"]:
    """A headless Chromium with a fresh user-data dir; every request that is not local is refused and recorded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=ARGS, headless=True, viewport=VIEWPORT,
            device_scale_factor=1, service_workers="block")
        try:
            yield Browser(context)
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


class Browser:
    def __init__(self, context) -> None:
        self.context = context
        self.outside: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def visit(self, url: str):
        """Open `url` in a new tab; returns the page and what it did while loading."""
        page = self.context.new_page()
        visit = Visit(url)
        before = len(self.outside)
        page.on("console", lambda m: visit.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
        page.on("request", lambda request: visit.requests.append(request.url))
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")
        visit.outside = self.outside[before:]
        return page, visit

    def look(self, png: Path) -> dict:
        """Decode a screenshot in the browser (a blank tab, apart from the report): its size, how many colours
        it has and what share of it is not white."""
        page = self.context.new_page()
        try:
            data = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
            return page.evaluate("""async (source) => {
                const image = new Image(); image.src = source; await image.decode();
                const canvas = document.createElement('canvas');
                canvas.width = image.width; canvas.height = image.height;
                const g = canvas.getContext('2d'); g.drawImage(image, 0, 0);
                const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
                const colours = new Set(); let ink = 0, samples = 0;
                for (let i = 0; i < d.length; i += 4 * 5) {
                    const c = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
                    colours.add(c); samples++; if (c !== 0xffffff) ink++;
                }
                return {width: image.width, height: image.height, colours: colours.size, ink: ink / samples};
            }""", data)
        finally:
            page.close()


# The README's pictures: (file, which report (the example with one finding; the same mid-upgrade; the example after a
# real `beskar images verify`, in test_report_images.py), page of the report, what to show: a selector, or None for
# the whole page, and the most of its height to show)
SCREENSHOTS = (
    ("report-fleet.png", "upgrading", "index.html", "#fleet", None),
    ("report-wiring.png", "example", "sites/prod-brno.html", "svg.wiring", None),
    ("report-deployment.png", "example", "sites/prod-brno.html", "svg.deployment", None),
    ("report-findings.png", "example", "sites/prod-brno.html", "#findings", None),
    ("report-images.png", "verified", "sites/prod-brno.html", "#images", 640),
)


def screenshot(page, selector: str | None, path: Path, most: int | None = None) -> dict:
    """A screenshot of the element (or the whole page) and the size it must have, from the element's box."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if selector is None:
        page.screenshot(path=str(path), full_page=True)
        width, height = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        return {"width": width, "height": height}
    element = page.locator(selector)
    # The whole element in view: a wide picture or table scrolls inside the page, and would be cut off.
    page.set_viewport_size(VIEWPORT)
    width = page.evaluate("""(s) => { const e = document.querySelector(s);
        return Math.ceil(Math.max(...[e, ...e.querySelectorAll('*')].map(
            x => Math.max(x.scrollWidth || 0, x.getBoundingClientRect().width)))); }""", selector)
    page.set_viewport_size({"width": max(VIEWPORT["width"], width + 64), "height": VIEWPORT["height"]})
    box = element.bounding_box()
    if most is not None and box["height"] > most:  # its top part, in page coordinates
        top = page.evaluate("(s) => document.querySelector(s).getBoundingClientRect().top + window.scrollY", selector)
        clip = {"x": box["x"], "y": top, "width": box["width"], "height": most}
        page.screenshot(path=str(path), full_page=True, clip=clip)
        return {"width": box["width"], "height": most}
    element.screenshot(path=str(path))
    expected = {"width": box["width"], "height": box["height"]}
    if selector.startswith("svg"):  # a picture is shown at the size Beskar drew it
        drawn = element.evaluate("svg => [svg.width.baseVal.value, svg.height.baseVal.value]")
        assert abs(drawn[0] - box["width"]) < 1 and abs(drawn[1] - box["height"]) < 1, (drawn, box)
    return expected


def take_screenshots(reports: Mapping[str, Path], into: Path, browser: Browser) -> dict[str, tuple[Path, dict]]:
    """The README pictures of the reports given (by the names SCREENSHOTS use), into `into`; with the size each must
    have."""
    taken = {}
    pages = {}
    for name, report, relative, selector, most in SCREENSHOTS:
        if report not in reports:
            continue
        if (report, relative) not in pages:
            pages[report, relative] = browser.visit((reports[report] / relative).as_uri())[0]
        taken[name] = (into / name, screenshot(pages[report, relative], selector, into / name, most))
    for page in pages.values():
        page.close()
    return taken


def check_screenshot(browser: Browser, path: Path, expected: dict, docs: Path) -> None:
    """The picture has the element's size and is not blank; BESKAR_UPDATE_SCREENSHOTS=1 copies it into `docs`."""
    width, height = png_size(path)
    assert abs(width - expected["width"]) <= 2 and abs(height - expected["height"]) <= 2, (width, height, expected)
    assert expected["width"] >= 300 and expected["height"] >= 150
    look = browser.look(path)
    assert (look["width"], look["height"]) == png_size(path)
    assert look["colours"] > 8 and 0.02 < look["ink"] < 0.98, look  # something drawn, not a solid colour
    if os.environ.get("BESKAR_UPDATE_SCREENSHOTS"):  # the README's pictures: docs/report-*.png
        docs.mkdir(exist_ok=True)
        shutil.copyfile(path, docs / path.name)


if __name__ == "__main__":  # python tests/browser.py REPORT_DIR OUT_DIR: the README's screenshots of one report
    import tempfile

    with tempfile.TemporaryDirectory() as scratch, chromium(Path(scratch) / "profile") as driver:
        every = {report: Path(sys.argv[1]) for _, report, _, _, _ in SCREENSHOTS}
        for name, (path, _) in take_screenshots(every, Path(sys.argv[2]), driver).items():
            print(path)
