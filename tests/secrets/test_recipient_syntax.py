"""The model's recipient check (pure syntax, no crypto library) accepts exactly what age (pyrage) accepts."""

from __future__ import annotations

import random
import shutil
import subprocess

import pyrage
import pytest

from beskar.model.secrets import recipient_problem

BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def pyrage_accepts(text: str) -> bool:
    kind = pyrage.ssh.Recipient if text.startswith("ssh-") else pyrage.x25519.Recipient
    try:
        kind.from_str(text)
    except Exception:  # pyrage's own RecipientError subclasses
        return False
    return True


def agree(cases: list[str]) -> list[str]:
    return [case for case in cases if (recipient_problem(case) is None) != pyrage_accepts(case)]


def test_age_recipients_and_their_typos_are_judged_as_age_judges_them():
    chance = random.Random(9)
    cases = []
    for _ in range(200):
        recipient = str(pyrage.x25519.Identity.generate().to_public())
        at = chance.randrange(5, len(recipient))
        cases += [recipient, recipient[:at] + chance.choice(BECH32) + recipient[at + 1:]]
    assert agree(cases) == []
    assert sum(recipient_problem(case) is None for case in cases) >= 200  # the real ones pass
    assert "bad checksum" in recipient_problem(cases[0][:-1] + ("q" if cases[0][-1] != "q" else "p"))


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen (openssh-client)")
@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_ssh_recipients_and_damaged_ones_are_judged_as_age_judges_them(tmp_path, kind):
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(tmp_path / "key")], check=True)
    name, body = (tmp_path / "key.pub").read_text().split()[:2]
    chance = random.Random(kind)
    cases = [f"{name} {body}", f"{name} {body[:-8]}", f"{'ssh-rsa' if kind == 'ed25519' else 'ssh-ed25519'} {body}"]
    for _ in range(80):
        at = chance.randrange(len(body) - 2)
        cases.append(f"{name} {body[:at]}{chance.choice('ABCab01+/')}{body[at + 1:]}")
    assert agree(cases) == []
    assert recipient_problem(cases[0]) is None
