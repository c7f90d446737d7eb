"""SOAP envelopes, response messages and faults in the shapes of the EWS schema."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from engine.sandbox.ews.xml import SOAP, E, m, sub, t

SERVER_BUILD = {
    "MajorVersion": 15,
    "MinorVersion": 1,
    "MajorBuildNumber": 2507,
    "MinorBuildNumber": 6,
}
DEFAULT_API_VERSION = "Exchange2016"


class EwsError(Exception):
    """An error for one response message (``ResponseClass="Error"``)."""

    def __init__(self, code: str, text: str, message_xml: ET.Element | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.message_xml = message_xml


class SoapFaultError(Exception):
    """An error for the whole request: a SOAP fault, as Exchange sends for access problems."""

    def __init__(self, code: str, text: str, message_xml: ET.Element | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.message_xml = message_xml


def envelope(content: ET.Element, api_version: str | None) -> bytes:
    root = ET.Element(f"{{{SOAP}}}Envelope")
    header = sub(root, f"{{{SOAP}}}Header")
    sub(header, t("ServerVersionInfo"), **SERVER_BUILD, Version=api_version or DEFAULT_API_VERSION)
    body = sub(root, f"{{{SOAP}}}Body")
    body.append(content)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def response(operation: str, messages: list[ET.Element]) -> ET.Element:
    element = ET.Element(m(f"{operation}Response"))
    container = sub(element, m("ResponseMessages"))
    container.extend(messages)
    return element


def success(operation: str) -> ET.Element:
    message = ET.Element(m(f"{operation}ResponseMessage"), {"ResponseClass": "Success"})
    sub(message, m("ResponseCode"), "NoError")
    return message


EMPTY_ON_ERROR = {
    "GetItem": "Items",
    "CreateItem": "Items",
    "UpdateItem": "Items",
    "GetServerTimeZones": "TimeZoneDefinitions",
}
"""What the schema requires in an operation's error message too: Exchange sends it empty."""


def error(operation: str, failure: EwsError) -> ET.Element:
    message = ET.Element(m(f"{operation}ResponseMessage"), {"ResponseClass": "Error"})
    sub(message, m("MessageText"), failure.text)
    sub(message, m("ResponseCode"), failure.code)
    sub(message, m("DescriptiveLinkKey"), 0)
    if failure.message_xml is not None:
        message.append(failure.message_xml)
    if operation in EMPTY_ON_ERROR:
        sub(message, m(EMPTY_ON_ERROR[operation]))
    return message


def sync_error(failure: EwsError) -> ET.Element:
    """A SyncFolderItems error message. It carries an empty SyncState and
    IncludesLastItemInRange (both allowed by the schema) because exchangelib 5.6 reads those
    before it looks at the response code, and would otherwise fail on their absence."""
    message = error("SyncFolderItems", failure)
    sub(message, m("SyncState"), "")
    sub(message, m("IncludesLastItemInRange"), "true")
    return message


def fault(failure: SoapFaultError) -> ET.Element:
    element = ET.Element(f"{{{SOAP}}}Fault")
    sub(element, "faultcode", f"a:{failure.code}")
    sub(element, "faultstring", failure.text)
    detail = sub(element, "detail")
    sub(detail, f"{{{E}}}ResponseCode", failure.code)
    sub(detail, f"{{{E}}}Message", failure.text)
    if failure.message_xml is not None:
        detail.append(failure.message_xml)
    return element


def busy(back_off_ms: int) -> SoapFaultError:
    """ErrorServerBusy with the back-off exchangelib reads from MessageXml."""
    message_xml = ET.Element(t("MessageXml"))
    sub(message_xml, t("Value"), back_off_ms, Name="BackOffMilliseconds")
    return SoapFaultError(
        "ErrorServerBusy", "The server cannot service this request right now.", message_xml
    )
