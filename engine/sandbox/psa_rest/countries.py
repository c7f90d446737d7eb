"""The peer's Countries entity: a short list in the API's shape (a real PSA lists about
250). Contacts name their country by its id; the embedded PSA keeps its display name."""

from __future__ import annotations

from typing import Any

_COUNTRIES = (
    ("US", "United States"),
    ("CA", "Canada"),
    ("MX", "Mexico"),
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("DE", "Germany"),
    ("AT", "Austria"),
    ("CH", "Switzerland"),
    ("FR", "France"),
    ("BE", "Belgium"),
    ("NL", "Netherlands"),
    ("DK", "Denmark"),
    ("NO", "Norway"),
    ("SE", "Sweden"),
    ("FI", "Finland"),
    ("ES", "Spain"),
    ("PT", "Portugal"),
    ("IT", "Italy"),
    ("PL", "Poland"),
    ("AU", "Australia"),
    ("NZ", "New Zealand"),
    ("JP", "Japan"),
    ("IN", "India"),
    ("ZA", "South Africa"),
    ("BR", "Brazil"),
)

COUNTRIES: list[dict[str, Any]] = [
    {
        "id": number,
        "countryCode": code,
        "name": name.upper(),
        "displayName": name,
        "isActive": True,
        "isDefaultCountry": code == "US",
    }
    for number, (code, name) in enumerate(_COUNTRIES, start=1)
]


def country_id(name: str | None) -> int | None:
    """The id of a country the embedded PSA names (by display name, name or code)."""
    wanted = (name or "").strip().casefold()
    for item in COUNTRIES:
        if wanted in (item["countryCode"].casefold(), item["displayName"].casefold()):
            return int(item["id"])
    return None


def country_name(number: int) -> str | None:
    return next((item["displayName"] for item in COUNTRIES if item["id"] == number), None)
