"""Helpers of the sync suite: servers we can stop and restart on their port, and plain-HTTP views.

Effects on the server are always counted over plain httpx (the action log,
the case list), never by counting the client's calls.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from casedesk.domain.case import Case

Json = dict[str, Any]

DEMO_CASES = 60
DEMO_SEED = 7
START_TIMEOUT_S = 60.0
PAGE = 200

CLOCK_FIELDS = frozenset({"sla_status"})
"""Case fields the server derives from its clock at each read: two reads may differ."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A `casedesk serve --demo` on a fixed port, which a test may stop and start again.

    Started again on the same port and data dir, it keeps its database (the
    demo seeds an empty database only), so a client sees the same API come back.
    """

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra: tuple[str, ...] = ()
    cases: int = DEMO_CASES
    process: subprocess.Popen[bytes] | None = None
    users: list[Json] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "Server":
        """Start (or start again) and return once the port answers HTTP, whatever the status."""
        if self.running:
            return self
        command = [
            sys.executable, "-m", "casedesk", "serve", "--demo",
            "--demo-cases", str(self.cases), "--seed", str(DEMO_SEED),
            "--port", str(self.port), "--data-dir", str(self.data_dir), *self.extra,
        ]  # fmt: skip
        log = (self.data_dir.parent / f"{self.data_dir.name}-server.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"casedesk serve exited ({self.process.returncode}): {log.name}")
            try:
                # Any answer will do: a server started with --fault-error-rate 1 answers 500.
                httpx.get(f"{self.base_url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"casedesk serve did not answer within {START_TIMEOUT_S} s")
        keys = json.loads((self.data_dir / "demo-keys.json").read_text())
        self.users = keys["users"]
        return self

    def stop(self) -> None:
        """Stop the server (SIGINT, then SIGKILL); the port refuses connections afterwards."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> "Server":
        self.stop()
        return self.start()

    def org_users(self, org: int = 0) -> list[Json]:
        organizations: list[str] = []
        for user in self.users:
            if user["organization"]["id"] not in organizations:
                organizations.append(user["organization"]["id"])
        return [u for u in self.users if u["organization"]["id"] == organizations[org]]

    def user(self, role: str, org: int = 0, index: int = 0) -> Json:
        """A demo user whose roles are exactly `[role]` (`"both"`: both roles)."""
        wanted = {"contributor", "reviewer"} if role == "both" else {role}
        return [u for u in self.org_users(org) if set(u["roles"]) == wanted][index]

    def key(self, role: str, org: int = 0, index: int = 0) -> str:
        return str(self.user(role, org, index)["api_key"])

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"X-API-KEY": key}, timeout=30)


def start(directory: Path, *extra: str, cases: int = DEMO_CASES, port: int | None = None) -> Server:
    directory.mkdir(parents=True, exist_ok=True)
    server = Server(directory / "data", extra=tuple(extra), cases=cases)
    if port is not None:
        server.port = port
    return server.start()


# -- plain HTTP ----------------------------------------------------------------------


def get_json(client: httpx.Client, url: str, params: dict[str, Any] | None = None) -> Json:
    """A GET that waits out a 429 (servers started with --rate-limit) and must then be 200."""
    for _ in range(50):
        response = client.get(url, params=params)
        if response.status_code != 429:
            break
        time.sleep(float(response.headers.get("Retry-After", "1")))
    assert response.status_code == 200, f"GET {url}: {response.status_code} {response.text}"
    body: Json = response.json()
    return body


UNPAGED = ("/v1/users", "/v1/queues")
"""Lists the API answers whole, in one page: they take no `limit` (an unknown parameter is 400)."""


def all_pages(client: httpx.Client, url: str, params: dict[str, Any] | None = None) -> list[Json]:
    items: list[Json] = []
    query = {**({} if url.endswith(UNPAGED) else {"limit": PAGE}), **(params or {})}
    while True:
        body = get_json(client, url, query)
        items.extend(body["data"])
        page = body["meta"]["page"]
        if not page["has_more"]:
            return items
        query["cursor"] = page["cursor"]


def server_cases(client: httpx.Client, **params: Any) -> dict[str, Json]:
    """Every case the key's organization holds (filtered by `params`), by id, as on the wire."""
    found = all_pages(client, "/v1/cases", {"sort": "updated_at", **params})
    by_id = {case["id"]: case for case in found}
    assert len(by_id) == len(found), "the walk returned a case twice"
    return by_id


def server_case(client: httpx.Client, ref: str) -> Json:
    case: Json = get_json(client, f"/v1/cases/{ref}")["data"]
    return case


def action_log(client: httpx.Client, case_id: Any) -> list[Json]:
    """The case's permanent action log, oldest first."""
    return all_pages(client, f"/v1/cases/{case_id}/actions")


def entries_for(client: httpx.Client, case_id: Any, client_action_id: Any) -> list[Json]:
    """The log entries of one client action: exactly one once it was applied."""
    wanted = str(client_action_id)
    return [e for e in action_log(client, case_id) if e["client_action_id"] == wanted]


def post_action(
    client: httpx.Client, case_id: Any, body: Json, *, key: str | None = None, expect: int = 201
) -> Json:
    """An action sent over plain HTTP, as another console would (its own Idempotency-Key)."""
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    response = client.post(f"/v1/cases/{case_id}/actions", json=body, headers=headers)
    assert response.status_code == expect, f"{response.status_code}: {response.text}"
    answer: Json = response.json()
    return answer


def comment_on(client: httpx.Client, case_id: Any, text: str = "changed elsewhere") -> Json:
    """Change a case on the server (a comment); returns the case after it."""
    case: Json = post_action(client, case_id, {"type": "comment", "body": text})["data"]["case"]
    return case


def wire(case: Case | Json) -> Json:
    """A case as the API puts it on the wire, without the fields derived from the clock."""
    dumped = case.model_dump(mode="json") if isinstance(case, Case) else dict(case)
    return {name: value for name, value in dumped.items() if name not in CLOCK_FIELDS}


def file_bytes(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (relative path -> bytes), to see that nothing was written."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def closed_port() -> int:
    """A port nothing listens on (bound then released)."""
    return free_port()


def environ(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEDESK_")}
    env.update(values)
    return env
