"""R12: the markup and terminal-escape corpus, and generated text, in every widget that shows
server text: no crash, no injected link, action or style, no vanished text.

Built on tests/tui/test_untrusted_text.py (its corpus, its screen readers): the
payloads are planted on a server of this module's own, synced into a cache the
way the console syncs, and read back from what the console draws.
"""

import asyncio
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from figures import Recorder, Tier, counting
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from synckit import Server, start
from test_untrusted_text import (
    CORPUS,
    NOW,
    ONE_TRY,
    SIZE,
    BarApp,
    TableApp,
    _fill_cache,
    case_of,
    flat,
    live_segments,
    queue_of,
    queue_row,
    settle,
    widget_strips,
)
from textual.widget import Widget

from casedesk.api.client import CaseApiClient
from casedesk.api.secret import ApiKey
from casedesk.domain.clock import frozen_clock
from casedesk.domain.limits import CASE_NAME_MAX, COMMENT_BODY_MAX
from casedesk.domain.sanitize import sanitize_text
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.settings import ConsoleSettings
from casedesk.tui.widgets.case_header import CaseHeader
from casedesk.tui.widgets.case_table import CaseTable
from casedesk.tui.widgets.status_bar import StatusBar

EXTRA = {
    "close-tag": "[/bold]",
    "digit-tag": "[0]",
    "escaped": "\\[x]",
    "trailing-backslash": "ends with \\",
    "emoji-code": ":skull: :thumbs_up:",
    "variable": "$title $name",
    "click-case": "[@click=app.close_case('C-1')]y[/]",
    "clear-screen": "\x1b[2J\x1b[H",
    "osc52-clipboard": "\x1b]52;c;cHduZWQ=\x07",
    "osc8-link": "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "c1-csi": "\x9b31m red",
    "carriage-return": "over\rwritten",
    "backspace": "back\bspace",
    "bidi-override": "CAS-\u202e241000",
    "zero-width-joiner": "zero\u200dwidth\u200djoiner",
    "lone-surrogate": "lone \ud800 surrogate",
    "ten-thousand": ("[b]x[/b] [link=https://e.example]y[/link] " * 400)[:COMMENT_BODY_MAX],
}
PAYLOADS = {sample.key: sample.sent for sample in CORPUS} | EXTRA


def raw_json(value: dict[str, Any]) -> bytes:
    """JSON with `\\uXXXX` escapes, so a lone surrogate can travel as JSON allows."""
    return json.dumps(value, ensure_ascii=True).encode()


@dataclass(frozen=True)
class Planted:
    key: str
    id: uuid.UUID
    name_sent: str
    body_sent: str


@dataclass
class Corpus:
    base_url: str
    key: str
    cache: Path
    planted: list[Planted]
    refused: dict[str, int]


