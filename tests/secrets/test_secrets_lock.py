"""The secrets commands that write fleet files (sync, rotate, recipients, keygen, edit) take the writers' lock as
render does: a second one waits, then names the first and exits 2 with nothing changed; two at once lose nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from beskar.cli.app import app
from beskar.fleet.examples import write_example
from beskar.operations import secrets as operations
from beskar.secrets import age
from lock_holder import lock_held_elsewhere
from secrets_helpers import OPERATOR_KEY

SITE = "prod-brno"
SECRETS = f"sites/{SITE}/secrets.sops.yaml"


@pytest.fixture
def synced(tmp_path: Path) -> Path:
    root = tmp_path / "fleet"
    write_example(root)
    operations.sync(root, SITE, lambda: [])
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).as_posix().startswith(".beskar/")}


@pytest.fixture
def held(synced: Path):
    """Another process holding the fleet's writers' lock until the test is done with it."""
    with lock_held_elsewhere(synced) as pid:
        yield synced, pid


@pytest.mark.parametrize("command", [
    ["secrets", "sync", SITE],
    ["secrets", "rotate", SITE, "--all"],
    ["secrets", "recipients", SITE, "add", age.generate()[1]],
    ["secrets", "recipients", SITE, "remove", "age1qkfylmzpduxqjhvzqw7f8hgn588epxqcufzyf5s42twxuptdvd8qln24tz"],
    ["secrets", "edit", SITE],
    ["secrets", "keygen", SITE, "--out", "-"],
], ids=lambda command: " ".join(command[1:3]))
def test_a_writer_of_secrets_waits_then_names_the_other_and_changes_nothing(held, command, monkeypatch):
    root, holder = held
    monkeypatch.setenv("BESKAR_LOCK_WAIT", "0.2")
    monkeypatch.setenv("EDITOR", "false")  # never reached: the lock is taken first
    before = _files(root)
    result = CliRunner().invoke(app, [*command, "-C", str(root), "--identity", str(OPERATOR_KEY)]
                                if command[1] != "keygen" else [*command, "-C", str(root)])
    assert result.exit_code == 2, result.output
    assert f"another beskar is writing this fleet (pid {holder})" in result.output + result.stderr
    assert _files(root) == before


def test_two_rotations_at_once_both_persist(synced: Path):
    """Without the lock each would re-encrypt the file it read, and the later write would drop the other's key."""
    identities = age.parse_identities(OPERATOR_KEY.read_text(), str(OPERATOR_KEY))
    original = yaml.safe_load((synced / SECRETS).read_text())["stringData"]
    keys = sorted(k for k in original if k.endswith(".password"))[:2]
    for round_ in range(5):
        before = yaml.safe_load((synced / SECRETS).read_text())["stringData"]
        children = []
        for key in keys:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                code = 0
                try:
                    operations.rotate(synced, SITE, [key], lambda: identities)
                except BaseException:
                    code = 3
                os._exit(code)
            children.append(pid)
        assert all(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 for pid in children), round_
        after = yaml.safe_load((synced / SECRETS).read_text())["stringData"]
        assert all(after[key] != before[key] for key in keys), (round_, "a rotation was lost")
