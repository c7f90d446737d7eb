"""The official EWS schema (messages.xsd, types.xsd), loaded once, judging SOAP envelopes.

The files are kept as published (see README.md beside them); libxml2 needs two changes to
load them, made here on the parsed documents rather than in the files:

- types.xsd imports the ``xml:`` namespace (for ``xml:lang``) without a schemaLocation, and
  libxml2 will not fetch one: the import is pointed at a small schema declaring ``xml:lang``.
- ``ArrayOfTransitionsType`` is a sequence of four optional, repeatable references to the
  ``t:Transition`` substitution group and its members; libxml2 rejects that content model as
  not deterministic. It becomes one repeatable reference to ``t:Transition``, which accepts
  the same elements (in any order, as Exchange sends them).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

HERE = Path(__file__).parent
XS = "http://www.w3.org/2001/XMLSchema"
XML_NS = "http://www.w3.org/XML/1998/namespace"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
EWS_NAMESPACES = (
    "http://schemas.microsoft.com/exchange/services/2006/messages",
    "http://schemas.microsoft.com/exchange/services/2006/types",
)
_XML_LANG_SCHEMA = f"""<xs:schema xmlns:xs="{XS}" targetNamespace="{XML_NS}">
  <xs:attribute name="lang" type="xs:language"/>
</xs:schema>""".encode()
_XML_LANG_LOCATION = "msext-xml-namespace.xsd"
_VALIDATING = threading.Lock()
"""One schema object serves every server thread; libxml2's validation context is not
shared safely, so validations take turns."""


def _patched_types() -> bytes:
    types = etree.parse(str(HERE / "types.xsd"))
    for schema_import in types.iterfind(f"{{{XS}}}import"):
        if schema_import.get("namespace") == XML_NS:
            schema_import.set("schemaLocation", _XML_LANG_LOCATION)
    (transitions,) = types.xpath(
        "/xs:schema/xs:complexType[@name='ArrayOfTransitionsType']/xs:sequence",
        namespaces={"xs": XS},
    )
    for child in list(transitions):
        transitions.remove(child)
    etree.SubElement(
        transitions,
        f"{{{XS}}}element",
        ref="t:Transition",
        minOccurs="0",
        maxOccurs="unbounded",
    )
    return etree.tostring(types)


class _LocalSchemas(etree.Resolver):
    """types.xsd patched, and the xml: namespace schema, from memory; nothing from the net."""

    def resolve(self, url: str, pubid: str, context: object) -> object:
        name = url.rsplit("/", 1)[-1]
        if name == "types.xsd":
            return self.resolve_string(_patched_types(), context)
        if name == _XML_LANG_LOCATION:
            return self.resolve_string(_XML_LANG_SCHEMA, context)
        return None


@cache
def ews_schema() -> etree.XMLSchema:
    """messages.xsd with everything it imports; parsed once per process (about a second)."""
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalSchemas())
    messages = etree.parse(str(HERE / "messages.xsd"), parser)
    return etree.XMLSchema(messages)


@dataclass(frozen=True)
class Invalid:
    """One SOAP message that does not validate: which element, and the schema's complaints."""

    direction: str
    """``request`` or ``response``."""
    element: str
    errors: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.direction} {self.element}: " + "; ".join(self.errors)


def invalid_parts(envelope: bytes, direction: str) -> list[Invalid]:
    """The EWS elements of a SOAP envelope's header and body that break the schema.

    A SOAP fault is the envelope's own vocabulary, not EWS's, and is not judged here.
    """
    try:
        root = etree.fromstring(envelope)
    except etree.XMLSyntaxError as problem:
        return [Invalid(direction, "(envelope)", (f"not XML: {problem}",))]
    schema = ews_schema()
    found = []
    parts = root.xpath("/s:Envelope/s:Header/* | /s:Envelope/s:Body/*", namespaces={"s": SOAP})
    with _VALIDATING:
        for element in parts:
            if etree.QName(element).namespace not in EWS_NAMESPACES:
                continue
            if not schema.validate(element):
                errors = tuple(_short(entry.message) for entry in schema.error_log)
                found.append(Invalid(direction, etree.QName(element).localname, errors))
    return found


def _short(message: str) -> str:
    """lxml's message with t:/m: prefixes, and its list of expected elements cut short."""
    for prefix, namespace in zip(("m:", "t:"), EWS_NAMESPACES, strict=True):
        message = message.replace(f"{{{namespace}}}", prefix)
    return message if len(message) < 300 else message[:297] + "..."


class SchemaWatch:
    """Judges every request and answer an emulator sees; keeps the invalid ones until taken.

    Called from the emulators' server threads, so the list is guarded.
    """

    def __init__(self) -> None:
        self._found: list[Invalid] = []
        self._lock = threading.Lock()
        self.judged = 0
        self.invalid_seen = 0

    def __call__(self, request: bytes, answer: bytes | None) -> None:
        # An empty POST is exchangelib's authentication probe, not a SOAP message.
        soap_request = bool(request.strip())
        found = invalid_parts(request, "request") if soap_request else []
        if answer is not None:
            found += invalid_parts(answer, "response")
        with self._lock:
            self.judged += soap_request + (answer is not None)
            self.invalid_seen += len(found)
            self._found.extend(found)

    def take(self) -> list[Invalid]:
        """The invalid messages seen since the last call."""
        with self._lock:
            found, self._found = self._found, []
        return found
