"""`beskar check` compiles each site once: every rule reads the same typed, rendered site."""

from __future__ import annotations

import inspect

from beskar.check.engine import CheckedSite
from beskar.check.findings import RULES, Scope
from beskar.operations import compilation, review
from beskar.render import site as render_site_module


def test_each_site_is_rendered_once_per_check(example_fleet, monkeypatch):
    rendered: list[str] = []
    real = compilation.render_site

    def counting(site, *args, **kwargs):
        rendered.append(site.name)
        return real(site, *args, **kwargs)

    monkeypatch.setattr(compilation, "render_site", counting)
    monkeypatch.setattr(render_site_module, "render_site", counting)  # a rule importing it would count too
    result = review.check(example_fleet)
    assert sorted(rendered) == sorted(result.sites) and len(result.sites) == 2


def test_model_rules_ask_only_for_what_a_compiled_site_offers():
    offered = set(inspect.signature(CheckedSite).parameters)
    for rule in RULES.values():
        if rule.scope is Scope.MODEL:
            assert set(rule.parameters) <= offered, (rule.id, rule.parameters)