def post(http: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
    return http.post(path, content=raw_json(body), headers=headers)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    root = tmp_path_factory.mktemp("r12")
    server: Server = start(root / "server", cases=1)
    try:
        key = server.key("reviewer")
        planted, refused = [], {}
        with server.client(key) as http:
            for index, (name, text) in enumerate(PAYLOADS.items()):
                title = f"R12{index:02d} {text}"[:CASE_NAME_MAX]
                made = post(http, "/v1/cases", {"name": title})
                if made.status_code != 201:
                    refused[name] = made.status_code
                    continue
                case = made.json()["data"]
                actions = f"/v1/cases/{case['id']}/actions"
                post(http, actions, {"type": "comment", "body": text})
                post(http, actions, {"type": "escalate", "reason": text[:2000]})
                planted.append(Planted(name, uuid.UUID(case["id"]), title, text))
        asyncio.run(_fill_cache(root / "cache", server.base_url, key))
        yield Corpus(server.base_url, key, root / "cache", planted, refused)
    finally:
        server.stop()


def literal(strips: list[Any], sent: str, limit: int) -> bool:
    """The sanitised text's first `limit` visible characters are drawn, word after word, in
    order (wrapping, and another column between two lines of a cell, are allowed)."""
    drawn, at, taken = flat(strips), 0, 0
    for word in sanitize_text(sent).split():
        word = word[: limit - taken]
        found = drawn.find(word, at)
        if found < 0:
            return False
        at, taken = found + len(word), taken + len(word)
        if taken >= limit:
            break
    return True


async def test_r12_the_corpus_is_literal_and_inert_in_every_widget(
    corpus: Corpus, tmp_path: Path, tier: Tier, recorder: Recorder
) -> None:
    record = recorder.record("R12")
    data = tmp_path / "cache"
    shutil.copytree(corpus.cache, data)
    store = LocalStore.open(data, clock=frozen_clock(NOW))
    client = CaseApiClient(corpus.base_url, ApiKey(corpus.key), retry=ONE_TRY)
    service = CaseService(profile_name="t", store=store, backend=client, clock=frozen_clock(NOW))
    app = CasedeskApp(service, ConsoleSettings(profile="test", sync_on_start=False))
    app.animation_level = "none"
    checks = 0
    widgets = ("queue row", "case header", "chat", "escalations", "status bar")
    with counting(record):
        try:
            async with app.run_test(size=SIZE, notifications=True) as pilot:
                await settle(pilot)
                for planted in corpus.planted:
                    where = planted.key
                    table = queue_of(app).table
                    index = next(i for i, row in enumerate(table.rows) if row.id == planted.id)
                    table.set_cursor(index)
                    await pilot.pause()
                    seen: dict[str, list[Any]] = {}
                    await pilot.press("enter")
                    await settle(pilot)
                    if not record.check(case_of(app).case_id == planted.id, f"{where}: not opened"):
                        await pilot.press("escape")
                        continue
                    seen["case header"] = widget_strips(app.screen.query_one(CaseHeader))
                    await pilot.press("2")
                    await settle(pilot)
                    seen["chat"] = widget_strips(app.screen.query_one("#chat-body", Widget))
                    await pilot.press("3")
                    await settle(pilot)
                    seen["escalations"] = widget_strips(
                        app.screen.query_one("#escalations-body", Widget)
                    )
                    await pilot.press("escape")
                    await settle(pilot)
                    table = queue_of(app).table
                    row_at = next(i for i, row in enumerate(table.rows) if row.id == planted.id)
                    table.set_cursor(row_at)
                    await pilot.pause()
                    seen["queue row"] = [table.render_line(i) for i in range(table.size.height)]
                    expected = {
                        "case header": (planted.name_sent, 30),
                        "chat": (planted.body_sent, 200),
                        "escalations": (planted.body_sent[:2000].strip().splitlines()[0], 40),
                        "queue row": (planted.name_sent, 12),
                    }
                    for widget, (sent, limit) in expected.items():
                        checks += 1
                        record.check(
                            not live_segments(seen[widget]), f"{where}: live text in {widget}"
                        )
                        record.check(
                            literal(seen[widget], sent, limit),
                            f"{where}: {widget}: {flat(seen[widget])[:160]!r}",
                        )
                    record.check(app.is_running, f"{where}: the console stopped")
            bar_app = BarApp()
            async with bar_app.run_test(size=SIZE) as pilot:
                bar = bar_app.query_one(StatusBar)
                bar.profile, bar.online = "demo", True
                for name, text in PAYLOADS.items():
                    shown = sanitize_text(text)[:40]
                    bar.user, bar.note = shown, shown
                    await pilot.pause()
                    strips = widget_strips(bar)
                    checks += 1
                    record.check(not live_segments(strips), f"{name}: live text in the status bar")
                    record.check(literal(strips, shown, 12), f"{name}: status bar {flat(strips)!r}")
        finally:
            await client.aclose()
            store.close()
        count = len(corpus.planted)
        record.iterations += len(PAYLOADS)
        record.faults_injected += checks
        refused = ", ".join(f"{name} ({status})" for name, status in corpus.refused.items())
        record.note(
            "corpus",
            f"{len(PAYLOADS)} payloads ({count} through the server and a sync; "
            f"{refused or 'none'} refused by the API) x {len(widgets)} widgets: "
            f"{checks} renderings, 0 crashes, {record.found} injected links/actions/controls "
            "or vanished texts",
        )


HOSTILE = st.sampled_from(
    ["[", "]", "/", "@", "=", "\\", "\x1b", "\x07", "\x9b", "\u202e", "\u200d", "\ud800", "\r"]
)
ANY_TEXT = st.text(st.one_of(HOSTILE, st.characters(codec=None)), min_size=1, max_size=120)


async def test_r12_generated_text_renders_literally_in_queue_rows(
    tier: Tier, recorder: Recorder
) -> None:
    examples = tier.count(200, 50_000)
    record = recorder.record("R12")
    app = TableApp()
    tried = [0]
    with counting(record):
        async with app.run_test(size=SIZE) as pilot:
            table = app.query_one(CaseTable)
            await pilot.pause()
            header = table.render_line(0).text
            start_at = header.index("Name")
            width = header.index("Status") - start_at - 1

            @settings(
                max_examples=examples,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(ANY_TEXT)
            def check(raw: str) -> None:
                tried[0] += 1
                name = sanitize_text(raw)  # what the API client keeps
                table.set_rows([queue_row(name)])
                line = table.render_line(1)
                if live_segments([line]):
                    record.fail(f"{raw!r}: {live_segments([line])}")
                cell = line.crop(start_at, start_at + width).text
                visible = "".join(name.split())
                shown = "".join(cell.split()).rstrip("…")
                ok = visible.startswith(shown) and (cell_len(name) > width or shown == visible)
                record.check(ok, f"{raw!r}: cell {cell!r}")

            try:
                check()
            except Exception as error:
                record.fail(f"generated text crashed the table: {error!r}")
    record.iterations += tried[0]
    record.note(
        "generated",
        f"{tried[0]} generated texts (full Unicode, lone surrogates, controls, markup "
        f"characters) in a queue row: {record.found} failures",
    )
