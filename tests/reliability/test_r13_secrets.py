"""R13: a sentinel API key, debug logging, a forced crash: the key shows up nowhere but its
header; it never follows a redirect to another origin, never sits in a URL; every file the
console creates is 0600 (directories 0700) under umask 000, 022 and 077.

Built on tests/api/leaks.py (the sentinel, `leaks`, `crash_report`) and tests/api/rawhttp.py.
The sentinel is made a working key of this suite's server (its hash added to `api_keys`),
so syncing and acting succeed with it and the success paths are scanned too.
"""

import contextlib
import io
import logging
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from figures import Recorder, Tier, counting
from kit import close_service, comment, service_for
from leaks import SENTINEL, crash_report, leaks
from rawhttp import Exchange, RawServer, response
from rich.console import Console
from synckit import Server, environ
from test_r09_r11_answers import Wire

from casedesk.api.client import CaseApiClient
from casedesk.api.errors import CaseApiError
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.server.keys import hash_api_key
from casedesk.tui.app import CasedeskApp
from casedesk.tui.settings import ConsoleSettings

UMASKS = (0o000, 0o022, 0o077)


@pytest.fixture(scope="module")
def sentinel_works(server: Server) -> str:
    """Make the sentinel a key of the server's reviewer (only its hash is stored, as usual)."""
    with server.client(server.key("reviewer")) as http:
        user = http.get("/v1/me").json()["data"]
    with sqlite3.connect(server.data_dir / "casedesk.db") as db:
        db.execute(
            "INSERT OR IGNORE INTO api_keys (key_hash, user_id, created_at) VALUES (?, ?, ?)",
            (hash_api_key(SENTINEL), user["id"], datetime.now(UTC).isoformat()),
        )
    with server.client(SENTINEL) as http:
        assert http.get("/v1/me").status_code == 200
    return SENTINEL


