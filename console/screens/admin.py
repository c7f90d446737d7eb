"""The admin path down to the Microsoft extension modules, as the PSA's web admin shows it."""

from __future__ import annotations

from console.screens.menu import MenuScreen


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
