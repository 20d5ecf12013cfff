"""R9-R11: Retry-After and rate limits, the replay classes (412, 422, 401, per-case order), and
malformed server answers.

Requests are watched at the client's transport (`Wire`: when each one left, with
which Idempotency-Key, and what came back); effects are counted on the server.
"""

import asyncio
import random
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from figures import Recorder, Tier, counting
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from kit import close_service, comment, effects, service_for
from rawhttp import Exchange, RawServer, response
from synckit import Server, action_log, comment_on, server_cases, start
from test_replay_classes import WRONG_KEY

from casedesk.api.retry import RetryPolicy
from casedesk.domain.actions import CloseAction, EscalateAction
from casedesk.domain.case import Case
from casedesk.store.outbox import OUTBOX_FILE
from casedesk.store.outbox_item import OutboxState, ParkReason


@dataclass
class Sent:
    at: float
    method: str
    path: str
    key: str | None
    status: int | None
    retry_after: str | None


class Wire(httpx.AsyncBaseTransport):
    """The real transport, noting every request and its answer (or that none came)."""

    def __init__(self, fail: Callable[[httpx.Request], str | None] | None = None) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.sent: list[Sent] = []
        self.fail = fail

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        note = Sent(
            time.monotonic(),
            request.method,
            request.url.path,
            request.headers.get("idempotency-key"),
            None,
            None,
        )
        self.sent.append(note)
        fault = self.fail(request) if self.fail else None
        if fault == "before":  # the request never left
            raise httpx.ConnectError("injected: connection refused")
        answer = await self._inner.handle_async_request(request)
        if fault == "after":  # the server committed, the answer is lost
            await answer.aclose()
            raise httpx.ReadError("injected: connection reset after the request")
        note.status, note.retry_after = answer.status_code, answer.headers.get("retry-after")
        return answer

    async def aclose(self) -> None:
        await self._inner.aclose()


def open_rows(service: Any) -> list[Any]:
    return [row for row in service.store.cache.rows() if row.status.value != "closed"]


# -- R9: Retry-After ----------------------------------------------------------------------

VARIANTS = ("seconds", "http-date", "huge", "negative", "garbage", "absent")


def retry_after_value(variant: str, rng: random.Random) -> tuple[str | None, float | None]:
    """The header and the delay it asks for (None: unusable, the client's backoff applies)."""
    if variant == "seconds":
        seconds = rng.randint(1, 2)
        return str(seconds), float(seconds)
    if variant == "http-date":
        when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        return format_datetime(when, usegmt=True), when.timestamp()
    if variant == "huge":
        return "86400", 86400.0
    if variant == "negative":
        return str(-rng.randint(1, 100)), None
    if variant == "garbage":
        return rng.choice(["soon", "1.5", "0x10", "∞", "Thu, 99 Foo 2026"]), None
    return None, None


