"""Keeping the local cache and the outbox in step with the case API."""
