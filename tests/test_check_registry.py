"""The rule registry: one check, one id; an id registered twice, or spelled like a registered one, is refused."""
from __future__ import annotations

import pytest

import beskar.check  # noqa: F401  (registers the rules: importing it proves no two ids are spelled alike)
from beskar.check.findings import RULES, Scope, Severity, rule


@pytest.mark.parametrize("rule_id, message", [
    ("fleet/public-pool-overlap", "rule fleet/public-pool-overlap registered twice"),
    ("fleet/public-pools-overlap", "spelled like the registered rule fleet/public-pool-overlap"),
    ("Model/Duplicate_Addresses", "spelled like the registered rule model/duplicate-address"),
])
def test_a_second_registration_of_a_check_is_refused(rule_id, message):
    before = dict(RULES)
    with pytest.raises(ValueError, match=message):
        rule(rule_id, Severity.ERROR, Scope.FLEET, "the same check again")(lambda sites: [])
    assert RULES == before
    assert RULES["fleet/public-pool-overlap"].run.__module__ == "beskar.check.rules_model_addresses"
