"""What the console asks of an organization's directory besides a run: *Test connection*
with the settings on its page, and the LDAPS server's certificate for the SSL column."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from engine.adsync.model import CertificateStatus, CheckStep
from engine.adsync.run import open_directory
from engine.paths import ProfilePaths
from engine.settings.model import Settings


def check_directory(
    company_id: int, settings: Settings, paths: ProfilePaths, today: date
) -> Iterator[CheckStep]:
    """*Test connection*: the directory's own steps, each as soon as it is known."""
    with open_directory(company_id, settings, paths, today) as directory:
        yield from directory.check()


def certificate_status(
    company_id: int, settings: Settings, paths: ProfilePaths, today: date
) -> CertificateStatus:
    """The LDAPS server's certificate: valid until when, or why not."""
    with open_directory(company_id, settings, paths, today) as directory:
        return directory.certificate_status()  # type: ignore[attr-defined]
