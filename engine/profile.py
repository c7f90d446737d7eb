"""One profile at run time: its settings, its PSA and the users the extension can serve."""

from __future__ import annotations

from functools import cached_property

from engine.adsync.state import AdSyncState
from engine.errors import UserError
from engine.exchange.capabilities import Comparison, UserRef, evaluate
from engine.humanize import count
from engine.installation import installation_id
from engine.paths import ProfilePaths
from engine.psa.embedded import EmbeddedPsa
from engine.psa.model import Resource
from engine.psa.source import PsaSource
from engine.settings.model import Person, PsaKind, PsaSettings, Settings
from engine.settings.store import SettingsStore
from engine.state import StateStore
from engine.teams.state import TeamsState


def open_rest_psa(psa: PsaSettings, paths: ProfilePaths, secret: str | None = None) -> PsaSource:
    """The PSA's REST API as a source (zone discovery happens here); ``secret`` is the API
    user's secret when it is not saved yet (the setup wizard)."""
    from engine.psa.rest import RestPsa
    from engine.psa.rest_client import PsaRestClient, RequestBudget
    from engine.settings.secrets import resolve_secret

    if not (psa.rest_url and psa.rest_username and psa.rest_integration_code):
        raise UserError("set the PSA REST API's URL, API user and integration code")
    if secret is None:
        if not psa.rest_secret:
            raise UserError("set the secret reference of the PSA's API user (psa.rest_secret)")
        secret = resolve_secret(psa.rest_secret, paths)
    client = PsaRestClient(
        psa.rest_url,
        psa.rest_username,
        secret,
        psa.rest_integration_code,
        limits=psa.http_limits(),
        max_wait=psa.rest_max_wait_seconds,
        budget=RequestBudget(psa.rest_requests_per_hour, paths.state_dir / "psa-budget.sqlite"),
    )
    source = RestPsa(client, paths.state_dir / "psa-tickets.sqlite")
    source.adopt_origin_file(paths.state_dir / "psa-rest.sqlite")
    return source


class Profile:
    """Opens what a profile needs lazily; close it when done."""

    def __init__(
        self,
        paths: ProfilePaths,
        store: SettingsStore | None = None,
        settings: Settings | None = None,
        psa: PsaSource | None = None,
    ) -> None:
        """``settings`` and ``psa`` stand in for the saved ones (the setup wizard's trials)."""
        self.paths = paths
        self.store = store or SettingsStore(paths)
        self.store.people = self.people
        self._settings: Settings | None = settings
        if psa is not None:
            self.__dict__["psa"] = psa

    @property
    def name(self) -> str:
        return self.paths.name

    @property
    def settings(self) -> Settings:
        """The effective settings, read once; :meth:`reload` after a save elsewhere."""
        if self._settings is None:
            self._settings = self.store.load()
        return self._settings

    def reload(self) -> Settings:
        self._settings = None
        return self.settings

    @cached_property
    def installation(self) -> str:
        """The id this installation stamps its mailbox items with."""
        return installation_id(self.paths)

    @cached_property
    def psa(self) -> PsaSource:
        settings = self.settings
        if settings.psa.kind is PsaKind.REST:
            return open_rest_psa(settings.psa, self.paths)
        if not self.paths.psa_db.exists():
            raise UserError(
                f"profile {self.name!r} has no embedded PSA yet ({self.paths.psa_db});"
                f" create the demo with: {self.paths.command('demo', '--seed-only')}"
            )
        return EmbeddedPsa(self.paths.psa_db)

    @cached_property
    def state(self) -> StateStore:
        """The sync state database (created on first use)."""
        self.paths.ensure()
        return StateStore(self.paths.state_db)

    @cached_property
    def adsync(self) -> AdSyncState:
        """AD Sync's state database (created on first use)."""
        self.paths.ensure()
        return AdSyncState(self.paths.adsync_db)

    @cached_property
    def teams(self) -> TeamsState:
        """MS Teams' outbox and error log (created on first use)."""
        self.paths.ensure()
        return TeamsState(self.paths.teams_db)

    def resources(self) -> list[Resource]:
        return self.psa.resources()

    def people(self) -> dict[int, Person]:
        """The PSA's resources as the settings check of mailboxes needs them."""
        return self._people

    @cached_property
    def _people(self) -> dict[int, Person]:
        """Read once: a settings page validates on every change."""
        return {resource.id: (resource.name, resource.email) for resource in self.resources()}

    def find_user(self, query: str) -> Resource:
        """A resource by id, e-mail address, or a unique part of its name."""
        text = query.strip().lower()
        resources = self.resources()
        exact = [
            resource
            for resource in resources
            if text in (str(resource.id), resource.email.lower(), resource.name.lower())
            or text == (self.settings.resource(resource.id).mailbox or "")
        ]
        matches = exact or [resource for resource in resources if text in resource.name.lower()]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UserError(f"no PSA resource matches {query!r}; try an e-mail address or an id")
        names = ", ".join(f"{match.name} <{match.email}>" for match in matches[:5])
        raise UserError(
            f"{query!r} matches {count(len(matches), 'resource')} ({names}); be more precise"
        )

    def mailbox_address(self, resource: Resource) -> str:
        return self.settings.mailbox_address(resource.id, resource.email)

    def comparison(self, resource: Resource) -> Comparison:
        return evaluate(self.settings, UserRef(resource.id, resource.name, resource.email))

    def close(self) -> None:
        for name in ("psa", "state", "adsync", "teams"):
            if name in self.__dict__:
                self.__dict__.pop(name).close()
