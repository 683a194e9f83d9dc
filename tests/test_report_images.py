"""The report's Images section from a real `beskar images verify`: the example fleet built through the real charts,
its mirror a Debian docker-registry on 127.0.0.1 holding every image but one (the fixtures of test_images.py)."""
from __future__ import annotations

import shutil

import pytest
import yaml

from browser import ARTIFACTS, DOCS, check_screenshot, chromium, require_browser, take_screenshots
from html_tree import parse
from registry_servers import push_images
from test_images import SITE, _flat, beskar, environment, fleet, listed, registries  # noqa: F401 (fixtures)

GONE = "quay.io/airshipit/glance:2025.1-ubuntu_noble"  # the one image the mirror lacks


@pytest.fixture(scope="module")
def verified(environment, fleet, listed, registries, tmp_path_factory):  # noqa: F811
    """The mirror holds every image of the site but GONE; `beskar images verify` has run (exit 1: one missing)."""
    _, mirror = registries
    wanted = sorted({entry["upstream"].partition("@")[0] for entry in listed["images"]})
    assert GONE in wanted
    push_images(tmp_path_factory.mktemp("pushed"), {"{}/{}:{}".format(mirror.host, *_flat(image)): f"content of {image}"
                                                    for image in wanted if image != GONE})
    result = beskar(environment, fleet, "images", "verify", "--site", SITE, "--insecure")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"recorded in sites/{SITE}/images.verified.yaml" in result.stdout
    return wanted


def test_verify_records_each_image_present_or_missing_with_its_digest_and_when(fleet, listed, registries,  # noqa: F811
                                                                              verified):
    _, mirror = registries
    record = yaml.safe_load((fleet / "sites" / SITE / "images.verified.yaml").read_text())
    assert record["mirror"] == f"{mirror.host}/cache"
    images = record["images"]
    assert sorted(images) == sorted(entry["image"] for entry in listed["images"])  # every image the site pulls
    for image, found in images.items():
        assert found["checked"].endswith("Z") and found["releases"], image
        if found["upstream"] == GONE:
            assert found["state"] == "missing" and "digest" not in found
        else:
            assert found["state"] == "present" and found["digest"] == mirror.digest(*_flat(found["upstream"])), image


@pytest.fixture(scope="module")
def verified_report(environment, fleet, verified, tmp_path_factory):  # noqa: F811
    """`beskar report` of the fleet after the verify."""
    output = tmp_path_factory.mktemp("verified") / "public"
    result = beskar(environment, fleet, "report", "--output", str(output))
    assert result.returncode == 0, result.stderr
    return output


def test_the_report_shows_the_mirror_status_verify_recorded(fleet, registries, verified, verified_report):  # noqa: F811
    _, mirror = registries
    page = parse((verified_report / "sites" / f"{SITE}.html").read_text())
    section = page.find("section", id="images")
    rows = {row.attrs["data-image"]: row for row in section.find_all("tr", cls="image")}
    cache = f"{mirror.host}/cache/"
    nova = rows[f"{cache}quay.io__airshipit__nova:2025.1-ubuntu_noble"].find("td", cls="mirror")
    assert "present" in nova.classes and mirror.digest(*_flat("quay.io/airshipit/nova:2025.1-ubuntu_noble")) in nova.text()
    glance = rows[f"{cache}{_flat(GONE)[0].removeprefix('cache/')}:{_flat(GONE)[1]}"].find("td", cls="mirror")
    assert "missing" in glance.classes and glance.text() == "missing"
    recorded = yaml.safe_load((fleet / "sites" / SITE / "images.verified.yaml").read_text())["images"]
    states = {image: row.find("td", cls="mirror").text().split("\n")[0] for image, row in rows.items()}
    assert set(states.values()) == {"present", "missing", "not pulled"}
    # Not pulled: images the values name for parts of a chart the site does not run (a test pod, a disabled job).
    unused = {image for image, state in states.items() if state == "not pulled"}
    assert f"{cache}docker.io__bats__bats:" in unused and not unused & set(recorded)
    assert {image for image, state in states.items() if state != "not pulled"} == set(recorded)
    # The images no value names (a chart's own, as its objects pull them) come from the record, with their releases.
    charts_own = [image for image, row in rows.items() if "the chart's default: no value names it" in row.text()]
    assert charts_own
    for image in charts_own:
        assert rows[image].find("td", cls="users").text() == ", ".join(recorded[image]["releases"])
    note = section.find("p", cls="verified").text()
    assert f"sites/{SITE}/images.verified.yaml" in note and f"{len(verified) - 1} present, 1 missing" in note


def test_a_broken_record_is_bad_input_with_its_line(environment, fleet, tmp_path):  # noqa: F811
    root = tmp_path / "fleet"
    shutil.copytree(fleet, root)
    path = root / "sites" / SITE / "images.verified.yaml"
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if "state: present" in line)
    lines[number] = lines[number].replace("present", "maybe")
    path.write_text("\n".join(lines) + "\n")
    result = beskar(environment, root, "report", "--output", str(tmp_path / "public"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"sites/{SITE}/images.verified.yaml:{number}" in result.stderr and "'maybe'" in result.stderr
    assert not (tmp_path / "public").exists()


def test_the_images_screenshot_shows_the_verified_mirror(verified_report, tmp_path):
    """The README's picture of the Images section, taken from this report (where the status is real)."""
    require_browser()
    with chromium(tmp_path / "profile") as browser:
        taken = take_screenshots({"verified": verified_report}, ARTIFACTS / "report", browser)
        assert sorted(taken) == ["report-images.png"]
        path, expected = taken["report-images.png"]
        check_screenshot(browser, path, expected, DOCS)
