"""casedesk: a keyboard-driven console for case reviewers, and its case API."""

__version__ = "0.1.0"
