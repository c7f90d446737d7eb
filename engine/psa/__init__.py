"""The PSA side: the source interface, the embedded SQLite PSA, its demo data."""