@pytest.fixture
def debug_log(tmp_path: Path) -> Iterator[Path]:
    """Everything casedesk, httpx and httpcore log at DEBUG, into a file, as a user would keep."""
    path = tmp_path / "debug.log"
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("casedesk", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(old)
    handler.close()


class Scan:
    """Every artifact scanned for the sentinel (or its first 12 characters)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.artifacts = 0
        self.hits: list[str] = []

    def text(self, where: str, text: str) -> None:
        self.artifacts += 1
        self.bytes += len(text.encode("utf-8", "replace"))
        if leaks(text):
            self.hits.append(where)

    def files(self, where: str, root: Path) -> None:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                self.text(f"{where}/{path.relative_to(root)}", path.read_bytes().decode("latin-1"))


def exit_output(app: CasedeskApp) -> str:
    """What Textual would print on its way out: its traceback with every frame's locals."""
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    for renderable in app._exit_renderables:
        console.print(renderable)
    return out.getvalue()


class Exploding(httpx.AsyncBaseTransport):
    """An unexpected bug deep in the request path (not an HTTP error): the request, with its
    headers, is a local of every frame on the way up."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in the transport")


async def test_r13_the_key_is_in_no_log_file_crash_screenshot_or_repr(
    server: Server,
    sentinel_works: str,
    synced_dir: Path,
    tmp_path: Path,
    debug_log: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    recorder: Recorder,
) -> None:
    record = recorder.record("R13")
    scan = Scan()
    shutil.rmtree(synced_dir)  # a fresh data dir: everything in it was written with the sentinel
    wire = Wire()
    with counting(record):
        service = service_for(synced_dir, server.base_url, sentinel_works, transport=wire)
        try:
            await service.sync()
            row = next(r for r in service.store.cache.rows() if r.status.value != "closed")
            sent = await service.act(row.reference, comment("R13 sent with the sentinel"))
            record.check(sent.sent, f"the action did not go through: {sent.error}")
            await service.save_draft(row.id, "comment", {"body": "a draft"})
            for thing in (service, service.backend, service.store, sent, sent.item, wire.sent):
                scan.text(f"repr {type(thing).__name__}", repr(thing))
            # The console, then a bug inside it: Textual's crash output and a screenshot.
            app = CasedeskApp(service, ConsoleSettings(profile="test", sync_on_start=False))
            crashed = None
            try:
                async with app.run_test(size=(160, 50)) as pilot:
                    await pilot.press("enter")
                    await pilot.app.workers.wait_for_complete()
                    await pilot.pause()
                    scan.text("screenshot", app.export_screenshot())
                    app.call_later(service_bug, service)
                    await pilot.pause()
            except RuntimeError as error:
                crashed = error
            record.check(crashed is not None, "the forced bug did not crash the console")
            output = exit_output(app) + capsys.readouterr().err  # printed on the way out
            record.check("forced bug near" in output, "no crash output")
            scan.text("console crash output", output)
        finally:
            await close_service(service)
        # A bug deep in the client, rendered as Textual renders a crash (locals shown).
        scan.text("client crash report", await client_bug(server.base_url, sentinel_works))
        # The CLI, at its most talkative, with the sentinel in its environment.
        home = tmp_path / "home"
        env = environ(CASEDESK_HOME=str(home), CASEDESK_API_KEY=sentinel_works)
        url = ["--url", server.base_url]
        unreachable = ["--url", "http://127.0.0.1:9"]
        for args in (
            [*url, "sync"],
            [*url, "cases", "--json"],
            [*url, "outbox"],
            [*unreachable, "sync"],
            [*url, "act", "CAS-999999", "comment", "--body", "x"],
        ):
            run = subprocess.run(
                [sys.executable, "-m", "casedesk", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            scan.text(f"casedesk {' '.join(args)}", run.stdout + run.stderr)
        scan.files("data dir", synced_dir)
        scan.files("CLI home", home)
        scan.text("debug log file", debug_log.read_text())
        scan.text("log records", "\n".join(r.getMessage() + repr(r.args) for r in caplog.records))
        scan.text("server log", server_log(server))
        urls = [sent.path for sent in wire.sent]
        scan.text("request URLs", "\n".join(urls))
        record.check(any(r.name.startswith("httpcore") for r in caplog.records), "DEBUG was not on")
        for hit in scan.hits:
            record.fail(f"the sentinel is in {hit}")
    record.iterations += scan.artifacts
    record.note(
        "scan",
        f"{len(scan.hits)} sentinel hits in {scan.artifacts} artifacts ({scan.bytes / 1e6:.1f} MB: "
        "DEBUG log file and records, cache, outbox, drafts, lock, CLI output, Textual's crash "
        f"output, a client crash report, a screenshot, reprs, {len(urls)} request URLs)",
    )


async def client_bug(url: str, key: str) -> str:
    """The crash report of a bug under `CaseApiClient.me()` (frames from here down)."""
    broken = CaseApiClient(url, ApiKey(key), transport=Exploding())
    del key  # only the client holds it now, as in the console
    try:
        await broken.me()
    except RuntimeError as error:
        return crash_report(error)
    finally:
        await broken.aclose()
    raise AssertionError("the bug did not happen")


def service_bug(service: Any) -> None:
    """A bug in the console with the service (and its key) in reach."""
    client = service.backend
    raise RuntimeError(f"forced bug near {client!r}")


def server_log(server: Server) -> str:
    path = server.data_dir.parent / f"{server.data_dir.name}-server.log"
    return path.read_text(errors="replace") if path.exists() else ""


async def test_r13_redirects_never_carry_the_key_to_another_origin(
    tier: Tier, recorder: Recorder
) -> None:
    record = recorder.record("R13")
    statuses = (301, 302, 303, 307, 308)
    repeats = tier.count(4, 40)
    foreign = 0
    with counting(record):
        async with RawServer(lambda exchange: response(200, {"data": {}})) as elsewhere:
            for status in statuses:
                for repeat in range(repeats):
                    target = f"{elsewhere.base_url}/v1/me?from={status}-{repeat}"

                    def redirect(
                        exchange: Exchange, target: str = target, status: int = status
                    ) -> bytes:
                        headers = {"Location": target}
                        return response(status, b"", content_type=None, headers=headers)

                    async with RawServer(redirect) as origin:
                        client = CaseApiClient(
                            origin.base_url, ApiKey(SENTINEL), retry=RetryPolicy.never()
                        )
                        async with client:
                            with contextlib.suppress(CaseApiError):
                                await client.me()
                        record.check(
                            all(leaks(e.headers.get("x-api-key", "")) for e in origin.exchanges)
                            and not any(leaks(e.target) for e in origin.exchanges),
                            f"{status}: the key was not in its header only",
                        )
            foreign = sum(1 for e in elsewhere.exchanges if leaks(str(e.headers)))
            record.check(foreign == 0, f"{foreign} requests reached the other origin with the key")
            reached = len(elsewhere.exchanges)
    runs = len(statuses) * repeats
    record.iterations += runs
    record.faults_injected += runs
    record.note(
        "redirects",
        f"{runs} redirects ({', '.join(map(str, statuses))}) to another origin: {reached} "
        f"requests reached it, {foreign} with the key",
    )


def modes(root: Path) -> tuple[list[str], int, int]:
    """Paths not private, and how many files and directories were checked."""
    wrong, files, dirs = [], 0, 0
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            dirs += 1
            if mode != 0o700:
                wrong.append(f"{path.relative_to(root.parent)} {mode:o}")
        else:
            files += 1
            if mode != 0o600:
                wrong.append(f"{path.relative_to(root.parent)} {mode:o}")
    return wrong, files, dirs


async def test_r13_every_file_is_private_whatever_the_umask(
    server: Server, synced_template: Path, tmp_path: Path, recorder: Recorder
) -> None:
    record = recorder.record("R13")
    checked_files = checked_dirs = 0
    with counting(record):
        for umask in UMASKS:
            previous = os.umask(umask)
            try:
                data = tmp_path / f"umask-{umask:03o}" / "profile"
                service = service_for(data, server.base_url, server.key("reviewer"))
                try:
                    await service.sync()
                    row = next(r for r in service.store.cache.rows() if r.status.value != "closed")
                    await service.act(row.reference, comment(f"umask {umask:03o}"), send=False)
                    await service.save_draft(row.id, "comment", {"body": "draft"})
                    service.mark_chat_read(row.id)
                finally:
                    await close_service(service)
                home = tmp_path / f"home-{umask:03o}"
                subprocess.run(
                    [sys.executable, "-m", "casedesk", "--url", server.base_url, "sync"],
                    env=environ(CASEDESK_HOME=str(home), CASEDESK_API_KEY=server.key("reviewer")),
                    capture_output=True,
                    timeout=60,
                )
            finally:
                os.umask(previous)
            for root in (data, home / "data"):
                wrong, files, dirs = modes(root)
                checked_files, checked_dirs = checked_files + files, checked_dirs + dirs
                for path in wrong:
                    record.fail(f"umask {umask:03o}: {path}")
    record.iterations += len(UMASKS)
    record.note(
        "modes",
        f"{checked_files} files and {checked_dirs} directories created under umask "
        f"{', '.join(f'{u:03o}' for u in UMASKS)} (service and CLI): "
        f"{record.found} not 0600/0700",
    )
