"""HTML bodies as the plain text a PSA description holds.

Outlook writes appointment bodies as HTML: a line is a ``<p>`` or ``<div>``, a blank line an
empty paragraph, and ``&amp;``, ``&lt;`` or ``&nbsp;`` stand for characters. Stripping tags
leaves the entities and glues the lines together, so the body is read with the standard
library's HTML tokenizer instead: entities decoded, block elements and ``<br>`` ending
lines, whitespace collapsed as a browser does (kept inside ``<pre>``), and what a browser
never shows (head, scripts, styles, comments) left out.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
    ]
)
HIDDEN = frozenset({"head", "script", "style", "template", "title"})
_SPACES = re.compile(r"[ \t\r\n\f]+")  # HTML whitespace; a no-break space is not one of them
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(markup: str) -> str:
    """The text a reader sees in ``markup``, one line per line, at most one blank between."""
    reader = _TextReader()
    reader.feed(markup)
    reader.close()
    return reader.text()


class _TextReader(HTMLParser):
    """Lines done, and the pieces of the current one (joined when it ends: adding to one
    string piece by piece copied it every time, quadratic in a long paragraph)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line: list[str] = []
        self.hidden = 0
        self.preformatted = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.new_line()
        elif tag in BLOCKS:
            self.end_line()
            self.preformatted += tag == "pre"
            if tag == "li":
                self.line = ["- "]
        elif tag in ("td", "th") and self.line:
            self.line.append("\t")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag in BLOCKS:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BLOCKS:
            self.preformatted = max(0, self.preformatted - (tag == "pre"))
            self.end_line()

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if self.preformatted:
            first, *rest = data.split("\n")
            self.add(first)
            for line in rest:
                self.new_line()
                self.add(line)
            return
        text = _SPACES.sub(" ", data)
        if not self.line:
            text = text.lstrip(" ")
        self.add(text)

    def add(self, text: str) -> None:
        if text:
            self.line.append(text)

    def new_line(self) -> None:
        self.lines.append("".join(self.line))
        self.line = []

    def end_line(self) -> None:
        """Start a new line unless the current one is still empty (a block opens a line)."""
        if self.line == ["- "]:
            self.line = []
        elif self.line:
            self.new_line()

    def text(self) -> str:
        self.new_line()
        lines = (line.replace("\xa0", " ").rstrip() for line in self.lines)
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")
