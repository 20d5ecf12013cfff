"""Fixtures shared by every suite: a real `casedesk serve --demo` on 127.0.0.1."""

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from casedesk.server_process import ServerProcess
from casedesk.server_process import start_server as launch

DEMO_CASES = 60
DEMO_SEED = 7


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        default=False,
        help="tests/reliability: run the full tier (the issue's counts), not the smoke tier",
    )


@dataclass
class LiveServer:
    """A `casedesk serve` process and the demo users it seeded."""

    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    users: list[dict[str, Any]] = field(default_factory=list)
    handle: ServerProcess | None = None

    def org_users(self, org: int = 0) -> list[dict[str, Any]]:
        organizations: list[str] = []
        for user in self.users:
            if user["organization"]["id"] not in organizations:
                organizations.append(user["organization"]["id"])
        return [u for u in self.users if u["organization"]["id"] == organizations[org]]

    def user(self, role: str, org: int = 0, index: int = 0) -> dict[str, Any]:
        """A demo user whose roles are exactly `[role]`, or both roles for `role="both"`."""
        wanted = {"contributor", "reviewer"} if role == "both" else {role}
        matches = [u for u in self.org_users(org) if set(u["roles"]) == wanted]
        return matches[index]

    def key(self, role: str, org: int = 0, index: int = 0) -> str:
        return str(self.user(role, org, index)["api_key"])

    def client(self, key: str | None, **headers: str) -> httpx.Client:
        """A plain httpx client for this server, authenticated with `key` (if any)."""
        base = {"X-API-KEY": key} if key else {}
        return httpx.Client(base_url=self.base_url, headers={**base, **headers}, timeout=30)


def start_server(data_dir: Path, *extra: str, cases: int = DEMO_CASES) -> LiveServer:
    """Start `casedesk serve --demo` on a free port (the product's own launcher)."""
    log = (data_dir.parent / f"{data_dir.name}-server.log").open("wb")
    handle = launch(data_dir, *extra, demo_cases=cases, seed=DEMO_SEED, log=log)
    return LiveServer(
        base_url=handle.base_url,
        data_dir=data_dir,
        process=handle.process,
        users=handle.demo_users(),
        handle=handle,
    )


def stop_server(server: LiveServer) -> None:
    if server.handle is not None:
        server.handle.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One demo server for the whole run; tests that change cases create their own."""
    server = start_server(tmp_path_factory.mktemp("server") / "data")
    yield server
    stop_server(server)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the real user's config, data or cache."""
    monkeypatch.setenv("CASEDESK_HOME", str(tmp_path / "casedesk-home"))
    monkeypatch.delenv("CASEDESK_API_KEY", raising=False)
    os.environ.pop("CASEDESK_PROFILE", None)
