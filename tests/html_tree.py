"""A page of the report as a tree of elements (the standard library's HTML parser), to assert on its structure
rather than on strings."""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Callable, Iterator

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list["Element | str"] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        """The text as read: a line break where the page has <br>."""
        return "\n" if self.tag == "br" else "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self) -> Iterator["Element"]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.walk()

    def find_all(self, tag: str | None = None, cls: str | None = None,
                 where: Callable[["Element"], bool] = lambda e: True, **attrs: str) -> list["Element"]:
        """Descendants by tag, class and attributes (data_site= matches data-site)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.walk() if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
                and all(e.attrs.get(k) == v for k, v in wanted.items()) and where(e)]

    def find(self, *args, **kwargs) -> "Element":
        found = self.find_all(*args, **kwargs)
        assert len(found) == 1, (args, kwargs, len(found))
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag) -> None:
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"  # the pages are well formed
        self.stack.pop()

    def handle_data(self, data) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], [e.tag for e in builder.stack]
    return builder.root
