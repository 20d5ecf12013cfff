"""Pieces the network scenarios share: services wired as cli.py wires them, and server views."""

import json
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from synckit import Server, action_log

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.domain.actions import CommentAction
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService

FAST_RETRY = RetryPolicy(attempts=4, wait_initial=0.02, wait_max=0.1)


def service_for(
    data_dir: Path,
    url: str,
    key: str,
    *,
    retry: RetryPolicy = FAST_RETRY,
    timeout: float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> CaseService:
    """A LocalStore over `data_dir` and an API client for `url`, as cli.py wires them."""
    store = LocalStore.open(data_dir, freeze_gc=False)
    client = CaseApiClient(url, ApiKey(key), retry=retry, timeout=timeout, transport=transport)
    return CaseService(profile_name="test", store=store, backend=client)


async def close_service(service: CaseService) -> None:
    if service.backend is not None:
        await service.backend.aclose()  # type: ignore[attr-defined]
    service.store.close()


def comment(text: str) -> CommentAction:
    return CommentAction(type="comment", body=text)


def effects(http: httpx.Client, case_ids: Iterable[Any]) -> dict[str, int]:
    """How many action-log entries each client_action_id has on the server (the effects)."""
    counted: dict[str, int] = {}
    for case_id in set(case_ids):
        for entry in action_log(http, case_id):
            if entry["client_action_id"]:
                counted[entry["client_action_id"]] = counted.get(entry["client_action_id"], 0) + 1
    return counted


def write_target(directory: Path, url: str, key: str) -> None:
    """Where a forked worker finds its API (never on a command line)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "target.json").write_text(json.dumps({"url": url, "key": key}))


def new_key() -> str:
    return str(uuid.uuid4())


def wait_for(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.005)


__all__ = ["Server"]
