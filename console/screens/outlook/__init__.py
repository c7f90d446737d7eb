"""The MS Outlook extension's screens."""