async def test_r9_retry_after_is_honoured_never_early_and_no_item_is_dropped(
    server: Server, synced_dir: Path, tier: Tier, recorder: Recorder
) -> None:
    runs = tier.count(12, 120)
    rng = random.Random(tier.seed + 9)
    record = recorder.record("R9")
    key = server.key("reviewer")
    honoured = early = dropped = 0
    worst = 0.0
    with counting(record):
        for run in range(runs):
            variant = VARIANTS[run % len(VARIANTS)]
            header, asked = retry_after_value(variant, rng)
            status = rng.choice([429, 503])
            seen: list[float] = []

            def respond(
                exchange: Exchange,
                header: str | None = header,
                status: int = status,
                seen: list[float] = seen,
            ) -> bytes:
                seen.append(time.time())
                if exchange.method == "GET":
                    return response(200, ME)
                if len(seen) <= 2:  # the first POST is refused, the retry goes through
                    headers = {"Retry-After": header} if header is not None else {}
                    return response(status, REFUSAL, headers=headers)
                return response(201, ACTED)

            async with RawServer(respond) as fake:
                service = service_for(
                    synced_dir,
                    fake.base_url,
                    key,
                    retry=RetryPolicy(attempts=3, wait_initial=0.05, wait_max=0.1),
                )
                try:
                    row = open_rows(service)[0]
                    queued = await service.act(row.reference, comment(f"R9 {variant}"), send=False)
                    started = time.time()
                    await service.push(ignore_backoff=True)
                    item = service.store.outbox.get(queued.item.id)
                    where = f"run {run} ({variant} {header!r}, {status})"
                    if variant == "huge":
                        # Longer than the client waits in a call: the outbox keeps it, due then.
                        due = item.retry_after
                        ok = (
                            item.state is OutboxState.QUEUED
                            and due is not None
                            and due >= datetime.now(UTC) + timedelta(seconds=86400 * 0.9)
                            and time.time() - started < 5
                        )
                        await service.push(ignore_backoff=True)  # a sync the user asks for
                        early += len(seen) > 2
                        honoured += record.check(ok and len(seen) == 2, f"{where}: {item}")
                        service.store.outbox.discard(item.id)
                    else:
                        record.check(item.state is OutboxState.DONE, f"{where}: {item.state}")
                        dropped += item.state is not OutboxState.DONE
                        waited = seen[2] - seen[1]
                        if asked is not None:
                            deadline = asked if variant == "http-date" else seen[1] + asked
                            nominal = deadline - seen[1]
                            early += seen[2] < deadline - 0.005
                            error = abs(waited - nominal) / nominal
                            worst = max(worst, error)
                            honoured += record.check(
                                seen[2] >= deadline - 0.005 and error <= 0.10,
                                f"{where}: waited {waited:.3f} s for {nominal:.3f} s",
                            )
                        else:  # unusable: the client's own backoff (≤ 0.05 s the first time)
                            honoured += record.check(
                                waited <= 0.5, f"{where}: waited {waited:.3f} s on backoff"
                            )
                finally:
                    await close_service(service)
        record.iterations += runs
        record.faults_injected += runs
        record.note(
            "retry-after",
            f"{runs} refusals with Retry-After as {', '.join(VARIANTS)}: {honoured}/{runs} "
            f"honoured (worst timing error {worst:.1%}), {early} requests before the deadline, "
            f"{dropped} items dropped; 86400 s is kept in the outbox, not slept in the call",
        )


ME: Any = None
REFUSAL = {"error": {"code": "rate_limited", "message": "slow down", "details": []}, "meta": {}}
ACTED: Any = None


