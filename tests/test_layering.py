"""Layering (global, profile, site) and document positions: merge rules, deletion by null, provenance."""
from __future__ import annotations

import copy
import json
import string
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beskar.operations import compilation
from beskar.fleet import load_fleet
from beskar.fleet.documents import parse_document
from beskar.fleet.layering import Setting, merge_layers
from beskar.problems import InputError, Origin

GLOBAL, PROFILE, SITE = ("beskar.yaml", "global"), ("profiles/production.yaml", "profile:production"), \
    ("sites/s1/site.yaml", "site:s1")


def doc(text: str, where: tuple[str, str] = GLOBAL):
    return parse_document(textwrap.dedent(text), *where)


def at(where: tuple[str, str], line: int, column: int) -> Origin:
    return Origin(where[0], line, column, where[1])


def chain(provenance, *path) -> list[tuple[str, int, int, Any, bool]]:
    """The settings of `path`, oldest first, as (layer, line, column, value, deleted)."""
    return [(s.origin.layer, s.origin.line, s.origin.column, s.value, s.deleted) for s in provenance[path]]


# --- merge rules ---------------------------------------------------------------------------------------------------

def test_maps_merge_deeply():
    base = doc("""\
        a:
          b: 1
          c:
            d: 2
            e: 3
        f: top
        """)
    overlay = doc("""\
        a:
          c:
            e: 30
            g: 4
        h: new
        """, SITE)
    merged, provenance = merge_layers([base, overlay])
    assert merged == {"a": {"b": 1, "c": {"d": 2, "e": 30, "g": 4}}, "f": "top", "h": "new"}
    assert chain(provenance, "a", "b") == [("global", 2, 3, 1, False)]
    assert chain(provenance, "a", "c", "e") == [("global", 5, 5, 3, False), ("site:s1", 3, 5, 30, False)]
    assert chain(provenance, "a", "c", "g") == [("site:s1", 4, 5, 4, False)]
    assert chain(provenance, "a") == [("global", 1, 1, "<mapping>", False), ("site:s1", 1, 1, "<mapping>", False)]


def test_named_lists_merge_by_name_keeping_base_order_and_appending_new_names():
    base = doc("""\
        networks:
          - name: mgmt
            cidr: 10.0.0.0/24
            mtu: 1500
          - name: storage
            cidr: 10.0.1.0/24
          - name: tunnel
            cidr: 10.0.2.0/24
        """)
    overlay = doc("""\
        networks:
          - name: public
            cidr: 192.0.2.0/24
          - name: mgmt
            mtu: 9000
          - {name: tunnel, vlan: 5}
        """, SITE)
    merged, provenance = merge_layers([base, overlay])
    assert merged["networks"] == [
        {"name": "mgmt", "cidr": "10.0.0.0/24", "mtu": 9000},
        {"name": "storage", "cidr": "10.0.1.0/24"},
        {"name": "tunnel", "cidr": "10.0.2.0/24", "vlan": 5},
        {"name": "public", "cidr": "192.0.2.0/24"},
    ]
    # Items are addressed by name, not index, in the provenance.
    assert chain(provenance, "networks", "mgmt", "mtu") == [("global", 4, 5, 1500, False),
                                                            ("site:s1", 5, 5, 9000, False)]
    assert chain(provenance, "networks", "mgmt", "cidr") == [("global", 3, 5, "10.0.0.0/24", False)]
    assert chain(provenance, "networks", "tunnel", "vlan") == [("site:s1", 6, 20, 5, False)]
    assert chain(provenance, "networks", "public") == [("site:s1", 2, 5, "<mapping>", False)]
    assert not any(isinstance(part, int) for path in provenance for part in path)


