"""Regenerate the SVG screenshots of every screen: `python screenshots/export.py`.

Each scene starts from the same demo data (fixed seed, frozen clock), drives
the console with Pilot and saves what a reviewer would see. Same inputs, same
SVGs, so diffs are reviewable.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.widgets import Input

from casedesk.api.client import CaseApiClient
from casedesk.api.secret import ApiKey
from casedesk.domain.clock import frozen_clock
from casedesk.server_process import start_server
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.settings import ConsoleSettings

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SEED = 11
CASES = 300
SIZE = (160, 48)

Setup = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True)
class Scene:
    name: str
    keys: tuple[str, ...] = ()
    size: tuple[int, int] = SIZE
    offline: bool = False
    theme: str = "dark"
    before: tuple[Setup, ...] = field(default=())


async def _type_filter(pilot: Any, text: str) -> None:
    field_ = pilot.app.screen.query_one("#filter-input", Input)
    field_.focus()
    field_.value = text
    await pilot.pause()


async def _new_case_with_mistakes(pilot: Any) -> None:
    """The new-case form filled in with a few mistakes, submitted: errors under their lines."""
    await pilot.press("N")
    await pilot.pause()
    values = {
        "name": "Acme Holdings SAS",
        "companies.0.ref": "acme",
        "companies.0.name": "Acme Holdings SAS",
        "companies.0.country": "FR",
        "affiliated_companies": "sub; Acme GmbH;; DE\nsub; Acme Ltd; 0123; GB",
        "individuals": (
            "Jane Doe <jane@example.com>; born 1980-02-30; director, shareholder 30% @acme\n"
            "John Roe; ceo @nowhere"
        ),
    }
    for path, value in values.items():
        editor = pilot.app.screen.fields[path].editor
        if hasattr(editor, "load_text"):
            editor.load_text(value)
        else:
            editor.value = value
    await pilot.pause()
    await pilot.press("ctrl+s")


def typed(text: str) -> tuple[str, ...]:
    """Key names that type `text` (Pilot names the space bar `space`)."""
    return tuple("space" if char == " " else char for char in text)


SCENES: tuple[Scene, ...] = (
    Scene("queue"),
    Scene("queue-light", theme="light"),
    Scene("queue-sla-breached", keys=("4",)),
    Scene("queue-marked", keys=("j", "space", "space", "space")),
    Scene("queue-sorted-by-sla", keys=("s", "s", "s", "s")),
    Scene("filter", before=(lambda pilot: _type_filter(pilot, "risk:high sla:breached"),)),
    Scene("filter-error", before=(lambda pilot: _type_filter(pilot, "risk:high colour:red"),)),
    Scene("help", keys=("question_mark",)),
    Scene("palette", keys=("ctrl+p", *"CAS-00001")),
    Scene("case-overview", keys=("j", "enter")),
    Scene("case-chat", keys=("j", "enter", "2")),
    Scene("case-escalations", keys=("j", "enter", "3")),
    Scene("case-overrides", keys=("j", "enter", "4")),
    Scene("case-activity", keys=("j", "enter", "5")),
    Scene("form-comment", keys=("j", "enter", "c", *typed("Proof of address received."))),
    Scene("form-escalate-error", keys=("j", "enter", "e", "ctrl+s")),
    Scene("form-close", keys=("j", "enter", "x")),
    Scene("form-request-override", keys=("j", "enter", "o")),
    Scene("form-query", keys=("j", "enter", "q", *typed("Please send a recent proof of address."))),
    Scene("form-assign", keys=("j", "enter", "at", *typed("an"))),
    Scene("form-update-escalation", keys=("5", "enter", "3", "u")),
    Scene("form-accept-override", keys=("6", "enter", "4", "A")),
    Scene("form-refuse-override-error", keys=("6", "enter", "4", "R", "ctrl+s")),
    Scene("form-reopen", keys=("8", "enter", "ctrl+o")),
    Scene("form-new-case", keys=("N", *typed("Acme Holdings SAS"))),
    Scene("form-new-case-errors", before=(_new_case_with_mistakes,)),
    Scene("bulk-close", keys=("space", "space", "x")),
    Scene("bulk-escalate", keys=("space", "space", "space", "e")),
    Scene("offline", keys=("r",), offline=True),
    Scene("offline-case", keys=("r", "j", "enter", "2"), offline=True),
    # Last: it leaves an action in the outbox of the shared cache.
    Scene(
        "outbox",
        keys=("r", "j", "enter", "c", *typed("Written offline."), "ctrl+s", "escape", "O"),
        offline=True,
    ),
)


async def shoot(scene: Scene, server_url: str, key: str, data: Path, out: Path) -> None:
    store = await asyncio.to_thread(LocalStore.open, data)
    url = "http://127.0.0.1:9" if scene.offline else server_url
    client = CaseApiClient(url, ApiKey(key))
    service = CaseService(profile_name="demo", store=store, backend=client, clock=frozen_clock(NOW))
    settings = ConsoleSettings(profile="demo", sync_on_start=False, theme=scene.theme)
    app = CasedeskApp(service, settings)
    try:
        async with app.run_test(size=scene.size) as pilot:
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            for step in scene.before:
                await step(pilot)
            for key_name in scene.keys:
                await pilot.press(key_name)
                await pilot.pause()
            await pilot.app.workers.wait_for_complete()
            for field_ in pilot.app.screen.query(Input):
                field_.cursor_blink = False
            await pilot.pause(0.3)
            app.save_screenshot(filename=f"{scene.name}.svg", path=str(out))
    finally:
        await client.aclose()
        store.close()


async def main(only: set[str]) -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        server = await asyncio.to_thread(
            start_server,
            root / "server",
            "--frozen-now",
            NOW.strftime("%Y-%m-%dT%H:%M:%S%z"),
            demo_cases=CASES,
            seed=SEED,
        )
        try:
            user = next(u for u in server.demo_users() if u["roles"] == ["reviewer"])
            data = root / "console"
            store = await asyncio.to_thread(LocalStore.open, data)
            client = CaseApiClient(server.base_url, ApiKey(user["api_key"]))
            service = CaseService(
                profile_name="demo", store=store, backend=client, clock=frozen_clock(NOW)
            )
            await service.sync()
            await client.aclose()
            store.close()
            for scene in SCENES:
                if only and scene.name not in only:
                    continue
                await shoot(scene, server.base_url, user["api_key"], data, HERE)
                print(f"screenshots/{scene.name}.svg")
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", help="only these scenes (default: all)")
    asyncio.run(main(set(parser.parse_args().scenes)))
    sys.exit(0)
