"""Masking known secrets in any text, in every spelling the text may carry them (invariant 6).

A secret rarely leaks verbatim: an exception quotes it with ``repr`` (of a str or of bytes),
a request body holds it JSON- or XML-escaped, a URL or form percent-encoded. Each secret
becomes one pattern in which every character may appear in any of those encodings, so a
text mixing them is masked too, as is an escape escaped again (a JSON body in a repr).
Each long line of a multi-line secret (a PEM key) is a secret of its own, since a line
can leak alone.
"""

from __future__ import annotations

import json
import re
import threading
from functools import cache

MASK = "********"
_MIN_LINE = 8
"""Lines of a multi-line secret shorter than this are too common to mask on their own."""
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]")
"""Characters no encoder escapes (RFC 3986's unreserved set)."""
_OTHER_FORMS = {
    "&": ("&amp;",),
    "<": ("&lt;",),
    ">": ("&gt;",),
    '"': ("&quot;", '\\"'),
    "'": ("&apos;", "\\'"),
    "/": ("\\/",),
    " ": ("+",),
}
"""XML's named entities, quotes escaped either way, JSON's optional ``\\/``, a form's space."""


@cache
def _character_pattern(character: str) -> str:
    """A regex matching ``character`` in clear or in any encoding we know of."""
    if _UNRESERVED.match(character):
        return re.escape(character)
    utf8 = character.encode("utf-8")
    forms = {
        character,
        repr(character)[1:-1],
        repr(utf8)[2:-1],
        json.dumps(character)[1:-1],
        character.encode("unicode_escape").decode("ascii"),
        f"&#{ord(character)};",
        f"&#x{ord(character):x};",
        f"&#x{ord(character):X};",
        *_OTHER_FORMS.get(character, ()),
    }
    forms |= {form.replace("\\", "\\\\") for form in forms if "\\" in form}
    alternatives = [re.escape(form) for form in sorted(forms, key=len, reverse=True)]
    alternatives.append("(?i:" + "".join(f"%{byte:02X}" for byte in utf8) + ")")
    return "(?:" + "|".join(alternatives) + ")"


def secret_pattern(secret: str) -> str:
    """A regex matching ``secret`` however it is escaped or encoded."""
    return "".join(_character_pattern(character) for character in secret)


class Redactor:
    """Replaces every known secret in a text with :data:`MASK`."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def register(self, secret: str) -> None:
        lines = {line.strip() for line in secret.splitlines()} if "\n" in secret else set()
        pieces = {secret, *(line for line in lines if len(line) >= _MIN_LINE)} - {""}
        with self._lock:
            if pieces <= self._secrets:
                return
            self._secrets |= pieces
            longest_first = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(secret_pattern, longest_first)))

    def redact(self, text: str) -> str:
        with self._lock:
            pattern = self._pattern
        return text if pattern is None else pattern.sub(MASK, text)


redactor = Redactor()
"""The process's redactor: every resolved secret is registered here."""
