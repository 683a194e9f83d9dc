"""`check` stays linear in the size of a mapping: placing a finding in a mapping looks its key up in an index
built once, not by a scan per finding (a service's raw `values` with 16k keys took minutes to check)."""
from __future__ import annotations

import yaml

from beskar.check.documents import Document


class CountingList(list):
    """A mapping node's pairs that count how often something walks them."""

    walks = 0

    def __iter__(self):
        CountingList.walks += 1
        return super().__iter__()

    def __reversed__(self):
        CountingList.walks += 1
        return super().__reversed__()


def test_placing_every_key_of_a_large_mapping_walks_it_once():
    keys = 3000
    text = "values:\n" + "".join(f"  key{i}: {i}\n" for i in range(keys))
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    values = root.value[0][1]
    values.value = CountingList(values.value)
    document = Document("apps/x/values.yaml", 0, yaml.safe_load(text), root)
    CountingList.walks = 0
    lines = [document.line_of(("values", f"key{i}")) for i in range(keys)]
    assert lines == list(range(2, keys + 2))
    assert document.line_of(("values", "missing")) == 1
    assert CountingList.walks <= 1, CountingList.walks


def test_the_last_of_repeated_keys_is_found():
    root = yaml.compose("a: 1\nb: 2\na: 3\n", Loader=yaml.SafeLoader)
    assert Document("x.yaml", 0, {}, root).line_of(("a",)) == 3
