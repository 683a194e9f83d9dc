"""The SOPS format byte for byte: known answers, files written by the real sops, round trips, YAML typing."""

from __future__ import annotations

import base64
import hashlib
import math
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beskar.secrets import cipher, sealing, sops
from beskar.secrets.errors import SopsError
from beskar.secrets.yamlio import load_yaml, resolve_plain
from secrets_helpers import FIXTURES, new_identity, open_text

DATA_KEY = bytes(range(32))
LASTMODIFIED = "2024-01-02T03:04:05Z"
KAT_DOCUMENT = {
    "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "kat"},
    "stringData": {"password": "hunter2", "port": 5432, "ratio": 1.5, "enabled": True,
                   "hosts": ["a", "b"], "nested": {"deep": "x"}, "empty": "", "nothing": None},
}
# Computed once from the format description with nothing but `cryptography` (see test_known_answers_derive):
# AES-256-GCM, key 00..1f, IV i repeated 32 times for the i-th encrypted value, AD = keys joined by ':' + ':'.
KAT_VALUES = {
    "password": "ENC[AES256_GCM,data:0dHHk7zYWw==,iv:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,"
                "tag:x04rUNgthp/vAZ49MNd9SA==,type:str]",
    "port": "ENC[AES256_GCM,data:Wk/Kdw==,iv:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,"
            "tag:v8O8wt6gYq0Cnd+wxbi9ew==,type:int]",
    "ratio": "ENC[AES256_GCM,data:W1p2,iv:AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=,"
             "tag:l/DWTpOipjs9O8ppS+RidQ==,type:float]",
    "enabled": "ENC[AES256_GCM,data:On4aDA==,iv:BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=,"
               "tag:EG3GHciTydS1Vp3s/5PKAw==,type:bool]",
    "hosts": ["ENC[AES256_GCM,data:kQ==,iv:BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=,"
              "tag:EnCjMjQ2z75egWE56o9ZcA==,type:str]",
              "ENC[AES256_GCM,data:2g==,iv:BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY=,"
              "tag:sZBBeSCli34mXaUFDMQGuA==,type:str]"],
    "nested": {"deep": "ENC[AES256_GCM,data:QQ==,iv:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=,"
                       "tag:j866gtvIPznKzg37f1fHRQ==,type:str]"},
    "empty": "",
    "nothing": None,
}
KAT_MAC_PLAIN = ("5071620FBFE370678EF09D9178814E6C469BAAA00C801653DB8611E8B5D31D68"
                 "31F669B270BA445D7EEFBC52608E4A97ADC933EE0A3B7315967E8C0CB1146A19")
KAT_MAC = ("ENC[AES256_GCM,data:o5nS9d734ZYUfg5OvGcNpY/FPkT2MdafqfePV2zT57S77iGg/g1GOP5Y0FCATKTDtas3fHQI3byKO530Nsjjo"
           "pGfDWGjrNHNLqX8oStenUs2yd37m+PBkmcxcYndNdqEUfURartxqhT0AL2/usiZz6abElmQzlrs7nwa/duPeqY=,"
           "iv:CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=,tag:WH3Fr7cOVIk4tnENiEPn2Q==,type:str]")


def fixed_ivs():
    counter = iter(range(1, 256))
    return lambda: bytes([next(counter)]) * 32


def test_known_answers_from_fixed_key_ivs_and_lastmodified():
    encrypted = cipher.encrypt_documents([KAT_DOCUMENT], DATA_KEY, (), sops.KUBERNETES_RULE, LASTMODIFIED,
                                       new_iv=fixed_ivs())
    (document,) = encrypted.documents
    assert document["stringData"] == KAT_VALUES
    assert document["metadata"] == {"name": "kat"} and document["apiVersion"] == "v1"  # clear text stays
    assert encrypted.metadata.mac == KAT_MAC
    assert encrypted.metadata.lastmodified == LASTMODIFIED
    decrypted = cipher.decrypt_documents([document], encrypted.metadata, DATA_KEY)
    assert decrypted.mac == KAT_MAC_PLAIN
    assert decrypted.documents == [KAT_DOCUMENT]


def test_known_answers_derive_from_the_description_alone():
    """The literals above follow from the format description: MAC over every value's bytes in document
    order (clear ones too, ints as decimal, floats Go-style, bools Title-case), upper-case hex, encrypted
    with lastmodified as additional data."""
    digest = hashlib.sha512(b"v1" + b"Secret" + b"kat" + b"hunter2" + b"5432" + b"1.5" + b"True" + b"a" + b"b" + b"x")
    assert digest.hexdigest().upper() == KAT_MAC_PLAIN
    mac = sops.parse_value(KAT_MAC, "sops.mac")
    assert len(mac.iv) == 32 and mac.kind == "str"
    opened = AESGCM(DATA_KEY).decrypt(mac.iv, mac.data + mac.tag, LASTMODIFIED.encode())
    assert opened.decode() == KAT_MAC_PLAIN
    deep = sops.parse_value(KAT_VALUES["nested"]["deep"], "x")
    assert AESGCM(DATA_KEY).decrypt(deep.iv, deep.data + deep.tag, b"stringData:nested:deep:") == b"x"
    assert base64.b64encode(deep.iv).decode() == "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="