def test_other_lists_replace_and_forget_what_they_replaced():
    base = doc("""\
        roles: [control-plane, network, compute]
        monitors:
          - {host: a}
          - {host: b}
        networks:
          - {name: mgmt}
          - {name: storage}
        """)
    overlay = doc("""\
        roles: [compute]
        monitors:
          - {host: c}
        networks: [mgmt]
        """, SITE)
    merged, provenance = merge_layers([base, overlay])
    assert merged == {"roles": ["compute"], "monitors": [{"host": "c"}], "networks": ["mgmt"]}
    assert chain(provenance, "roles") == [("global", 1, 1, "<list>", False), ("site:s1", 1, 1, "<list>", False)]
    assert chain(provenance, "roles", 0) == [("site:s1", 1, 9, "compute", False)]
    assert ("roles", 1) not in provenance and ("roles", 2) not in provenance
    assert chain(provenance, "monitors", 0, "host") == [("site:s1", 3, 6, "c", False)]
    assert ("monitors", 1) not in provenance
    assert ("networks", "storage") not in provenance and ("networks", "mgmt") not in provenance


def test_an_empty_list_clears_a_named_list():
    merged, _ = merge_layers([doc("nodes:\n  - {name: n1}\n"), doc("nodes: []\n", SITE)])
    assert merged == {"nodes": []}


def test_a_mapping_and_a_scalar_replace_each_other():
    merged, provenance = merge_layers([doc("a: {b: 1}\nc: 5\n"), doc("a: 7\nc: {d: 2}\n", SITE)])
    assert merged == {"a": 7, "c": {"d": 2}}
    assert ("a", "b") not in provenance
    assert chain(provenance, "a") == [("global", 1, 1, "<mapping>", False), ("site:s1", 1, 1, 7, False)]
    assert chain(provenance, "c", "d") == [("site:s1", 2, 5, 2, False)]


def test_null_deletes_and_provenance_records_the_deletion():
    base = doc("""\
        mirror:
          registry: mirror.example.org
        tls: true
        nodes:
          - name: n1
            rack: r1
            roles: [compute]
        """)
    overlay = doc("""\
        tls: null
        nodes:
          - name: n1
            rack: ~
        """, SITE)
    merged, provenance = merge_layers([base, overlay])
    assert merged == {"mirror": {"registry": "mirror.example.org"}, "nodes": [{"name": "n1", "roles": ["compute"]}]}
    assert chain(provenance, "tls") == [("global", 3, 1, True, False), ("site:s1", 1, 1, None, True)]
    assert provenance["nodes", "n1", "rack"][-1] == Setting(at(SITE, 4, 5), None, deleted=True)


def test_null_deletes_a_whole_subtree_which_a_later_layer_may_set_again():
    layers = [doc("mirror:\n  registry: a\n  insecure: true\n"),
              doc("description: p\nmirror: null\n", PROFILE),
              doc("mirror:\n  registry: b\n", SITE)]
    merged, provenance = merge_layers(layers[:2])
    assert merged == {"description": "p"}
    assert ("mirror", "registry") not in provenance and ("mirror", "insecure") not in provenance
    assert chain(provenance, "mirror") == [("global", 1, 1, "<mapping>", False),
                                           ("profile:production", 2, 1, None, True)]
    merged, provenance = merge_layers(layers)
    assert merged == {"description": "p", "mirror": {"registry": "b"}}
    assert chain(provenance, "mirror") == [("global", 1, 1, "<mapping>", False),
                                           ("profile:production", 2, 1, None, True),
                                           ("site:s1", 1, 1, "<mapping>", False)]
    assert chain(provenance, "mirror", "registry") == [("site:s1", 2, 3, "b", False)]


def test_null_where_nothing_was_set_means_not_set():
    merged, provenance = merge_layers([doc("a: 1\n"), doc("b: null\nc:\n  d: null\n  e: 2\n", SITE)])
    assert merged == {"a": 1, "c": {"e": 2}}
    assert chain(provenance, "b") == [("site:s1", 1, 1, None, True)]
    assert chain(provenance, "c", "d") == [("site:s1", 3, 3, None, True)]
    merged, _ = merge_layers([doc("x: null\ny: {z: null}\n")])
    assert merged == {"y": {}}


