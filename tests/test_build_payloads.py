"""The JSON of the build's caches (orjson): what it stores reads back as it was, and what it cannot hold exactly
is refused, so that the render is done again instead of coming back changed."""
from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from beskar.build import manifests, payloads
from beskar.operations.renders import Renderers, RenderJob, render_all
from test_build_mechanism import write_chart

OBJECTS = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nova-etc", "labels": {}},
     "data": {"nova.conf": "[DEFAULT]\ncpu_allocation_ratio = 3.0\n", "quote": "\"\\\t\x01\u2028 ✓ Brno"}},
    {"z": 1, "a": [1.5, 0.1, 1e-05, 1e21, -0.0, 2**63 - 1, -(2**63)], "t": True, "f": False, "n": None, "e": []},
]


def test_what_is_stored_reads_back_the_same_and_json_reads_it_alike():
    stored = payloads.encode(OBJECTS)
    assert stored is not None
    assert payloads.decode(stored) == OBJECTS == json.loads(stored)
    assert list(payloads.decode(stored)[1]) == ["z", "a", "t", "f", "n", "e"]  # keys in their order


@pytest.mark.parametrize("value", [{"big": 2**64}, {1: "an int key"}, {"when": datetime.date(2026, 12, 3)},
                                   {"raw": b"bytes"}])
def test_a_value_json_would_not_give_back_as_it_is_is_refused(value):
    assert payloads.encode(value) is None


@pytest.mark.parametrize("number", [".nan", ".inf", "-.Inf"])
def test_a_rendered_number_json_cannot_hold_is_refused_with_its_line(number):
    expected = rf"^t\.yaml, line 3: {number.replace('.', '[.]')} is a number JSON cannot hold"
    with pytest.raises(manifests.ManifestError, match=expected):
        manifests.parse_documents("t.yaml", f"apiVersion: v1\nkind: ConfigMap\nratio: {number}\n")


def _job(chart: Path, key: str) -> RenderJob:
    return RenderJob(key, str(chart), {}, "rel", "apps", "v1.31.4", (), False, (), (), False)


def test_a_render_json_cannot_hold_is_rendered_again_each_time_and_the_others_come_from_the_cache(tmp_path):
    plain = write_chart(tmp_path / "plain")
    big = write_chart(tmp_path / "big")
    (big / "templates" / "big.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {}\nsize: 123456789012345678901234567890\n")
    jobs = {"a" * 64: _job(plain, "a" * 64), "b" * 64: _job(big, "b" * 64)}
    with Renderers(1) as renderers:
        first = {r.key: r for r in render_all(jobs, tmp_path / "cache", renderers, use_cache=True)}
        again = {r.key: r for r in render_all(jobs, tmp_path / "cache", renderers, use_cache=True)}
    assert not first["a" * 64].cached and again["a" * 64].cached
    assert not again["b" * 64].cached and first["b" * 64].payload is None
    for key in jobs:
        assert first[key].error is None and again[key].objects == first[key].objects
    sizes = [body["size"] for _, body in again["b" * 64].objects if body.get("kind") == "ConfigMap"]
    assert sizes == [123456789012345678901234567890]
    assert sorted(p.name for p in (tmp_path / "cache" / "renders").rglob("*.json")) == [f"{'a' * 64}.json"]
