"""MS Teams: PSA events and sync alerts posted to Teams channels as Adaptive Cards."""
