"""The check takes a freshly rendered file's documents as they are instead of parsing its emitted text: they must be
exactly what parsing gives (data, document indexes, the line of every key and item), and the check must not change
them (the report draws the same rendered objects)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from beskar.check.documents import emitted_yaml, parse_yaml
from beskar.operations import compilation, review
from beskar.tree import emit_file


def _paths(data: Any, here: tuple = ()) -> Iterator[tuple]:
    yield here
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, here + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, here + (index,))


def _same_as_parsed(path: str, text: str, documents: list[Any]) -> int:
    taken, parsed = emitted_yaml(path, text, documents), parse_yaml(path, text)
    assert taken.flaws == parsed.flaws == []
    assert [(d.index, d.data) for d in taken.documents] == [(d.index, d.data) for d in parsed.documents]
    compared = 0
    for mine, theirs in zip(taken.documents, parsed.documents):
        assert mine.line == theirs.line
        for where in _paths(theirs.data):
            assert mine.line_of(where) == theirs.line_of(where), (path, where)
            compared += 1
        assert mine.line_of(("no-such-key", 3)) == theirs.line_of(("no-such-key", 3))
    return compared


def test_every_rendered_file_of_the_example_reads_as_its_emitted_text(demo_fleet):
    compiled = compilation.compile_fleet(demo_fleet)
    emitted = compiled.emitted()
    files = 0
    for rendered in compiled.rendered.values():
        for path, documents in rendered.tree.files.items():
            assert _same_as_parsed(path, emitted[path].decode(), documents) > 0
            files += 1
    assert files > 80


@pytest.mark.parametrize("documents", [
    [{"a": (1, 2)}],  # a tuple reads back as a list
    [{1: "one", None: "nothing"}],  # keys read back as strings
    [{"when": __import__("datetime").date(2025, 1, 2)}],  # a date reads back as its text
    [{"x": float("nan")}],
])
def test_a_document_that_would_read_back_changed_is_parsed(documents):
    text = emit_file(documents, "test").decode()
    taken = emitted_yaml("f.yaml", text, documents)
    assert taken.documents[0].data is not documents[0]
    assert [d.data for d in taken.documents] == [d.data for d in parse_yaml("f.yaml", text).documents]


def test_plain_documents_are_taken_as_they_are_and_composed_only_when_a_line_is_asked():
    documents = [{"kind": "A", "items": [{"name": "x", "value": "true"}, None]}, None, {"b": 1.5}]
    text = emit_file(documents, "test").decode()
    taken = emitted_yaml("f.yaml", text, documents)
    assert [d.data is original for d, original in zip(taken.documents, [documents[0], documents[2]])] == [True, True]
    assert [d.index for d in taken.documents] == [0, 2]
    assert taken.documents[0]._later.nodes is None
    assert taken.documents[1].line_of(("b",)) == 10 and taken.documents[0].line_of(("items", 0, "value")) == 6
    assert taken.documents[0]._later.nodes is not None
    _same_as_parsed("f.yaml", text, documents)


def test_a_parsed_file_is_composed_again_only_for_a_line_and_as_first_read():
    text = "base: &base\n  a: 1\n  b: 2\nmerged:\n  <<: *base\n  b: 3\n---\n---\nlist: [x, y]\n"
    parsed = parse_yaml("f.yaml", text)
    assert [d.data for d in parsed.documents] == [{"base": {"a": 1, "b": 2}, "merged": {"a": 1, "b": 3}},
                                                 {"list": ["x", "y"]}]
    assert parsed.documents[0]._later.nodes is None
    assert parsed.documents[0].line_of(("merged", "a")) == 2  # a merged key is where its anchor set it
    assert parsed.documents[0].line_of(("merged", "b")) == 6
    assert [d.index for d in parsed.documents] == [0, 2] and parsed.documents[1].line_of(("list", 1)) == 9


def test_the_check_leaves_the_rendered_objects_as_rendered(demo_fleet):
    result = review.check(demo_fleet)
    before = result.compiled.emitted()
    after = {}
    for rendered in result.compiled.rendered.values():
        after.update(rendered.tree.emit())
    assert after == before


def test_emitting_in_worker_processes_gives_the_same_bytes_and_findings(demo_fleet, monkeypatch):
    from beskar.operations import emission

    compiled = compilation.compile_fleet(demo_fleet)
    serial = emission.emit_sites(compiled.rendered, jobs=1)
    assert serial == compiled.emitted()
    assert list(serial) == sorted(serial)
    assert emission.emit_sites(compiled.rendered, jobs=2, min_sites=1) == serial
    alone = review.check(demo_fleet, jobs=1)
    monkeypatch.setattr(emission, "MIN_PARALLEL_SITES", 1)
    forked = review.check(demo_fleet, jobs=2)
    assert forked.findings == alone.findings and forked.files == alone.files and forked.stale == alone.stale


def test_forked_emission_and_rules_find_what_one_process_finds_in_a_stale_faulty_fleet(demo_fleet, monkeypatch):
    """Staleness of every kind (a file edited, one missing, one Beskar would delete) and findings of the model and
    tree scopes: the workers' share of the comparison and of the rules comes back whole."""
    from beskar.operations import emission

    site_file = demo_fleet / "sites/prod-brno/site.yaml"
    site_file.write_text(site_file.read_text().replace("address: 10.16.0.32}", "address: 10.16.1.32}", 1))
    rendered = sorted(p for p in (demo_fleet / "apps").rglob("*.yaml") if p.read_text().startswith("# Generated"))
    rendered[0].write_text(rendered[0].read_text() + "# edited\n")
    rendered[1].unlink()
    stray = rendered[2].parent / "zz-left-over.yaml"
    stray.write_text(rendered[2].read_text())
    alone = review.check(demo_fleet, jobs=1)
    monkeypatch.setattr(emission, "MIN_PARALLEL_SITES", 1)
    forked = review.check(demo_fleet, jobs=2)
    assert forked.findings == alone.findings
    assert forked.stale == alone.stale >= 3  # the address also reaches rendered files
    scopes = {finding.rule.split("/")[0] for finding in alone.findings}
    assert {"model", "tree"} <= scopes, scopes
    stale = {f.file for f in alone.findings if f.rule == "tree/stale"}
    assert {str(p.relative_to(demo_fleet)) for p in (rendered[0], rendered[1], stray)} <= stale