@pytest.fixture(scope="module", autouse=True)
def recorded_answers(server: Server) -> None:
    """Real answers of the server (`/v1/me`, an action), replayed by the fake ones."""
    global ME, ACTED
    with server.client(server.key("reviewer")) as http:
        ME = http.get("/v1/me").json()
        case = next(c for c in server_cases(http, status="open").values())
        ACTED = http.post(
            f"/v1/cases/{case['id']}/actions",
            json={"type": "comment", "body": "R9 template"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        ).json()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that allows 10 requests a second per caller, 429 beyond."""
    started = start(tmp_path_factory.mktemp("limited"), "--rate-limit", "10", cases=8)
    yield started
    started.stop()


async def test_r9_a_rate_limited_bulk_replay_never_retries_early_nor_twice(
    limited: Server, tmp_path: Path, tier: Tier, recorder: Recorder
) -> None:
    count = tier.count(30, 500)
    record = recorder.record("R9")
    wire = Wire()
    service = service_for(
        tmp_path / "data",
        limited.base_url,
        limited.key("reviewer"),
        retry=RetryPolicy(attempts=3, wait_initial=0.05, wait_max=0.2, retry_after_max=2),
        transport=wire,
    )
    with limited.client(limited.key("both")) as other, counting(record):
        found = server_cases(other, status="open,in_progress").values()
        cases = [Case.model_validate(case) for case in found][:5]
        service.store.cache.upsert_cases(cases)  # a cache as a sync would leave it
        items = [
            (await service.act(cases[n % 5].reference, comment(f"bulk {n}"), send=False)).item
            for n in range(count)
        ]
        started = time.monotonic()
        while time.monotonic() - started < 20 + count / 5:
            await service.push(ignore_backoff=True)
            if not service.store.outbox.pending_count():
                break
            await asyncio.sleep(0.05)
        took = time.monotonic() - started
        await close_service(service)
        # An early retry: a request with a key before the Retry-After its last 429 gave.
        deadlines: dict[str, float] = {}
        early = 0
        for sent in wire.sent:
            if sent.key is None:
                continue
            if sent.at < deadlines.get(sent.key, 0.0) - 0.005:
                early += 1
            if sent.status == 429 and sent.retry_after is not None:
                deadlines[sent.key] = sent.at + float(sent.retry_after)
        limited_count = sum(1 for sent in wire.sent if sent.status == 429)
        record.check(early == 0, f"{early} requests before their Retry-After")
        counted = effects(other, [case.id for case in cases])
        doubled = [i for i in items if counted.get(str(i.client_action_id)) != 1]
        record.check(not doubled, f"{len(doubled)} items without exactly one effect")
    record.iterations += count
    record.faults_injected += limited_count
    record.note(
        "rate-limit",
        f"{count} queued items against 10 requests/s: {limited_count} answered 429, {early} early "
        f"retries, {len(doubled)} lost or duplicated; done in {took:.1f} s "
        f"(ideal {count / 10:.1f} s)",
    )


# -- R10: the replay classes -------------------------------------------------------------


async def test_r10_stale_decisions_are_parked_never_applied(
    server: Server, synced_dir: Path, tier: Tier, recorder: Recorder
) -> None:
    runs = tier.count(8, 200)
    record = recorder.record("R10")
    key = server.key("reviewer")
    surfaced = 0
    with server.client(server.key("both")) as colleague, counting(record):
        service = service_for(synced_dir, server.base_url, key)
        try:
            rows = open_rows(service)
            for run in range(runs):
                row = rows[run % len(rows)]
                await service.pull()  # decide on the case as it is now
                row = service.store.cache.row(row.id)
                action = CloseAction(type="close", decision="approve", comment=f"R10 {run}")
                queued = await service.act(row.reference, action, send=False)
                comment_on(colleague, row.id, f"R10 changed meanwhile {run}")  # revision moves on
                await service.push(ignore_backoff=True)
                item = service.store.outbox.get(queued.item.id)
                case = colleague.get(f"/v1/cases/{row.id}").json()["data"]
                applied = effects(colleague, [row.id]).get(str(item.client_action_id), 0)
                where = f"run {run}: {item.state} {item.park_reason}"
                ok = (
                    item.park_reason is ParkReason.CONFLICT
                    and item.last_error is not None
                    and item.last_error.status == 412
                )
                surfaced += record.check(ok, where)
                record.check(applied == 0 and case["status"] != "closed", f"{where}: applied")
                service.store.outbox.discard(item.id)
        finally:
            await close_service(service)
    record.iterations += runs
    record.faults_injected += runs
    record.note("412", f"{runs} stale closes: {surfaced} parked as conflicts (412), 0 applied")


async def test_r10_a_key_reused_with_another_body_is_parked_and_never_rekeyed(
    server: Server, synced_dir: Path, tier: Tier, recorder: Recorder
) -> None:
    runs = tier.count(8, 100)
    record = recorder.record("R10")
    key = server.key("reviewer")
    lost_answer = Wire(fail=lambda request: "after" if request.method == "POST" else None)
    parked = 0
    with server.client(key) as http, counting(record):
        for run in range(runs):
            service = service_for(synced_dir, server.base_url, key, transport=lost_answer)
            row = open_rows(service)[run % 5]
            queued = await service.act(row.reference, comment(f"R10 first body {run}"))
            item = service.store.outbox.get(queued.item.id)
            await close_service(service)
            # The body is changed on disk under the same keys (a bug, an editor, a bad merge).
            path = synced_dir / OUTBOX_FILE
            tables = orjson.loads(path.read_bytes())
            tables["items"][str(item.id)]["body"]["body"] = f"R10 another body {run}"
            path.write_bytes(orjson.dumps(tables))
            service = service_for(synced_dir, server.base_url, key)
            try:
                await service.push(ignore_backoff=True)
                now = service.store.outbox.get(item.id)
                where = f"run {run}: {now.state} {now.park_reason} {now.last_error}"
                ok = (
                    now.park_reason is ParkReason.DEFECT
                    and now.last_error is not None
                    and now.last_error.status == 422
                    and now.idempotency_key == item.idempotency_key
                )
                parked += record.check(ok, where)
                texts = [e["payload"].get("body") for e in action_log(http, row.id)]
                record.check(
                    f"R10 another body {run}" not in texts, f"{where}: the other body was applied"
                )
                service.store.outbox.discard(item.id)
            finally:
                await close_service(service)
    record.iterations += runs
    record.faults_injected += runs
    record.note("422", f"{runs} bodies changed under their key: {parked} parked as 422, 0 applied")


async def test_r10_a_401_mid_replay_stops_it_and_loses_nothing(
    server: Server, synced_dir: Path, tier: Tier, recorder: Recorder
) -> None:
    runs = tier.count(6, 100)
    rng = random.Random(tier.seed + 10)
    record = recorder.record("R10")
    key = server.key("reviewer")
    kept = 0
    with server.client(key) as http, counting(record):
        for run in range(runs):
            allowed = rng.randint(0, 8)
            posts: list[str] = []

            def revoke(
                request: httpx.Request, allowed: int = allowed, posts: list[str] = posts
            ) -> str | None:
                if request.method == "POST":
                    posts.append(request.url.path)
                    if len(posts) > allowed:
                        request.headers["X-API-KEY"] = WRONG_KEY
                return None

            service = service_for(synced_dir, server.base_url, key, transport=Wire(fail=revoke))
            try:
                rows = open_rows(service)[:10]
                items = [
                    (await service.act(r.reference, comment(f"R10 401 {run}"), send=False)).item
                    for r in rows
                ]
                await service.push(ignore_backoff=True)
                states = [service.store.outbox.get(i.id).state for i in items]
                counted = effects(http, [r.id for r in rows])
                done = [counted.get(str(i.client_action_id), 0) for i in items]
                ok = (
                    len(posts) == allowed + 1
                    and states[:allowed] == [OutboxState.DONE] * allowed
                    and states[allowed] is OutboxState.PARKED
                    and states[allowed + 1 :] == [OutboxState.QUEUED] * (9 - allowed)
                    and done == [1] * allowed + [0] * (10 - allowed)
                )
                kept += record.check(ok, f"run {run}: 401 after {allowed}: {len(posts)} POSTs")
                for item in items:
                    if service.store.outbox.get(item.id).state is not OutboxState.DONE:
                        service.store.outbox.discard(item.id)
            finally:
                await close_service(service)
    record.iterations += runs
    record.faults_injected += runs
    record.note(
        "401",
        f"{runs} keys refused mid-replay: {kept} stopped at the refusal with every item kept",
    )


class PerCaseOrder(RuleBasedStateMachine):
    """Actions queued on 5 cases, pushed through random transient faults (lost requests, lost
    answers, restarts): on the server, each case's actions are applied once each, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = CONTEXT["loop"]
        self.server: Server = CONTEXT["server"]
        self.data: Path = CONTEXT["data"]
        self.rng = random.Random(CONTEXT["seed"])
        self.queued: list[tuple[Any, str]] = []
        self.service: Any = None

    def _fault(self, request: httpx.Request) -> str | None:
        if request.method != "POST":
            return None
        return self.rng.choice([None, None, "before", "after"])

    @initialize()
    def open_console(self) -> None:
        self.service = service_for(
            self.data,
            self.server.base_url,
            self.server.key("reviewer"),
            retry=RetryPolicy.never(),
            transport=Wire(fail=self._fault),
        )
        self.rows = open_rows(self.service)[20:25]

    @rule(case=st.integers(0, 4), escalate=st.booleans())
    def queue(self, case: int, escalate: bool) -> None:
        row = self.rows[case]
        text = f"order {len(self.queued)}"
        action = EscalateAction(type="escalate", reason=text) if escalate else comment(text)
        queued = self.loop.run_until_complete(self.service.act(row.reference, action, send=False))
        self.queued.append((row.id, str(queued.item.client_action_id)))

    @rule()
    def push(self) -> None:
        self.loop.run_until_complete(self.service.push(ignore_backoff=True))

    @precondition(lambda self: self.service is not None)
    @rule()
    def restart(self) -> None:
        self.loop.run_until_complete(close_service(self.service))
        self.open_console()

    @invariant()
    def nothing_parked(self) -> None:
        if self.service is not None:
            assert not self.service.store.outbox.items([OutboxState.PARKED])

    def teardown(self) -> None:
        if self.service is None:
            return
        service = self.service
        quiet = service_for  # the last replay goes through without faults
        self.loop.run_until_complete(close_service(service))
        service = quiet(self.data, self.server.base_url, self.server.key("reviewer"))
        for _ in range(20):
            self.loop.run_until_complete(service.push(ignore_backoff=True))
            if not service.store.outbox.pending_count():
                break
        self.loop.run_until_complete(close_service(service))
        with self.server.client(self.server.key("reviewer")) as http:
            for case_id in {case_id for case_id, _ in self.queued}:
                ours = [action for cid, action in self.queued if cid == case_id]
                logged = [e["client_action_id"] for e in action_log(http, case_id)]
                applied = [action for action in logged if action in set(ours)]
                CONTEXT["checked"] += len(ours)
                if applied != ours:
                    CONTEXT["violations"].append(f"case {case_id}: {applied} != {ours}")


CONTEXT: dict[str, Any] = {}


def test_r10_per_case_order_survives_random_transient_failures(
    server: Server, synced_dir: Path, tier: Tier, recorder: Recorder
) -> None:
    examples = tier.count(8, 200)
    record = recorder.record("R10")
    loop = asyncio.new_event_loop()
    CONTEXT.update(
        loop=loop, server=server, data=synced_dir, seed=tier.seed, checked=0, violations=[]
    )
    try:
        run = settings(
            max_examples=examples,
            stateful_step_count=20,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        with counting(record):
            try:
                run_state_machine_as_test(PerCaseOrder, settings=run)
            except AssertionError as error:
                record.fail(f"state machine: {error}")
            for violation in CONTEXT["violations"]:
                record.fail(violation)
    finally:
        loop.close()
    record.iterations += examples
    record.faults_injected += examples
    record.note(
        "order",
        f"{examples} generated outboxes ({CONTEXT['checked']} actions over 5 cases, random lost "
        f"requests, lost answers and restarts): {len(CONTEXT['violations'])} order violations",
    )


# -- R11: malformed answers ----------------------------------------------------------------

MALFORMED = ("truncated", "html-502", "wrong-type", "schema-invalid", "50-MB", "invalid-utf8")


def malformed(kind: str, good: bytes, rng: random.Random) -> bytes:
    if kind == "truncated":
        return response(200, good[: rng.randrange(1, len(good))], content_length=None)
    if kind == "html-502":
        return response(
            502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
        )
    if kind == "wrong-type":
        return response(200, good, content_type="text/plain")
    if kind == "schema-invalid":
        page = orjson.loads(good)
        page["data"] = [{"id": rng.randint(1, 99), "reference": None}]
        return response(200, orjson.dumps(page))
    if kind == "50-MB":
        return BIG
    damaged = bytearray(good)
    damaged[rng.randrange(len(damaged))] = 0xFF
    return response(200, bytes(damaged))


BIG = response(200, b'{"data": ["' + b"x" * (2 * 1024 * 1024), content_length=50 * 1024 * 1024)
"""A 50 MB answer as the client sees it: the length declared, the first 2 MB sent (the fake
server shares this process, so sending all of it would count its buffers as the client's)."""


async def test_r11_a_malformed_answer_is_a_clear_error_and_never_reaches_the_cache(
    server: Server, synced_dir: Path, tier: Tier, recorder: Recorder
) -> None:
    runs = tier.count(12, 300)
    rng = random.Random(tier.seed + 11)
    record = recorder.record("R11")
    key = server.key("reviewer")
    with server.client(key) as http:
        answers = {path: http.get(path).content for path in ("/v1/me", "/v1/users", "/v1/queues")}
        page = http.get("/v1/cases", params={"limit": 5}).content
    cache = synced_dir / "cache"
    before = {p: p.read_bytes() for p in cache.rglob("*.json")}
    clear = written = 0
    worst = 0.0
    with counting(record):
        for run in range(runs):
            kind = MALFORMED[run % len(MALFORMED)]
            bad = malformed(kind, page, rng)

            def respond(exchange: Exchange, bad: bytes = bad) -> bytes:
                path = exchange.target.split("?")[0]
                return response(200, answers[path]) if path in answers else bad

            async with RawServer(respond) as fake:
                service = service_for(
                    synced_dir, fake.base_url, key, retry=RetryPolicy.never(), timeout=10
                )
                tracemalloc.start()
                try:
                    result = await service.sync()
                    error = result.error or ""
                except Exception as caught:
                    error = f"raised {type(caught).__name__}: {caught}"
                finally:
                    _, peak = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                    await close_service(service)
            worst = max(worst, peak / 1e6)
            where = f"run {run} ({kind}): {error[:120]!r}"
            ok = bool(error) and not error.startswith("raised") and len(error) < 500
            clear += record.check(ok, where)
            after = {p: p.read_bytes() for p in cache.rglob("*.json")}
            written += not record.check(after == before, f"{where}: the cache changed")
            record.check(peak < 30e6, f"{where}: {peak / 1e6:.0f} MB allocated")
    record.iterations += runs
    record.faults_injected += runs
    record.note(
        "malformed",
        f"{runs} malformed answers ({', '.join(MALFORMED)}): {clear} clear errors, {written} "
        f"cache writes, peak allocation {worst:.1f} MB (the 50 MB body refused unread)",
    )
