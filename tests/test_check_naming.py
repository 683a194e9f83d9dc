"""The flavor naming convention: what `c2.16core-30ram-100edisk` promises, default and configured."""
from __future__ import annotations

import pytest

from beskar.check import settings
from beskar.check.naming import FlavorName, flavor_name_problems, parse_flavor_name
from beskar.check.settings import CheckSettings


@pytest.mark.parametrize("name, shape", [
    ("c2.16core-30ram", FlavorName("c2", 16, 30720, 0)),
    ("c3.8core-120ram-500edisk", FlavorName("c3", 8, 122880, 500)),
    ("e1.1core-2ram", FlavorName("e1", 1, 2048, 0)),
    ("c2.16core-30ram-pin", None),
    ("C2.16core-30ram", None),
    ("c2.16cores-30ram", None),
])
def test_default_convention(name, shape):
    assert parse_flavor_name(name) == shape


def test_name_must_agree_with_the_flavor():
    assert flavor_name_problems("c2.16core-30ram", 16, 30720) == []
    assert flavor_name_problems("c2.16core-30ram", 8, 30720) == ["flavor 'c2.16core-30ram' says 16 vCPUs but has 8"]
    assert flavor_name_problems("c3.8core-120ram-500edisk", 8, 122880, 100) == [
        "flavor 'c3.8core-120ram-500edisk' says 500 GiB ephemeral disk but has 100"]
    assert "does not follow" in flavor_name_problems("m1.large", 4, 8192)[0]


def test_the_fleet_can_configure_its_convention():
    custom = CheckSettings(flavor_name_pattern=r"(?P<family>[a-z]+)-(?P<vcpus>\d+)c(?P<ram>\d+)g")
    token = settings.activate(custom)
    try:
        assert parse_flavor_name("gpu-8c64g") == FlavorName("gpu", 8, 65536, 0)
        assert parse_flavor_name("c2.16core-30ram") is None
    finally:
        settings.deactivate(token)
