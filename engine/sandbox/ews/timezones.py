"""GetServerTimeZones for time zones without daylight saving time.

exchangelib asks for the definition of a request's time zone before GetUserAvailability and
other calls that carry one. A zone with a fixed offset (UTC, most of Asia and Africa) is one
standard period; a zone with daylight saving time would need its yearly transitions, which
the emulator does not build: it refuses that by name instead of answering a wrong offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP

from engine.sandbox.ews.items import UnsupportedError
from engine.sandbox.ews.soap import EwsError
from engine.sandbox.ews.xml import m, sub, t


def definitions(windows_id: str, full: bool) -> ET.Element:
    """The TimeZoneDefinitions answering for one Windows time zone id."""
    iana = MS_TIMEZONE_TO_IANA_MAP.get(windows_id)
    if iana is None:
        raise EwsError("ErrorTimeZone", f"The time zone {windows_id!r} is not known.")
    offset = _fixed_offset(ZoneInfo(iana))
    if offset is None:
        raise UnsupportedError(
            f"GetServerTimeZones for {windows_id!r}, a zone with daylight saving time"
        )
    definitions = ET.Element(m("TimeZoneDefinitions"))
    definition = sub(definitions, t("TimeZoneDefinition"), Id=windows_id, Name=windows_id)
    if not full:
        return definitions
    period = f"trule:Microsoft/Registry/{windows_id}/1-Standard"
    periods = sub(definition, t("Periods"))
    sub(periods, t("Period"), Bias=_duration(-offset), Name="Standard", Id=period)
    group = sub(sub(definition, t("TransitionsGroups")), t("TransitionsGroup"), Id="0")
    sub(sub(group, t("Transition")), t("To"), period, Kind="Period")
    sub(sub(sub(definition, t("Transitions")), t("Transition")), t("To"), "0", Kind="Group")
    return definitions


def _fixed_offset(zone: ZoneInfo) -> timedelta | None:
    """The zone's UTC offset when it is the same all this year and next, else None."""
    year = datetime.now(UTC).year
    offsets = {
        datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone).utcoffset()
        for month in range(24)
    }
    return offsets.pop() if len(offsets) == 1 else None


def _duration(delta: timedelta) -> str:
    """An xs:duration such as ``-PT5H30M`` or ``PT0M``."""
    minutes = int(delta.total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else ""), abs(minutes)
    hours, minutes = divmod(minutes, 60)
    return f"{sign}PT{hours}H{minutes}M" if hours else f"{sign}PT{minutes}M"
