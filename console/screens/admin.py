"""The admin path down to the Microsoft extension modules, as the PSA's web admin shows it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.widgets import Markdown

from console.navigation import Navigator
from console.screens.base import PageScreen
from console.screens.menu import MenuScreen

NOT_AVAILABLE = "not available in this release"


class AdminScreen(MenuScreen):
    CRUMB = "Admin"
    HELP = (
        "The administrator's home. Open **Extensions & Integrations** to configure the"
        " Microsoft extension modules, **Users** to see what each module does for one user"
        " and why their sync fails, or **Sync activity** to watch and start runs."
    )
    INTRO = "Configure the PSA's Microsoft extensions, or look at one user."


class ExtensionsScreen(MenuScreen):
    CRUMB = "Extensions & Integrations"
    PARENT = AdminScreen
    HELP = "Integrations of the PSA with other products. This console covers Microsoft's."
    SUMMARY = "Microsoft extension modules: Active Directory, MS Outlook, MS Exchange, Teams"


class MicrosoftExtensionsScreen(MenuScreen):
    CRUMB = "Microsoft Extensions"
    PARENT = ExtensionsScreen
    HELP = (
        "The four extension modules the PSA vendor builds for Microsoft applications. The"
        " MS Outlook and the MS Exchange extension do many of the same things but synchronize"
        " differently: Exchange is an automatic, server-side process the administrator"
        " controls; Outlook gives users more control through manual synchronization."
    )
    SUMMARY = "Active Directory sync, MS Outlook extension, MS Exchange extension, Teams"


class ModuleInfoScreen(PageScreen):
    """A module this release does not configure: what it does, and that it is not here."""

    CSS_PATH = "admin.tcss"
    PARENT = MicrosoftExtensionsScreen
    PALETTE = False
    DESCRIPTION: ClassVar[str] = ""

    @classmethod
    def menu_state(cls, console: Navigator) -> str:
        return NOT_AVAILABLE

    def compose_page(self) -> ComposeResult:
        yield Markdown(
            f"{self.DESCRIPTION}\n\n**Not available in this release.** This console does not"
            " configure this module yet; configure it in the PSA's web admin.",
            id="module-info",
        )


class TeamsScreen(ModuleInfoScreen):
    CRUMB = "Microsoft Teams"
    HELP = "What the Microsoft Teams integration does. Esc goes back."
    SUMMARY = "The Microsoft Teams integration"
    PALETTE = True
    DESCRIPTION = (
        "## Microsoft Teams integration\n\n"
        "Connects the PSA with Microsoft Teams, so that people can work with PSA records"
        " from within Teams."
    )
