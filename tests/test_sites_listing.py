"""`beskar sites` reads only what it prints: the same rows as the typed, rendered fleet, without typing or rendering."""

from __future__ import annotations

import json

from beskar.model.openstack import OpenStack
from beskar.model.site import Monitoring, Site
from beskar.operations import compilation, listing


def _typed_rows(root) -> list[dict]:
    compiled = compilation.compile_fleet(root)
    return [{"site": name, "profile": site.profile, "release": site.openstack.release, "region": site.region,
             "domain": site.domain, "nodes": len(site.nodes), "helm_releases": len(compiled.rendered[name].components)}
            for name, site in compiled.sites.items()]


def _listed_rows(root) -> list[dict]:
    return [{"site": s.name, "profile": s.profile, "release": s.release, "region": s.region, "domain": s.domain,
             "nodes": s.nodes, "helm_releases": s.helm_releases} for s in listing.list_sites(root)]


def test_the_listing_keeps_the_models_defaults():
    # The listing reads enabled flags and the region without the model: its defaults must be the model's.
    switches = {name: field.default.enabled for name, field in OpenStack.model_fields.items()
                if hasattr(field.default, "enabled")}
    assert switches, "the model's components moved: the listing's defaults need a new source"
    assert {name for name, enabled in switches.items() if not enabled} == listing.OFF_BY_DEFAULT
    assert Site.model_fields["region"].default == listing.DEFAULT_REGION
    assert Monitoring().enabled is True


def test_the_listing_equals_the_typed_rendered_fleet(example_fleet):
    assert _listed_rows(example_fleet) == _typed_rows(example_fleet)
    # Switches set and unset by the layers: optional services on, monitoring and a default-on chart off.
    site = example_fleet / "sites/prod-ostrava/site.yaml"
    site.write_text(site.read_text() + "monitoring:\n  enabled: false\n")
    profile = example_fleet / "profiles/production.yaml"
    text = profile.read_text()
    assert "\nopenstack:\n" in text
    profile.write_text(text.replace("\nopenstack:\n", "\nopenstack:\n  octavia:\n    enabled: true\n"
                                                      "  libvirt:\n    enabled: false\n", 1))
    listed = _listed_rows(example_fleet)
    assert listed == _typed_rows(example_fleet)
    assert [row["helm_releases"] for row in listed] != [20, 19]


def test_a_printed_value_of_the_wrong_kind_is_placed(example_fleet, run_beskar):
    site = example_fleet / "sites/prod-brno/site.yaml"
    lines = site.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith("domain:"))
    lines[number] = "domain: [brno, example]"
    site.write_text("\n".join(lines) + "\n")
    result = run_beskar("sites", "--format", "json", cwd=example_fleet)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["file"] == "sites/prod-brno/site.yaml" and problem["line"] == number + 1
    assert "domain" in problem["message"]
