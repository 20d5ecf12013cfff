"""The case API client: `client.CaseApiClient` implements the `backend.CaseBackend` port.

Nothing is imported here, so that `casedesk.config` can use `api.secret`
without paying for httpx and the models at start-up.
"""
