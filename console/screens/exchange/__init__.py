"""The MS Exchange extension's screens: its settings page, resources, sync activity."""
