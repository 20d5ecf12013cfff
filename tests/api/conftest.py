"""Shared pieces of the API client tests: mocked-transport clients and a sleep that only records."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey

BASE_URL = "https://cases.example.com"
KEY = "cdk_test_key_0123456789abcdefghijklmnopqrstuv"


class Sleeps:
    """Stands in for `asyncio.sleep`: records each wait and moves a fake clock instead."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 1000.0

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def policy(self, **options: Any) -> RetryPolicy:
        """A retry policy that sleeps and tells time through this recorder."""
        return RetryPolicy(sleep=self, clock=self.clock, **options)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


Handler = Callable[[httpx.Request], httpx.Response]
MakeClient = Callable[..., CaseApiClient]


@pytest.fixture
async def make_client(sleeps: Sleeps) -> AsyncIterator[MakeClient]:
    """Build clients over `httpx.MockTransport(handler)`, retrying without really waiting."""
    made: list[CaseApiClient] = []

    def build(
        handler: Handler, *, retry: RetryPolicy | None = None, **options: Any
    ) -> CaseApiClient:
        client = CaseApiClient(
            options.pop("base_url", BASE_URL),
            options.pop("api_key", ApiKey(KEY)),
            transport=httpx.MockTransport(handler),
            retry=retry or sleeps.policy(attempts=4),
            **options,
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()
