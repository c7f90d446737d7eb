"""The command palette (ctrl+p): jump to any page, user or action by name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from console.app import MsextApp


class NavigationCommands(Provider):
    """Pages of the admin path, users by name or e-mail, and the app's actions."""

    @property
    def msext(self) -> MsextApp:
        return self.app  # type: ignore[return-value]

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.msext
        commands: list[tuple[str, Callable[[], object], str]] = [
            (
                " > ".join((*(page.CRUMB for page in cls.ancestors()), cls.CRUMB)),
                partial(app.go, cls),
                "Open this page",
            )
            for cls in app.pages()
        ]
        for resource in app.profile.resources():
            commands.append(
                (
                    f"User: {resource.name} <{resource.email}>",
                    partial(app.open_user, resource),
                    "Open this user's page",
                )
            )
        commands.extend(app.palette_actions())
        return commands

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            if not text.startswith("User: "):
                yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
