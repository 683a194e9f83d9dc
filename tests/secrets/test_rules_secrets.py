"""The secrets check rules, run on the example fleet without any private key."""

from __future__ import annotations

import pytest

from beskar.check import rules_secrets
from beskar.check.findings import RULES, Severity
from beskar.fleet.examples import write_example
from beskar.fleet.repository import secrets_path
from beskar.secrets.sopsfile import read_site_file
from beskar.operations.compilation import compile_fleet
from beskar.operations import secrets as operations
from secrets_helpers import new_identity, operator

SITE = "prod-brno"
RULES_BY_FUNCTION = {rule.run: rule for rule in RULES.values()}


@pytest.fixture
def fleet(tmp_path):
    root = tmp_path / "fleet"
    write_example(root)
    operations.sync(root, SITE, lambda: [])
    return root


def findings(root, rule, site=SITE):
    compiled = compile_fleet(root)
    layered = compiled.fleet.sites[site]
    offered = {"site": compiled.sites[site], "layered": layered, "rendered": compiled.rendered[site],
               "secrets": read_site_file(layered.secrets_file, secrets_path(site))}
    return list(rule(**{name: offered[name] for name in RULES_BY_FUNCTION[rule].parameters}))


def test_a_synced_site_passes_and_only_warns_about_demo_keys(fleet):
    assert findings(fleet, rules_secrets.secrets_file) == []
    assert findings(fleet, rules_secrets.secrets_recipients) == []
    warnings = findings(fleet, rules_secrets.demo_recipient)
    assert {f.severity for f in warnings} == {Severity.WARNING} and len(warnings) == 2
    assert {f.file for f in warnings} == {"beskar.yaml", f"sites/{SITE}/site.yaml"}
    assert RULES["model/secrets-file"].severity is Severity.ERROR


def test_a_missing_file_and_missing_keys_are_errors_with_their_place(fleet):
    (missing,) = findings(fleet, rules_secrets.secrets_file, "prod-ostrava")
    assert "does not exist" in missing.message and "beskar secrets sync prod-ostrava" in missing.hint
    site_file = fleet / f"sites/{SITE}/site.yaml"
    site_file.write_text(site_file.read_text().replace("  designate: {enabled: true, replicas: 2}",
                                                       "  designate: {enabled: true, replicas: 2}\n  octavia: {enabled: true}"))
    found = findings(fleet, rules_secrets.secrets_file)
    assert found and all(f.message.startswith("key octavia.") and f.file == f"sites/{SITE}/secrets.sops.yaml"
                         for f in found)
    text = (fleet / f"sites/{SITE}/secrets.sops.yaml").read_text()
    assert found[0].line == text.splitlines().index("stringData:") + 1


def test_a_file_encrypted_to_a_foreign_recipient_or_missing_one_is_an_error(fleet, tmp_path):
    _, stranger = new_identity(tmp_path, "stranger")
    operations.add_recipient(fleet, SITE, stranger, operator())
    site_file = fleet / f"sites/{SITE}/site.yaml"
    site_file.write_text("\n".join(l for l in site_file.read_text().splitlines() if stranger not in l) + "\n")
    (foreign,) = findings(fleet, rules_secrets.secrets_recipients)
    assert stranger in foreign.message and "neither" in foreign.message and "remove" in foreign.hint
    _, newcomer = new_identity(tmp_path, "newcomer")
    site_file.write_text(site_file.read_text().replace("  recipients:\n", f"  recipients:\n    - {newcomer}\n"))
    messages = [f.message for f in findings(fleet, rules_secrets.secrets_recipients)]
    assert any(f"not encrypted to {newcomer}" in m for m in messages)


def test_a_site_recipient_shared_by_two_sites_is_a_fleet_error(fleet):
    brno = fleet / f"sites/{SITE}/site.yaml"
    ostrava = fleet / "sites/prod-ostrava/site.yaml"
    brno_key = next(l.strip()[2:] for l in brno.read_text().splitlines() if l.strip().startswith("- age1"))
    ostrava.write_text(ostrava.read_text().replace("    - age1qlh9980", f"    - {brno_key}\n    - age1qlh9980"))
    compiled = compile_fleet(fleet)
    found = list(rules_secrets.shared_recipient([(compiled.sites[n], compiled.fleet.sites[n]) for n in compiled.sites]))
    assert {f.site for f in found} == {SITE, "prod-ostrava"}
    assert all(f.file == f"sites/{f.site}/site.yaml" and f.line for f in found)


def test_a_site_without_its_own_recipient_is_an_error(fleet):
    site_file = fleet / "sites/prod-ostrava/site.yaml"
    site_file.write_text("\n".join(l for l in site_file.read_text().splitlines() if "- age1" not in l) + "\n")
    (found,) = findings(fleet, rules_secrets.secrets_recipients, "prod-ostrava")
    assert "no age recipient of its own" in found.message and "keygen" in found.hint