def test_provenance_keeps_the_chain_oldest_first_across_three_layers():
    global_text = "openstack:\n  release: '2025.1'\n  nova:\n    cpu_allocation_ratio: 4.0\n"
    profile_text = "# profile\nopenstack:\n  nova:\n    replicas: 3\n    cpu_allocation_ratio: 2.0\n"
    site_text = "openstack:\n  nova: {cpu_allocation_ratio: 3.0}\n"
    merged, provenance = merge_layers([doc(global_text), doc(profile_text, PROFILE), doc(site_text, SITE)])
    assert merged == {"openstack": {"release": "2025.1", "nova": {"cpu_allocation_ratio": 3.0, "replicas": 3}}}
    assert provenance["openstack", "nova", "cpu_allocation_ratio"] == [
        Setting(at(GLOBAL, 4, 5), 4.0), Setting(at(PROFILE, 5, 5), 2.0), Setting(at(SITE, 2, 10), 3.0)]
    assert chain(provenance, "openstack", "nova") == [("global", 3, 3, "<mapping>", False),
                                                      ("profile:production", 3, 3, "<mapping>", False),
                                                      ("site:s1", 2, 3, "<mapping>", False)]
    assert chain(provenance, "openstack", "release") == [("global", 2, 3, "2025.1", False)]


def test_merging_neither_mutates_nor_aliases_the_layers():
    base, overlay = doc("a: {b: [1, 2]}\nn: [{name: x, v: 1}]\n"), doc("a: {c: 3}\nn: [{name: x, w: 2}]\n", SITE)
    frozen = copy.deepcopy((base[0], overlay[0]))
    merged, _ = merge_layers([base, overlay])
    assert (base[0], overlay[0]) == frozen
    merged["a"]["b"].append(99)
    merged["n"][0]["v"] = 0
    assert (base[0], overlay[0]) == frozen


def test_empty_and_comment_only_documents_are_empty_layers():
    data, positions = doc("# nothing here\n")
    assert data == {} and positions[()] == at(GLOBAL, 1, 1)
    assert merge_layers([doc("a: 1\n"), doc("", SITE), (None, {})])[0] == {"a": 1}


# --- documents: positions, anchors, merge keys, errors -------------------------------------------------------------

def test_positions_of_keys_and_items_are_one_based_line_and_column():
    data, positions = doc("""\
        # comment
        kubernetes:
          api_vip: 10.0.0.10
        roles: [a, b]
        nodes:
          - name: n1
            rack: r1
          - {name: n2, rack: r2}
        """)
    assert positions[("kubernetes",)] == at(GLOBAL, 2, 1)
    assert positions[("kubernetes", "api_vip")] == at(GLOBAL, 3, 3)
    assert positions[("roles", 0)] == at(GLOBAL, 4, 9)
    assert positions[("roles", 1)] == at(GLOBAL, 4, 12)
    assert positions[("nodes", "n1")] == at(GLOBAL, 6, 5)
    assert positions[("nodes", "n1", "rack")] == at(GLOBAL, 7, 5)
    assert positions[("nodes", "n2")] == at(GLOBAL, 8, 5)
    assert positions[("nodes", "n2", "rack")] == at(GLOBAL, 8, 16)
    assert ("nodes", 0) not in positions and ("nodes", 1, "rack") not in positions


def test_anchors_and_aliases_keys_at_the_use_site_content_at_the_anchor():
    text = """\
        nodes:
          - name: ctl-1
            interfaces: &nics
              - {name: eno1}
              - {name: eno2}
          - name: ctl-2
            interfaces: *nics
        """
    data, positions = doc(text)
    assert data["nodes"][1]["interfaces"] == [{"name": "eno1"}, {"name": "eno2"}]
    assert data["nodes"][1]["interfaces"] is not data["nodes"][0]["interfaces"]  # no shared objects
    assert positions[("nodes", "ctl-2", "interfaces")] == at(GLOBAL, 7, 5)  # where the alias is used
    assert positions[("nodes", "ctl-2", "interfaces", "eno2")] == at(GLOBAL, 5, 9)  # the item it stands for
    merged, provenance = merge_layers([(data, positions)])
    assert chain(provenance, "nodes", "ctl-2", "interfaces", "eno1", "name") == [("global", 4, 10, "eno1", False)]


