"""Fixtures shared by every suite: a real `casedesk serve --demo` on 127.0.0.1."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

DEMO_CASES = 60
DEMO_SEED = 7
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    """A `casedesk serve` process and the demo users it seeded."""

    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    users: list[dict[str, Any]] = field(default_factory=list)

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
    """Start `casedesk serve --demo` on a free port; return once it answers."""
    port = free_port()
    command = [
        sys.executable, "-m", "casedesk", "serve", "--demo",
        "--demo-cases", str(cases), "--seed", str(DEMO_SEED),
        "--port", str(port), "--data-dir", str(data_dir), *extra,
    ]  # fmt: skip
    log = (data_dir.parent / f"{data_dir.name}-server.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"casedesk serve exited with {process.returncode}; see {log.name}")
        try:
            if httpx.get(f"{base_url}/openapi.json", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"casedesk serve did not answer within {START_TIMEOUT_S} s")
    keys = json.loads((data_dir / "demo-keys.json").read_text())
    return LiveServer(base_url=base_url, data_dir=data_dir, process=process, users=keys["users"])


def stop_server(server: LiveServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


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
