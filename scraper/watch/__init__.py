"""Watching pages: what the archive tells people about new versions (feeds, notifications)."""
