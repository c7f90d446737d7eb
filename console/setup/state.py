"""What the setup wizard has gathered so far; nothing of it is written until the last step."""

from __future__ import annotations

from dataclasses import dataclass, field

from console.forms import Draft
from console.screens.exchange.page import uses_graph
from engine.exchange.runner import RunResult
from engine.exchange.setup import MailboxMatch
from engine.profile import Profile, open_rest_psa
from engine.psa.model import Resource
from engine.psa.source import PsaSource
from engine.settings.model import PsaKind, PsaSettings, Settings
from engine.settings.store import validate_section


@dataclass
class SetupState:
    profile: Profile
    draft: Draft
    secret: str = ""
    psa_secret: str = ""
    """The PSA API user's secret, typed on the first step (REST API only)."""
    psa_ok: bool = False
    psa_created: bool = False
    connection_ok: bool = False
    impersonation_ok: bool = False
    matches: list[MailboxMatch] = field(default_factory=list)
    selected: set[int] = field(default_factory=set)
    plan: RunResult | None = None

    def settings(self) -> Settings:
        """The draft with the chosen resources enabled (the extension itself not yet)."""
        for match in self.matches:
            self.draft.set(f"exchange.resources.{match.resource.id}.enabled", None)
        for resource_id in self.selected:
            self.draft.set(f"exchange.resources.{resource_id}.enabled", True)
        return self.draft.settings()

    def graph(self) -> bool:
        """Whether the mailboxes are reached through Microsoft Graph (else EWS)."""
        return uses_graph(self.draft)

    def sandbox(self) -> bool:
        """Whether Exchange is the profile's embedded emulators (the demo), whatever URL."""
        return self.draft.get("sandbox.enabled") is True

    def rest(self) -> bool:
        return self.draft.get("psa.kind") == PsaKind.REST.value

    def source(self) -> PsaSource:
        """A new connection to the PSA chosen on the first step; the caller closes it.

        Only the first step's own fields are checked: a later step's bad field must not
        fail the PSA test, which Next on the first step needs (the wizard would trap)."""
        if self.rest():
            psa = validate_section(self.draft.document, "psa")
            assert isinstance(psa, PsaSettings)
            return open_rest_psa(psa, self.profile.paths, self.psa_secret)
        return Profile(self.profile.paths).psa

    def resources(self) -> list[Resource]:
        source = self.source()
        try:
            return source.resources()
        finally:
            source.close()

    def trial_profile(self) -> Profile:
        """The profile as it would be with the draft saved, for checks and the dry run."""
        return Profile(self.profile.paths, settings=self.settings(), psa=self.source())
