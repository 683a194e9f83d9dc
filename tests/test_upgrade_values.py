"""Preflight of `beskar upgrade plan`: values keys a site sets that the chart drops at the openstack-helm ref the
target release needs (catalog/data/chart_changes.yaml, derived from the real charts), with file:line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from beskar.catalog.upgrades import RemovedKey, removed_values_keys
from beskar.operations import upgrade as upgrading
from beskar.plan.upgrades import SitePlan, ValuesFinding, removed_keys_set, with_findings

from build_sources import BUNDLE, need_reference
from test_upgrade_walk import snapshot

TOOL = Path(__file__).resolve().parents[1] / "tools" / "derive_chart_changes.py"
DATA = Path(__file__).resolve().parents[1] / "src" / "beskar" / "catalog" / "data" / "chart_changes.yaml"


def test_the_catalog_file_is_what_the_real_charts_give():
    if not BUNDLE.is_file():
        need_reference()
    spec = importlib.util.spec_from_file_location("derive_chart_changes", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.derive(BUNDLE) == DATA.read_text(encoding="utf-8")


def test_removed_keys_between_refs_name_renames_beside_them():
    removed = removed_values_keys("2025.1.0", "2026.1.0")
    assert RemovedKey(("helm3_hook",), ("extraObjects",)) in removed["keystone"]
    wsgi = next(k for k in removed["barbican"] if k.path[-1] == "wsgi-file")
    assert wsgi.path == ("conf", "barbican_api_uwsgi", "uwsgi", "wsgi-file") and "module" in wsgi.beside
    assert ("conf", "wsgi_script_name") in {k.path for k in removed_values_keys("2025.2.0", "2026.1.0")["keystone"]}
    assert removed_values_keys("2026.1.0", "2026.1.0") == {}
    assert removed_values_keys("2026.1.0", "2025.1.0") is None  # not a pair the catalog derived


def test_only_keys_the_values_set_are_found():
    removed = (RemovedKey(("conf", "paste", "pipeline:glance-api"), ()), RemovedKey(("helm3_hook",), ()),
               RemovedKey(("pod", "sidecars"), ()))
    values = {"conf": {"paste": {"pipeline:glance-api": {"pipeline": "x"}}}, "pod": {"replicas": {"api": 2}}}
    assert removed_keys_set(values, removed) == [removed[0]]


def test_the_sites_own_keys_refuse_and_beskars_own_are_listed():
    plan = SitePlan("s", "2024.1", "2025.1", "ubuntu_jammy", None, (), (), ())
    own = ValuesFinding("keystone", ("helm3_hook",), "values", "sites/s/site.yaml", 7, "2025.1.0", "2026.1.0",
                        ("extraObjects",))
    beskars = ValuesFinding("nova", ("pod", "sidecars"), "beskar", "apps/s/03-openstack/13-nova.yaml", 40,
                            "2025.1.0", "2026.1.0")
    found = with_findings(plan, [beskars, own])
    assert found.findings == (beskars, own)
    assert found.refusals == ("sites/s/site.yaml:7: keystone values key helm3_hook (set by the site's values) is in "
                              "the chart at openstack-helm 2025.1.0, not at 2026.1.0; 2026.1.0 has beside it: "
                              "extraObjects (move the setting to what 2026.1.0 has, or drop it)",)


def at_2024_1_with_old_keys(root: Path) -> None:
    """The demo fleet at 2024.1 (charts at openstack-helm 2025.1.0), its prod-brno setting keys 2026.1.0 lacks."""
    fleet_file = root / "beskar.yaml"
    fleet_file.write_text(fleet_file.read_text().replace('release: "2025.1"', 'release: "2024.1"')
                          .replace("distro: ubuntu_noble", "distro: ubuntu_jammy"))
    site = root / "sites/prod-brno/site.yaml"
    site.write_text(site.read_text().replace("openstack:\n", (
        "openstack:\n"
        "  keystone:\n"
        "    values:\n"
        "      helm3_hook: false\n"
        "  glance:\n"
        "    conf:\n"
        "      paste:\n"
        "        \"pipeline:glance-api\": {pipeline: versionnegotiation unauthenticated-context rootapp}\n"), 1))


def line_of(root: Path, relative: str, text: str) -> int:
    return next(n for n, line in enumerate((root / relative).read_text().splitlines(), 1) if text in line)


def test_plan_lists_the_keys_with_file_line_and_start_refuses(demo_fleet, run_beskar):
    at_2024_1_with_old_keys(demo_fleet)
    assert run_beskar("render", cwd=demo_fleet).returncode == 0
    before = snapshot(demo_fleet)
    planned = run_beskar("upgrade", "plan", "--to", "2025.1", "--format", "json", cwd=demo_fleet)
    assert planned.returncode == 1, planned.stderr
    brno, ostrava = json.loads(planned.stdout)["sites"]
    site_file = "sites/prod-brno/site.yaml"
    assert [(f["chart"], f["key"], f["set_by"], f["file"], f["line"], f["blocking"]) for f in brno["findings"]] == [
        ("keystone", ["helm3_hook"], "values", site_file, line_of(demo_fleet, site_file, "helm3_hook"), True),
        ("glance", ["conf", "paste", "pipeline:glance-api"], "conf", site_file,
         line_of(demo_fleet, site_file, "pipeline:glance-api"), True)]
    assert "composite:glance-api" in brno["findings"][1]["beside"]
    assert {f["from_ref"] for f in brno["findings"]} == {"2025.1.0"} and {f["to_ref"] for f in brno["findings"]} \
        == {"2026.1.0"}
    assert ostrava["findings"] == [] and ostrava["refusals"] == []
    shown = run_beskar("upgrade", "plan", "--to", "2025.1", cwd=demo_fleet)
    assert f"{site_file}:{line_of(demo_fleet, site_file, 'helm3_hook')}: keystone values key helm3_hook" in shown.stdout
    refused = run_beskar("upgrade", "start", "--to", "2025.1", cwd=demo_fleet)
    assert refused.returncode == 2 and "glance values key conf.paste.pipeline:glance-api" in refused.stderr
    assert "Traceback" not in refused.stderr and snapshot(demo_fleet) == before


def test_releases_on_one_chart_ref_have_no_findings(example_fleet):
    plan = upgrading.plan(example_fleet, "2026.1")  # 2025.1 and 2026.1 both use openstack-helm 2026.1.0
    assert all(site.findings == () for site in plan.sites) and not plan.refusals