def test_merge_keys_bring_in_the_anchored_mapping():
    data, positions = doc("""\
        common: &common
          replicas: 3
          conf: {debug: false}
        nova:
          <<: *common
          cpu_allocation_ratio: 2.0
        """)
    assert data["nova"] == {"replicas": 3, "conf": {"debug": False}, "cpu_allocation_ratio": 2.0}
    assert "<<" not in data["nova"]
    assert positions[("nova",)] == at(GLOBAL, 4, 1)
    assert positions[("nova", "cpu_allocation_ratio")] == at(GLOBAL, 6, 3)
    assert positions[("nova", "replicas")] == at(GLOBAL, 2, 3)  # merged in: where the value is written
    assert positions[("nova", "conf", "debug")] == at(GLOBAL, 3, 10)


def test_merge_keys_can_be_overridden_by_local_keys():
    data, positions = doc("""\
        common: &common
          replicas: 3
          enabled: true
        nova:
          <<: *common
          replicas: 5
        """)
    assert data["nova"] == {"replicas": 5, "enabled": True}
    assert positions[("nova", "replicas")] == at(GLOBAL, 6, 3)


def test_merge_key_lists_first_anchor_wins():
    data, _ = doc("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n")
    assert data["c"] == {"x": 1, "y": 2}


def test_named_list_with_integer_names():
    _, positions = doc("vlans:\n  - name: 1\n    v: a\n  - name: 0\n    v: b\n")
    assert positions[("vlans", 1, "v")] == at(GLOBAL, 3, 5)
    assert positions[("vlans", 0, "v")] == at(GLOBAL, 5, 5)


@pytest.mark.parametrize("text, line, column, message", [
    ("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a' (first set at line 1)"),
    ("n:\n  - {name: x}\n  - {name: y}\n  - {name: x}\n", 4, 5, "duplicate item name 'x' (first at line 2)"),
    ("a: b: c\n", 1, 5, "YAML syntax error: mapping values are not allowed"),
    ("a: 'open\nb: 1\n", 3, 1, "while scanning a quoted scalar started at line 1, found unexpected end of stream"),
    ("a: *nothing\n", 1, 4, "undefined alias"),
    ("? [x, y]\n: 1\n", 1, 3, "mapping keys must be plain scalars"),
])
def test_document_problems_carry_their_place(text, line, column, message):
    with pytest.raises(InputError) as caught:
        parse_document(text, "sites/s1/site.yaml", "site:s1")
    (problem,) = caught.value.problems
    assert problem.origin == at(SITE, line, column)
    assert message in problem.message


def test_every_problem_in_a_document_is_reported():
    with pytest.raises(InputError) as caught:
        doc("a: 1\na: 2\nb:\n  c: 1\n  c: 2\n")
    assert [(p.origin.line, p.origin.column) for p in caught.value.problems] == [(2, 1), (5, 3)]


# --- property: merging agrees with a reference deep merge ----------------------------------------------------------

KEYS = st.sampled_from(list("abcde"))
SCALARS = st.one_of(st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(alphabet=string.ascii_letters + string.digits + " -_.:#'\"", max_size=8))
VALUES = st.recursive(st.one_of(st.none(), SCALARS, st.lists(SCALARS, max_size=3)),
                      lambda children: st.dictionaries(KEYS, children, max_size=4), max_leaves=12)
DOCS = st.dictionaries(KEYS, VALUES, max_size=5)
FILES = [("l0.yaml", "global"), ("l1.yaml", "profile:p"), ("l2.yaml", "site:s")]


def reference_merge(base: dict, overlay: dict) -> dict:
    out = dict(base)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = reference_merge(out[key], value)
        else:
            out[key] = value
    return out


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return value


