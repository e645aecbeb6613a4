"""A small DOM summary built with html.parser: tags, attributes, text, and chart bars."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Dom:
    """What the report tests need to know about a parsed page."""

    tags: Counter[str] = field(default_factory=Counter)
    attrs: list[tuple[str, str, str | None]] = field(default_factory=list)  # tag, name, value
    text: list[str] = field(default_factory=list)
    title: str = ""
    rects: Counter[str] = field(default_factory=Counter)  # svg id -> <rect> count
    classes: Counter[str] = field(default_factory=Counter)

    @property
    def all_text(self) -> str:
        """The page's text content, joined."""
        return "".join(self.text)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.dom = Dom()
        self._svg: str | None = None
        self._in_title = False
        self._depth = 0  # nesting inside <svg>, so a nested <title> is not the page title

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.dom.tags[tag] += 1
        self.dom.attrs.extend((tag, name, value) for name, value in attrs)
        for name, value in attrs:
            if name == "class" and value:
                self.dom.classes.update(value.split())
        if tag == "svg":
            self._svg = dict(attrs).get("id") or ""
        elif tag == "rect" and self._svg is not None:
            self.dom.rects[self._svg] += 1
        self._in_title = tag == "title" and self._svg is None

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg = None
        self._in_title = False

    def handle_data(self, data: str) -> None:
        self.dom.text.append(data)
        if self._in_title:
            self.dom.title += data


def parse(page: str) -> Dom:
    """The summary of ``page``; html.parser raises nothing on bad markup, so check the result."""
    parser = _Parser()
    parser.feed(page)
    parser.close()
    return parser.dom
