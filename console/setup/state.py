"""What the setup wizard has gathered so far; nothing of it is written until the last step."""

from __future__ import annotations

from dataclasses import dataclass, field

from console.forms import Draft
from engine.profile import Profile
from engine.runner import RunResult
from engine.settings.model import Settings
from engine.setup import MailboxMatch


@dataclass
class SetupState:
    profile: Profile
    draft: Draft
    secret: str = ""
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

    def trial_profile(self) -> Profile:
        """The profile as it would be with the draft saved, for checks and the dry run."""
        return Profile(self.profile.paths, settings=self.settings())
