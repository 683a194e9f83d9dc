"""Pure parts of secrets: the sync and rotation planners, generation, .sops.yaml, site.yaml recipient edits."""

from __future__ import annotations

import re

import pytest

from beskar.catalog import catalog
from beskar.plan.steps import ResultType
from beskar.problems import InputError
from beskar.fleet import recipients
from beskar.plan import secrets as plan
from beskar.secrets import generation, sopsconfig

NEEDS = [plan.Need("a.password", "password"), plan.Need("b.uuid", "uuid"), plan.Need("c.hex", "hex"),
         plan.Need("nova.private", "ssh_private_key"), plan.Need("nova.public", "ssh_public_key", "nova.private")]


def test_sync_plan_adds_only_missing_keys_and_reports_unused():
    steps = plan.plan_sync(NEEDS, ["a.password", "old.key"])
    assert [s.key for s in steps.steps] == ["b.uuid", "c.hex", "nova.private", "nova.public"]
    assert steps.unused == ("old.key",) and steps.problems == ()
    values, outcomes = plan.run(steps, {"a.password": "keep-me", "old.key": "x"}, generation)
    assert values["a.password"] == "keep-me" and values["old.key"] == "x"
    assert {o.result.type for o in outcomes} == {ResultType.COMPLETED}
    assert generation.ssh_public_key(values["nova.private"]) == values["nova.public"]


def test_sync_plan_never_replaces_a_private_key_whose_public_key_exists():
    steps = plan.plan_sync(NEEDS, ["nova.public"])
    assert "nova.private" not in steps.changes and "rotate" in steps.problems[0]


def test_sync_steps_say_they_are_skipped_once_a_value_exists():
    change = plan.Generate("a.password", "password")
    assert plan.ValueStep(change, {"a.password": "x"}, generation).is_skip().type is ResultType.SKIPPED
    assert plan.ValueStep(change, {}, generation).is_skip().type is ResultType.COMPLETED
    values, (outcome,) = plan.run(plan.Plan((change,)), {"a.password": "x"}, generation)
    assert outcome.result.type is ResultType.SKIPPED and values == {"a.password": "x"}


def test_a_failing_step_stops_the_run_and_says_why():
    steps = plan.Plan((plan.Derive("nova.public", "nova.private"), plan.Generate("a.password", "password")))
    values, outcomes = plan.run(steps, {}, generation)
    assert [(o.step.name, o.result.type) for o in outcomes] == [("nova.public", ResultType.FAILED)]
    assert "has no value" in outcomes[0].result.message and values == {}


def test_rotation_renews_a_pair_together_and_refuses_unknown_keys():
    steps = plan.plan_rotation(NEEDS, ["a.password", "nova.private", "nova.public"], ["nova.public", "nope"])
    assert steps.changes == ("nova.private", "nova.public")
    assert steps.problems and "nope" in steps.problems[0]
    old = {"nova.private": generation.ssh_private_key(), "nova.public": "ssh-ed25519 AAAA old"}
    values, _ = plan.run(steps, old, generation)
    assert values["nova.private"] != old["nova.private"]
    assert values["nova.public"] == generation.ssh_public_key(values["nova.private"])


def test_generated_values_have_their_kind_and_length():
    assert re.fullmatch(r"[A-Za-z0-9]{40}", generation.generate("password", 40))
    assert re.fullmatch(r"[0-9a-f]{32}", generation.generate("hex", 32))
    assert re.fullmatch(r"[0-9a-f-]{36}", generation.generate("uuid"))
    assert len(generation.generate("fernet")) == 44
    assert generation.generate("ssh_private_key").startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert generation.generate("password") != generation.generate("password")


def test_the_catalog_pairs_nova_public_key_with_its_private_key():
    assert plan.pairs_in(catalog().credentials) == {"nova.network.ssh.public_key": "nova.network.ssh.private_key"}


def test_sops_config_has_one_rule_per_site_with_exactly_its_recipients():
    text = sopsconfig.sops_config({"b-site": ["age1b", "age1op"], "a-site": ["age1a", "age1op"], "none": []}).decode()
    assert sopsconfig.generated(text.encode())
    assert text.index("^sites/a-site/") < text.index("^sites/b-site/") and "none" not in text
    assert "    age: age1a,age1op\n" in text and "encrypted_regex: ^(data|stringData)$" in text
    assert sopsconfig.sops_config({"b-site": ["age1b"], "a-site": ["age1a"]}) == \
        sopsconfig.sops_config({"a-site": ["age1a"], "b-site": ["age1b"]})


R1 = "age1" + "q" * 58
R2 = "age1" + "p" * 58


@pytest.mark.parametrize("before,after", [
    ("name: x\n", f"name: x\nsecrets:\n  recipients:\n    - {R2}\n"),
    ("secrets:\n  password_length: 40\nname: x\n",
     f"secrets:\n  recipients:\n    - {R2}\n  password_length: 40\nname: x\n"),
    (f"secrets:\n    recipients:\n        - {R1}  # flux\n# tail\n",
     f"secrets:\n    recipients:\n        - {R1}  # flux\n        - {R2}\n# tail\n"),
    ("secrets:\n  recipients:\nname: x\n", f"secrets:\n  recipients:\n    - {R2}\nname: x\n"),
])
def test_adding_a_recipient_edits_site_yaml_text_and_keeps_comments(before, after):
    assert recipients.add_recipient(before, "site.yaml", R2) == after
    removed = recipients.remove_recipient(after, "site.yaml", R2)
    assert removed.splitlines() == [line for line in after.splitlines() if R2 not in line]


def test_flow_style_recipients_are_left_for_a_person_with_the_line():
    with pytest.raises(InputError) as raised:
        recipients.add_recipient(f"a: 1\nsecrets:\n  recipients: [{R1}]\n", "sites/x/site.yaml", R2)
    assert raised.value.problems[0].origin.line == 3 and "flow style" in raised.value.problems[0].message
