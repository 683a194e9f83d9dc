""".sops.yaml's rules come from each site's secrets settings alone, typed as the whole site types them."""

from __future__ import annotations

from pathlib import Path

import pytest

from beskar.catalog import catalog
from beskar.fleet import load_fleet
from beskar.fleet.examples import write_example
from beskar.model import type_secrets, type_site
from beskar.operations.sitesecrets import all_recipients
from beskar.problems import InputError


def test_the_secrets_settings_alone_type_as_in_the_whole_site(tmp_path: Path):
    write_example(tmp_path)
    fleet = load_fleet(tmp_path)
    for layered in fleet.sites.values():
        assert type_secrets(layered) == type_site(layered, catalog()).secrets
    typed = {name: type_site(layered, catalog()).secrets for name, layered in fleet.sites.items()}
    recipients = all_recipients(tmp_path)  # the C-loader path, layering only `secrets:`
    assert recipients == {name: list(dict.fromkeys([*s.recipients, *s.operators])) for name, s in typed.items()}
    assert all(recipients.values())


def test_a_bad_recipient_is_placed_at_its_line(tmp_path: Path):
    write_example(tmp_path)
    site = tmp_path / "sites" / "prod-brno" / "site.yaml"
    lines = site.read_text().splitlines(keepends=True)
    line = lines.index("  recipients:\n") + 2
    lines.insert(line - 1, "    - age1notarecipient\n")
    site.write_text("".join(lines))
    with pytest.raises(InputError) as raised:
        all_recipients(tmp_path)
    [problem] = raised.value.problems
    assert problem.origin.file == "sites/prod-brno/site.yaml" and problem.origin.line == line
    assert "secrets.recipients" in problem.message and "not an age recipient" in problem.message
