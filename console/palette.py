"""The command palette (ctrl+p): jump to any page, user or action by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from console.navigation import Navigator, PaletteAction, navigator
from console.screens.base import PageScreen


class NavigationCommands(Provider):
    """Pages of the admin path, users by name or e-mail, and the app's actions."""

    @property
    def msext(self) -> Navigator:
        return navigator(self.app)

    def _commands(self) -> list[PaletteAction]:
        app = self.msext
        commands: list[PaletteAction] = [
            (
                " > ".join((*(page.CRUMB for page in cls.ancestors()), cls.CRUMB)),
                partial(app.go, cls),
                "Open this page",
            )
            for cls in app.pages()
            if issubclass(cls, PageScreen) and cls.PALETTE
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
                yield Hit(score, _highlight(matcher, text), command, text=text, help=help_text)


def _highlight(matcher: Matcher, text: str) -> Content:
    """What ``Matcher.highlight`` does, over plain text: it reads its candidate as markup,
    and a user's name such as "Brooks [/b]" broke the search for every user."""
    content = Content(text)
    _, offsets = matcher.fuzzy_search.match(matcher.query, text)
    for offset in offsets:
        if not text[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
