"""The case API (`casedesk serve`): FastAPI over SQLite, on the rules of casedesk.domain."""