def test_a_site_as_recorded_at_its_last_render_is_read_not_emitted_and_checks_the_same(demo_fleet, monkeypatch):
    from beskar.operations import rendering
    from beskar.tree import Tree, digest

    def emissions(**kwargs) -> tuple[list[str], review.Review]:
        emitted: list[str] = []
        original = Tree.emit
        monkeypatch.setattr(Tree, "emit", lambda tree: emitted.extend(sorted(tree.sources)[:1]) or original(tree))
        result = review.check(demo_fleet, jobs=1, **kwargs)
        monkeypatch.setattr(Tree, "emit", original)
        return emitted, result

    rendering.render_tree(demo_fleet)  # the record: both sites' inputs and files
    emitted, recorded = emissions()
    assert emitted == []
    (demo_fleet / digest.RECORD_FILE).rename(demo_fleet / "render.json.away")
    emitted, unrecorded = emissions()
    assert len(emitted) == 2
    assert (recorded.findings, recorded.files, recorded.stale) == (unrecorded.findings, unrecorded.files,
                                                                   unrecorded.stale)
    assert recorded.stale == 0
    (demo_fleet / "render.json.away").rename(demo_fleet / digest.RECORD_FILE)
    # A hand edit under one site: that site is emitted again and the edit is stale, as without a record.
    edited = sorted(p for p in (demo_fleet / "apps" / "prod-brno").rglob("*.yaml"))[0]
    edited.write_text(edited.read_text() + "# edited\n")
    emitted, result = emissions()
    assert emitted == [next(iter(sorted(result.compiled.rendered["prod-brno"].tree.sources)))]
    assert result.stale == 1
    assert str(edited.relative_to(demo_fleet)) in {f.file for f in result.findings if f.rule == "tree/stale"}
    # An input changed since the record: its site is emitted again.
    edited.write_text(edited.read_text().replace("# edited\n", ""))
    site_file = demo_fleet / "sites/prod-ostrava/site.yaml"
    site_file.write_text(site_file.read_text() + "\n")
    emitted, result = emissions()
    assert len(emitted) == 1 and result.stale == 0
