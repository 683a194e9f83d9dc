"""What sops would accept but Beskar refuses: a value retyped to bytes, text after ENC[...], a damaged age entry.

Each is also a data case in tests/bad_input (secrets-*), run through render, check and show.
"""
from __future__ import annotations

import base64

import pytest

from beskar.secrets import age, sealing, sopsfile
from beskar.secrets.agefile import entry_problem
from beskar.secrets.errors import SopsError


@pytest.fixture(scope="module")
def two_keys():
    """A file sealed to a site key and an operator key, and both identities."""
    (site_secret, site), (operator_secret, operator) = age.generate(), age.generate()
    text = sealing.seal([{"stringData": {"a": "b", "n": 3}}], [site, operator], rule=sealing.sops.KUBERNETES_RULE)
    identities = {name: age.parse_identities(secret, name)
                  for name, secret in (("site", site_secret), ("operator", operator_secret))}
    return text, site, operator, identities


def _payload_flipped(armored: str) -> str:
    """The same armored age file with the last byte of its payload changed: well-formed, but it no longer opens."""
    lines = armored.strip().split("\n")
    data = bytearray(base64.b64decode("".join(lines[1:-1])))
    data[-1] ^= 1
    encoded = base64.b64encode(bytes(data)).decode()
    return "\n".join([lines[0], *(encoded[i:i + 64] for i in range(0, len(encoded), 64)), lines[-1]]) + "\n"


def test_a_well_formed_entry_has_no_problem(two_keys):
    text, site, operator, _ = two_keys
    for key in sopsfile.read(text, "s.sops.yaml").metadata.age:
        assert entry_problem(key.recipient, key.enc) is None


@pytest.mark.parametrize("damage, reason", [
    (lambda enc: enc.replace("-----BEGIN AGE ENCRYPTED FILE-----", "-----BEGIN AGE FILE-----"), "not an armored"),
    (lambda enc: enc.replace("YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUx", "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFkyNTUx"),
     "0 X25519 stanzas"),
    (lambda enc: enc.replace("YWdlLWVuY3J5cHRpb24ub3JnL3Yx", "YWdlLWVuY3J5cHRpb24ub3JnL3Yy"), "age-encryption.org/v1"),
    (lambda enc: "\n".join(enc.split("\n")[:-3] + enc.split("\n")[-2:]), "damaged"),
])
def test_a_damaged_entry_is_named_without_a_key(two_keys, damage, reason):
    text, site, _, _ = two_keys
    key = sopsfile.read(text, "s.sops.yaml").metadata.age[0]
    assert key.recipient == site
    problem = entry_problem(site, damage(key.enc))
    assert problem and reason in problem and site in problem, problem


def test_an_entry_of_a_held_key_that_does_not_open_is_refused(two_keys):
    """sops stops at the first entry that opens; an entry of a key we hold must open too (the site's Flux has
    only that key). Damage a format check cannot see (the payload) is found by whoever holds the key."""
    text, site, operator, identities = two_keys
    source = sopsfile.read(text, "s.sops.yaml")
    site_entry = next(k for k in source.metadata.age if k.recipient == site)
    damaged_text = text.replace(site_entry.enc.strip().split("\n")[-2], _payload_flipped(site_entry.enc).strip().split("\n")[-2])
    assert damaged_text != text
    damaged = sopsfile.read(damaged_text, "s.sops.yaml")  # well-formed: no key tells it apart
    assert sealing.open_file(damaged, identities["operator"]).documents[0]["stringData"] == {"a": "b", "n": 3}
    with pytest.raises(SopsError, match=f"the entry for {site} does not open with its identity"):
        sealing.open_file(damaged, identities["operator"] + identities["site"])
    assert sealing.open_file(source, identities["operator"] + identities["site"]).documents[0]["stringData"]["a"] == "b"


@pytest.mark.parametrize("retyped, message", [
    ("type:bytes]", "type:bytes is not a type sops writes"),
    ("type:str]junk", "there is text after it"),
    ("type:str]]", "there is text after it"),
    ("type:comment]", "type:comment is not a type sops writes"),
])
def test_a_retyped_or_extended_value_is_refused_without_a_key(two_keys, retyped, message):
    text, *_ = two_keys
    with pytest.raises(SopsError, match=message.replace("[", r"\[")) as raised:
        sopsfile.read(text.replace("type:str]", retyped, 1), "s.sops.yaml")
    assert raised.value.where == "stringData.a" and raised.value.line is not None
