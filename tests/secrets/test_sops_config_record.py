""".sops.yaml stays exactly right while one site's secrets commands read only what changed: each file's `secrets:`
and each site's layered value are recorded in .beskar/ under the digests of the bytes they came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from beskar.catalog import catalog
from beskar.fleet import load_fleet, repository
from beskar.fleet.examples import write_example
from beskar.model import type_site
from beskar.operations import secrets as operations
from beskar.operations.sitesecrets import all_recipients
from beskar.secrets import age, sopsconfig
from secrets_helpers import OPERATOR_KEY


def truth(root: Path) -> dict[str, list[str]]:
    """Every site typed in full, the slow way: what .sops.yaml must say."""
    typed = {name: type_site(layered, catalog()).secrets for name, layered in load_fleet(root).sites.items()}
    return {name: list(dict.fromkeys([*s.recipients, *s.operators])) for name, s in typed.items()}


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch):
    root = tmp_path / "fleet"
    write_example(root)
    operations.sync(root, "prod-brno", lambda: [])  # a writer: .beskar/ and the records exist from here on
    assert (root / ".beskar" / "section-secrets.json").is_file()
    parsed: list[int] = []
    real = repository._top_level_keys

    def counting(yaml, text, wanted):
        parsed.append(1)
        return real(yaml, text, wanted)

    monkeypatch.setattr(repository, "_top_level_keys", counting)
    return root, parsed


def _add_recipient(path: Path, anchor: str) -> str:
    """A new recipient as the first item of the list under `anchor` (its items' indentation)."""
    recipient = age.generate()[1]
    text = path.read_text()
    assert text.count(anchor) == 1
    head, tail = text.split(anchor)
    indent = tail[:len(tail) - len(tail.lstrip())]
    path.write_text(f"{head}{anchor}{indent}- {recipient}\n{tail}")
    return recipient


def test_an_unchanged_fleet_is_not_parsed_again(fleet):
    root, parsed = fleet
    assert all_recipients(root) == truth(root)
    assert parsed == []


@pytest.mark.parametrize("file, anchor, reaches", [
    ("sites/prod-ostrava/site.yaml", "  recipients:\n", {"prod-ostrava"}),
    ("beskar.yaml", "    operators:\n", {"prod-brno", "prod-ostrava"}),
])
def test_a_change_in_any_layer_reaches_sops_yaml_and_only_that_file_is_parsed(fleet, file, anchor, reaches):
    root, parsed = fleet
    before = all_recipients(root)
    added = _add_recipient(root / file, anchor)
    after = all_recipients(root)
    assert after == truth(root)
    assert {site for site in after if added in after[site] and added not in before[site]} == reaches
    assert len(parsed) == 1  # the changed file alone
    operator = age.parse_identities(OPERATOR_KEY.read_text(), str(OPERATOR_KEY))
    operations.sync(root, "prod-brno", lambda: operator)  # one site's command writes all of .sops.yaml
    assert (root / ".sops.yaml").read_bytes() == sopsconfig.sops_config(truth(root))


def test_a_profile_gaining_secrets_reaches_its_sites(fleet):
    root, _ = fleet
    profile = root / "profiles" / "production.yaml"
    recipient = age.generate()[1]
    profile.write_text(profile.read_text() + f"secrets:\n  operators: [{recipient}]\n")
    assert all_recipients(root) == truth(root)
    assert any(recipient in recipients for recipients in all_recipients(root).values())


@pytest.mark.parametrize("damage", [b"{not json", b'{"version": 1, "entries": []}', b"\xff\xfe"])
def test_a_damaged_record_is_an_empty_one(fleet, damage):
    root, parsed = fleet
    for record in (root / ".beskar").glob("*.json"):
        record.write_bytes(damage)
    assert all_recipients(root) == truth(root)
    assert parsed  # read the full way again
    parsed.clear()
    assert all_recipients(root) == truth(root) and parsed == []  # and recorded again
