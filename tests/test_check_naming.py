"""A fleet's own flavor naming convention (`fleet.checks.flavor_name_pattern`): parsing, and the rule using it."""
from __future__ import annotations

import pytest

from beskar.operations import review
from beskar.check.naming import FlavorName, flavor_name_problems, parse_flavor_name

CUSTOM = r"(?P<family>[a-z]+)-(?P<vcpus>\d+)c(?P<ram>\d+)g(-(?P<disk>\d+)d)?"


@pytest.mark.parametrize("name, shape", [
    ("gpu-8c64g", FlavorName("gpu", 8, 65536, 0)),
    ("std-2c4g-20d", FlavorName("std", 2, 4096, 20)),
    ("c2.16core-30ram", None),
    ("GPU-8c64g", None),
])
def test_a_custom_convention_parses_names(name, shape):
    assert parse_flavor_name(name, CUSTOM) == shape


def test_name_must_agree_with_the_flavor():
    assert flavor_name_problems("gpu-8c64g", 8, 65536, 0, CUSTOM) == []
    assert flavor_name_problems("gpu-8c64g", 4, 65536, 0, CUSTOM) == ["flavor 'gpu-8c64g' says 8 vCPUs but has 4"]
    assert flavor_name_problems("std-2c4g-20d", 2, 4096, 10, CUSTOM) == [
        "flavor 'std-2c4g-20d' says 20 GiB ephemeral disk but has 10"]
    assert "does not follow the fleet's naming convention" in flavor_name_problems("m1.large", 4, 8192, 0, CUSTOM)[0]


def test_the_fleet_convention_drives_the_flavor_name_rule(demo_fleet):
    root = demo_fleet
    fleet_file = root / "beskar.yaml"
    fleet_file.write_text(fleet_file.read_text().replace(
        "fleet:\n", f"fleet:\n  checks:\n    flavor_name_pattern: '{CUSTOM}'\n", 1))
    findings = [f for f in review.check(root).findings if f.rule == "model/flavor-name"]
    # every example flavor follows the field's grammar, not this fleet's convention
    assert findings and all("does not follow the fleet's naming convention" in f.message for f in findings)
    assert {f.file for f in findings} >= {"beskar.yaml"}