def leaves(value: Any, path: tuple = ()):
    """Every path of the merged result that is not a non-empty mapping, with its value."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from leaves(child, path + (key,))
    elif path:
        yield path, value


def lookup(data: Any, path: tuple) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def parsed(data: dict, index: int):
    text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False, width=1000)
    result = parse_document(text, *FILES[index])
    assert result[0] == data  # the round trip through YAML is exact
    return text, result


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DOCS, min_size=1, max_size=3))
def test_merge_agrees_with_a_reference_deep_merge(documents):
    texts, layers = zip(*(parsed(d, i) for i, d in enumerate(documents)))
    merged, provenance = merge_layers(list(layers))
    expected = documents[0]
    for overlay in documents[1:]:
        expected = reference_merge(expected, overlay)
    assert merged == without_nulls(expected)
    if len(documents) == 1:
        assert merged == without_nulls(documents[0])
    # Every surviving value was set last by the last layer that has it, at the line and column of its key.
    for path, value in leaves(merged):
        setter = max(i for i, d in enumerate(documents) if lookup(d, path) is not None)
        last = provenance[path][-1]
        assert (last.origin.file, last.origin.layer) == FILES[setter]
        assert not last.deleted
        expected_leaf = "<list>" if isinstance(value, list) else "<mapping>" if isinstance(value, dict) else value
        assert last.value == expected_leaf
        line = texts[setter].splitlines()[last.origin.line - 1]
        assert line[last.origin.column - 1:].startswith(f"{path[-1]}:")


# --- the example fleet and the CLI ---------------------------------------------------------------------------------

def line_and_column(file: Path, needle: str) -> tuple[int, int]:
    hits = [(n, line.index(needle) + 1) for n, line in enumerate(file.read_text().splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} occurs {len(hits)} times in {file}"
    return hits[0]


def test_example_fleet_provenance(example_fleet: Path):
    fleet = load_fleet(example_fleet)
    brno = fleet.sites["prod-brno"]
    assert brno.files == ("beskar.yaml", "profiles/production.yaml", "sites/prod-brno/site.yaml")
    profile_file = example_fleet / "profiles/production.yaml"
    assert chain(brno.provenance, "monitoring", "retention") == [
        ("profile:production", *line_and_column(profile_file, "retention: 30d"), "30d", False)]
    assert [s.origin.layer for s in brno.provenance["monitoring", "enabled"]] == ["global", "profile:production"]
    assert [s.origin.layer for s in brno.provenance["openstack", "nova"]] == \
        ["global", "profile:production", "site:prod-brno"]
    # Aliased node bonds: the key at the node that uses the alias, the items at the anchor.
    site_file = example_fleet / "sites/prod-brno/site.yaml"
    use_line = site_file.read_text().splitlines().index("    bonds: *ctl-bonds", 0) + 1
    assert chain(brno.provenance, "nodes", "brno-ctl-2", "bonds")[-1][:3] == ("site:prod-brno", use_line, 5)
    assert brno.provenance["nodes", "brno-ctl-2", "bonds", "bond0"][-1].origin.line == \
        line_and_column(site_file, "- {name: bond0, interfaces: [ens1f0, ens1f1]")[0]


def test_explain_shows_a_deletion(example_fleet: Path):
    site_file = example_fleet / "sites/prod-brno/site.yaml"
    site_file.write_text(site_file.read_text() + "mirror: null\n")
    explanation = compilation.explain(example_fleet, "prod-brno", "mirror")
    assert explanation.value is None
    assert [(s.origin.file, s.origin.line, s.deleted) for s in explanation.settings] == [
        ("beskar.yaml", line_and_column(example_fleet / "beskar.yaml", "  mirror:")[0], False),
        ("sites/prod-brno/site.yaml", len(site_file.read_text().splitlines()), True)]


def test_cli_explain_lists_every_layer_with_its_line(tmp_path: Path, run_beskar):
    fleet = tmp_path / "demo"
    demo = run_beskar("demo", fleet)
    assert demo.returncode == 0, demo.stderr
    result = run_beskar("explain", "prod-brno", "openstack.nova.cpu_allocation_ratio", "--format", "json", cwd=fleet)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    global_line, global_column = line_and_column(fleet / "beskar.yaml", "cpu_allocation_ratio: 4.0")
    site_line, site_column = line_and_column(fleet / "sites/prod-brno/site.yaml", "cpu_allocation_ratio: 3.0")
    assert report["value"] == 3.0 and report["default"] is False
    assert report["settings"] == [
        {"file": "beskar.yaml", "line": global_line, "column": global_column, "layer": "global",
         "value": 4.0, "deleted": False},
        {"file": "sites/prod-brno/site.yaml", "line": site_line, "column": site_column, "layer": "site:prod-brno",
         "value": 3.0, "deleted": False},
    ]
