"""Fixtures of the sync suite: servers per module, and services wired the way cli.py wires them."""

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Protocol

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from synckit import Server, start

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService

FAST_RETRY = RetryPolicy(attempts=2, wait_initial=0.05, wait_max=0.2)


class ServerFactory(Protocol):
    def __call__(self, *extra: str, cases: int = ...) -> Server: ...


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Start demo servers of this module (`servers("--rate-limit", "2")`); all stop at its end."""
    started: list[Server] = []

    def make(*extra: str, cases: int = 60) -> Server:
        server = start(tmp_path_factory.mktemp("server"), *extra, cases=cases)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def server(servers: ServerFactory) -> Server:
    """This module's own demo server (tests here change cases: not the shared live_server)."""
    return servers()


@pytest.fixture(scope="session")
def error_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that answers 500 to every request (`--fault-error-rate 1`)."""
    server = start(tmp_path_factory.mktemp("errors"), "--fault-error-rate", "1", cases=5)
    yield server
    server.stop()


@pytest.fixture
def up(server: Server) -> Iterator[Server]:
    """The module's server, running at the start of the test and again at its end
    (a test may stop it to be offline, and start it again on the same port and data)."""
    server.start()
    yield server
    server.start()


@pytest.fixture
def reviewer(server: Server) -> Iterator[httpx.Client]:
    """Plain HTTP as the service's own user (reviewer of org 0)."""
    with server.client(server.key("reviewer")) as client:
        yield client


@pytest.fixture
def colleague(server: Server) -> Iterator[httpx.Client]:
    """Plain HTTP as another user of org 0 (both roles): changes made "elsewhere"."""
    with server.client(server.key("both")) as client:
        yield client


class Services:
    """`services(url, key)`: a LocalStore (tmp_path/"data") and an API client, wired as cli.py does.

    Everything opened is closed at the end of the test; `services.close(service)`
    closes one earlier (the console quits), so another can open the same data dir.
    """

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.made: list[CaseService] = []
        self.closed: set[int] = set()

    def __call__(
        self,
        url: str,
        key: str,
        *,
        data_dir: Path | None = None,
        retry: RetryPolicy = FAST_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> CaseService:
        store = LocalStore.open(data_dir or self.tmp_path / "data")
        client = CaseApiClient(url, ApiKey(key), retry=retry, transport=transport)
        service = CaseService(profile_name="test", store=store, backend=client)
        self.made.append(service)
        return service

    async def close(self, service: CaseService) -> None:
        if id(service) in self.closed:
            return
        self.closed.add(id(service))
        if service.backend is not None:
            await service.backend.aclose()
        service.store.close()


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    made = Services(tmp_path)
    yield made
    for service in made.made:
        await made.close(service)
