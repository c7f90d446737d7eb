"""Contacts written as the API writes them: a child of Companies, created with POST and
updated with PATCH at ``Companies/{id}/Contacts``.

As strict as the API: the company must exist and the contact must be its own (a missing
id is a 404), ``firstName``, ``lastName`` and ``isActive`` are required, a string longer
than its field and an unknown country are refused with the API's message in its
``errors`` shape (HTTP 500, as the API answers a refused entity), and a field the peer does
not implement is named, never dropped silently. Ids come from the embedded PSA, which never
hands one out twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.psa.model import RecordKind
from engine.psa.rest_contacts import API_FIELDS, REQUIRED_ON_CREATE
from engine.sandbox.psa_rest.countries import country_name
from engine.sandbox.psa_rest.errors import ApiError

if TYPE_CHECKING:
    from engine.sandbox.psa_rest.server import PeerState

_FIELDS = {field.lower(): (field, column, length) for column, (field, length) in API_FIELDS.items()}
_NULLABLE = frozenset({"email", "phone", "title"})
"""Columns the embedded PSA had before AD Sync, where a blank is NULL."""
_REQUIRED = {field.lower(): field for field in REQUIRED_ON_CREATE if field != "companyID"}
"""The company is the parent in the URL."""


def write_contact(
    state: PeerState, method: str, company_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    """POST creates a contact of the company, PATCH changes the fields it names."""
    psa = state.psa
    if method not in ("POST", "PATCH"):
        raise ApiError(405, f"{method} Companies/{company_id}/Contacts is not implemented")
    if not psa._rows("SELECT 1 FROM companies WHERE id = ?", (company_id,)):
        raise ApiError(404, f"Companies {company_id} does not exist")
    if body.get("companyid", company_id) != company_id:
        raise ApiError(500, f"companyID {body['companyid']} is not the parent {company_id}")
    creating = method == "POST"
    columns = _columns(body, creating)
    if creating:
        return {"itemId": psa.insert("contacts", company_id=company_id, **columns)}
    record_id = body.get("id")
    if not isinstance(record_id, int) or isinstance(record_id, bool):
        raise ApiError(500, "PATCH needs the id of the contact to update")
    if not columns:
        raise ApiError(400, f"Nothing to update in Contacts {record_id}")
    if state.draw_vanish():
        psa.delete(RecordKind.CONTACT, record_id)
    owner = psa._rows("SELECT company_id FROM contacts WHERE id = ?", (record_id,))
    if not owner or owner[0][0] != company_id:
        raise ApiError(404, f"Contacts {record_id} does not exist under Companies {company_id}")
    psa.update(RecordKind.CONTACT, record_id, **columns)
    return {"itemId": record_id}


def _columns(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    """The embedded PSA's columns for the fields of ``body``, checked as the API checks."""
    action = "creating" if creating else "updating"
    unknown = set(body) - set(_FIELDS) - {"id", "companyid", "countryid", "isactive"}
    if unknown:
        raise ApiError(500, f"This peer does not implement Contacts fields: {sorted(unknown)}")
    for name, field in _REQUIRED.items():
        if (creating or name in body) and body.get(name) in (None, ""):
            raise ApiError(
                500, f"Required field {field} is missing. | Error {action} entity for record [1]."
            )
    columns: dict[str, Any] = {}
    for name, (field, column, length) in _FIELDS.items():
        if name not in body:
            continue
        value = body[name]
        if value is not None and not isinstance(value, str):
            raise ApiError(500, f"{field} must be a string, not {value!r}")
        if len(value or "") > length:
            raise ApiError(
                500,
                f"String value exceeds maximum length (field:{field}). | Error {action}"
                " entity for record number [1].",
            )
        columns[column] = (value or None) if column in _NULLABLE else (value or "")
    if "countryid" in body:
        columns["country"] = _country(body["countryid"])
    if "isactive" in body:
        active = body["isactive"]
        if active not in (0, 1) or isinstance(active, bool):
            raise ApiError(500, f"isActive must be 1 or 0, not {active!r}")
        columns["active"] = active
    return columns


def _country(number: Any) -> str:
    if number is None:
        return ""
    name = country_name(number) if isinstance(number, int) else None
    if name is None:
        raise ApiError(500, f"countryID {number!r} is not a country of this PSA")
    return name
