"""Admin > Extensions & Integrations > Microsoft Extensions > MS Teams."""
