"""server/rules."""