@pytest.mark.parametrize("fixture,key", [("flux-age-sops-3.9.0.yaml", "flux-age.agekey"),
                                         ("flux-global-sops-3.10.2.yaml", "flux-global.agekey")])
def test_files_written_by_the_real_sops_decrypt_with_their_mac_verified(fixture, key):
    documents = open_text((FIXTURES / fixture).read_text(), FIXTURES / key, fixture)
    expected = "value" if "3.9.0" in fixture else "global-value"
    assert documents[0]["stringData"] == {"key": expected}
    assert documents[0]["kind"] == "Secret"


def test_a_real_sops_file_with_a_changed_clear_field_fails_its_mac():
    text = (FIXTURES / "flux-global-sops-3.10.2.yaml").read_text().replace("name: global-age-secret", "name: other")
    with pytest.raises(SopsError) as raised:
        open_text(text, FIXTURES / "flux-global.agekey")
    assert raised.value.where == "sops.mac" and "MAC mismatch" in raised.value.message


SCALARS = st.one_of(
    st.text(max_size=30), st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1), st.booleans(), st.none(),
    st.floats(allow_nan=False, allow_infinity=True),
)
KEYS = st.text(min_size=1, max_size=12).filter(lambda k: k != "sops")
TREES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                     max_leaves=25)
DOCUMENTS = st.dictionaries(KEYS, TREES, max_size=6)
RULES = st.sampled_from([sops.Rule(), sops.KUBERNETES_RULE, sops.Rule("encrypted_suffix", "_secret"),
                         sops.Rule("unencrypted_regex", "^plain")])


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    return new_identity(tmp_path_factory.mktemp("keys"), "roundtrip")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=DOCUMENTS, rule=RULES, fmt=st.sampled_from(["yaml", "json"]))
def test_round_trip_keeps_every_value_and_type(identity, document, rule, fmt):
    key_file, recipient = identity
    text = sealing.seal([document], [recipient], fmt, rule=rule)
    name = "doc.sops.json" if fmt == "json" else "doc.sops.yaml"
    (back,) = open_text(text, key_file, name)
    assert _typed(back) == _typed(document)


def _typed(value):
    """Values with their exact type (True is not 1, 1.0 is not 1)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def test_multi_document_yaml_shares_one_mac_and_each_document_carries_the_metadata(identity):
    key_file, recipient = identity
    text = sealing.seal([{"a": "1"}, {"b": 2}], [recipient])
    assert text.count("\nsops:\n") == 2 and "---\n" in text
    assert open_text(text, key_file) == [{"a": "1"}, {"b": 2}]


@pytest.mark.parametrize("text,expected", [
    ("true", True), ("False", False), ("yes", "yes"), ("on", "on"), ("~", None), ("null", None),
    ("0x1F", 31), ("0o17", 15), ("017", 15), ("0b101", 5), ("1_000", 1000), ("08", 8.0), ("+5", 5),
    ("1e3", 1000.0), (".5", 0.5), ("2024-01-02", "2024-01-02"), ("3.10.2", "3.10.2"), ("-", "-"),
    ("99999999999999999999999", 1e23),
])
def test_plain_scalars_are_typed_as_go_yaml_v3_types_them(text, expected):
    assert resolve_plain(text) == expected and type(resolve_plain(text)) is type(expected)


def test_floats_are_hashed_as_go_formats_them():
    assert [sops.go_float(v) for v in (1.0, 1e-07, 1e22, -0.0, 1.5, math.inf)] == \
        ["1", "0.0000001", "10000000000000000000000", "-0", "1.5", "+Inf"]


def test_a_document_that_is_already_encrypted_is_refused(identity):
    with pytest.raises(SopsError, match="already"):
        cipher.encrypt_documents([{"sops": {}}], os.urandom(32), ())


def test_yaml_that_sops_cannot_hold_is_refused_with_its_line():
    from beskar.problems import InputError

    for text, message in (("a: 1\na: 2\n", "duplicate key"), ("base: &b {x: 1}\nc:\n  <<: *b\n", "merge keys"),
                          ("1: one\n", "keys must be strings"), ("a: 18446744073709551615\n", "beyond int64")):
        with pytest.raises(InputError) as raised:
            load_yaml(text, "f.yaml")
        assert message in raised.value.problems[0].message and raised.value.problems[0].origin.line >= 1


def test_metadata_is_written_in_sops_field_order(identity):
    _, recipient = identity
    text = sealing.seal([{"stringData": {"k": "v"}}], [recipient], rule=sops.KUBERNETES_RULE)
    block = text.split("\nsops:\n", 1)[1]
    fields = [line.split(":")[0].strip() for line in block.splitlines() if line.startswith("    ") and
              not line.startswith("     ")]
    assert fields == ["age", "lastmodified", "mac", "encrypted_regex", "version"]
    assert f"        - recipient: {recipient}\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----" in text
