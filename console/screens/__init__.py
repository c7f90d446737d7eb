"""The console's screens: one per admin page, each with its ``.tcss`` beside it."""
