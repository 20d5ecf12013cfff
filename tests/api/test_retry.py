"""When the client tries again, how long it waits, and what it never repeats.

The transport is mocked (`httpx.MockTransport`) because the faults (5xx,
429 with odd `Retry-After` values, dropped connections) are injected; waits
are recorded by a fake sleep instead of slept. One test really waits, to show
the default sleep is honoured.
"""

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from casedesk.api.errors import (
    ApiConnectionError,
    ApiTimeout,
    Conflict,
    RateLimited,
    ServerError,
    is_transient,
)
from casedesk.api.retry import RetryPolicy, parse_retry_after
from casedesk.domain.actions import CommentAction
from casedesk.domain.enums import ActionType

from . import wire
from .conftest import MakeClient, Sleeps

NOW = datetime(2025, 6, 15, 9, 0, tzinfo=UTC)


def answer(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def busy(status: int = 503, **headers: str) -> httpx.Response:
    return answer(status, wire.failure("unavailable", "try later"), **headers)


def comment() -> CommentAction:
    return CommentAction(type=ActionType.COMMENT, body="hello")


def acted() -> httpx.Response:
    return answer(201, wire.ok({"action": wire.action_entry(), "case": wire.case(revision=2)}))


# -- Retry-After ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        ("Sun, 15 Jun 2025 09:00:45 GMT", 45.0),
        ("Sunday, 15-Jun-25 09:00:10 GMT", 10.0),  # RFC 850, obsolete but allowed
        (format_datetime(NOW - timedelta(seconds=5), usegmt=True), None),  # already past
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("99999999999999999999999", 1e23),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    value: str | None, expected: float | None
) -> None:
    assert parse_retry_after(value, now=NOW) == expected


# -- what is retried -------------------------------------------------------------------


async def test_5xx_is_retried_with_full_jitter_backoff(
    make_client: MakeClient, sleeps: Sleeps
) -> None:
    outcomes = [busy(500), busy(502), busy(504), answer(200, wire.ok(wire.user()))]
    client = make_client(
        lambda request: outcomes.pop(0),
        retry=sleeps.policy(attempts=4, wait_initial=1.0, wait_max=3.0),
    )

    await client.me()

    assert len(sleeps.waits) == 3
    for attempt, wait in enumerate(sleeps.waits, start=1):
        assert 0 <= wait <= min(3.0, 1.0 * 2 ** (attempt - 1))


async def test_after_the_last_attempt_the_last_error_goes_up(
    make_client: MakeClient, sleeps: Sleeps
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return busy(503)

    with pytest.raises(ServerError) as caught:
        await make_client(handler, retry=sleeps.policy(attempts=3)).me()
    assert calls == 3
    assert caught.value.message == "try later"


async def test_connection_errors_and_timeouts_are_retried(
    make_client: MakeClient, sleeps: Sleeps
) -> None:
    faults: list[Exception] = [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")]

    def handler(request: httpx.Request) -> httpx.Response:
        if faults:
            raise faults.pop(0)
        return answer(200, wire.ok(wire.user()))

    await make_client(handler).me()
    assert faults == []
    assert len(sleeps.waits) == 2


async def test_a_timeout_that_persists_is_an_api_timeout(
    make_client: MakeClient, sleeps: Sleeps
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    with pytest.raises(ApiTimeout, match="read timeout"):
        await make_client(handler).me()


async def test_client_errors_are_not_retried(make_client: MakeClient, sleeps: Sleeps) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return answer(409, wire.failure("invalid_state", "the case is closed"))

    with pytest.raises(Conflict) as caught:
        await make_client(handler).act("c", comment(), idempotency_key="k")
    assert not caught.value.in_flight
    assert calls == 1
    assert sleeps.waits == []


async def test_an_idempotency_key_in_flight_is_retried_with_the_same_key_and_body(
    make_client: MakeClient,
) -> None:
    seen: list[tuple[str, bytes]] = []
    outcomes = [
        answer(409, wire.failure("idempotency_in_flight", "still running")),
        busy(503),
        acted(),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["Idempotency-Key"], request.content))
        return outcomes.pop(0)

    result = await make_client(handler).act("c", comment(), idempotency_key="one-key")

    assert result.case.revision == 2
    assert len(seen) == 3
    assert len(set(seen)) == 1  # the same key and the very same bytes every time


async def test_a_post_without_an_idempotency_key_is_never_retried(
    make_client: MakeClient,
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ReadTimeout("the action may or may not have been applied")
        return acted()

    with pytest.raises(ApiTimeout):
        await make_client(handler).act("c", comment(), idempotency_key=None)
    calls_after_timeout = calls

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return busy(503)

    with pytest.raises(ServerError):
        await make_client(flaky).act("c", comment(), idempotency_key=None)
    assert (calls_after_timeout, calls) == (1, 2)


# -- how long it waits -----------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_seconds_are_waited_exactly(
    make_client: MakeClient, sleeps: Sleeps, status: int
) -> None:
    outcomes = [busy(status, **{"Retry-After": "7"}), answer(200, wire.ok(wire.user()))]
    client = make_client(lambda request: outcomes.pop(0))

    await client.me()

    assert sleeps.waits == [7.0]


async def test_a_retry_after_date_is_waited_until(make_client: MakeClient, sleeps: Sleeps) -> None:
    when = datetime.now(UTC) + timedelta(seconds=20)
    outcomes = [
        busy(429, **{"Retry-After": format_datetime(when, usegmt=True)}),
        answer(200, wire.ok(wire.user())),
    ]
    await make_client(lambda request: outcomes.pop(0)).me()

    (wait,) = sleeps.waits
    assert 18.0 <= wait <= 20.0  # whole seconds on the wire


@pytest.mark.parametrize("value", ["-3", "tomorrow", "Wed, 21 Oct 2015 07:28:00 GMT"])
async def test_a_bad_or_past_retry_after_falls_back_to_backoff(
    make_client: MakeClient, sleeps: Sleeps, value: str
) -> None:
    outcomes = [busy(429, **{"Retry-After": value}), answer(200, wire.ok(wire.user()))]
    client = make_client(
        lambda request: outcomes.pop(0),
        retry=sleeps.policy(attempts=2, wait_initial=0.25),
    )
    await client.me()

    (wait,) = sleeps.waits
    assert 0 <= wait <= 0.25


async def test_retry_after_is_ignored_on_statuses_that_do_not_define_it(
    make_client: MakeClient, sleeps: Sleeps
) -> None:
    outcomes = [busy(500, **{"Retry-After": "30"}), answer(200, wire.ok(wire.user()))]
    client = make_client(
        lambda request: outcomes.pop(0),
        retry=sleeps.policy(attempts=2, wait_initial=0.25),
    )
    await client.me()
    assert sleeps.waits[0] <= 0.25


async def test_a_retry_after_beyond_the_cap_is_not_waited_here_but_handed_up(
    make_client: MakeClient, sleeps: Sleeps
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return busy(429, **{"Retry-After": "3600"})

    with pytest.raises(RateLimited) as caught:
        await make_client(handler).me()

    assert calls == 1  # never retried before the server's deadline
    assert sleeps.waits == []
    assert caught.value.retry_after == 3600.0


async def test_no_retry_starts_after_the_overall_timeout(
    make_client: MakeClient, sleeps: Sleeps
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return busy(503, **{"Retry-After": "20"})

    client = make_client(handler, retry=sleeps.policy(attempts=5, timeout=30))
    with pytest.raises(ServerError) as caught:
        await client.me()

    # A 20 s wait fits once in 30 s; a second would start at 40 s, past the deadline.
    assert calls == 2
    assert sleeps.waits == [20.0]
    assert caught.value.retry_after == 20.0


async def test_the_waits_really_happen_with_the_default_sleep(make_client: MakeClient) -> None:
    outcomes = [busy(429, **{"Retry-After": "1"}), answer(200, wire.ok(wire.user()))]
    client = make_client(lambda request: outcomes.pop(0), retry=RetryPolicy(attempts=2))

    started = time.monotonic()
    await client.me()
    assert time.monotonic() - started >= 1.0


# -- the policy itself -------------------------------------------------------------------


def test_transient_errors_are_exactly_the_documented_ones() -> None:
    in_flight = Conflict(status=409, code="idempotency_in_flight", message="m")
    conflict = Conflict(status=409, code="invalid_state", message="m")
    assert is_transient(ApiConnectionError("down"))
    assert is_transient(ApiTimeout("slow"))
    assert is_transient(in_flight)
    assert not is_transient(conflict)
    assert not is_transient(ValueError("bug"))


@pytest.mark.parametrize(
    "options",
    [{"attempts": 0}, {"timeout": -1}, {"wait_max": float("inf")}, {"retry_after_max": -1}],
)
def test_a_nonsensical_policy_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**options)  # type: ignore[arg-type]


def test_backoff_windows_double_up_to_the_maximum() -> None:
    policy = RetryPolicy(wait_initial=0.5, wait_max=4.0)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0), (500, 4.0)]:
        waits = [policy.wait_before(attempt, None) for _ in range(200)]
        assert all(0 <= wait <= ceiling for wait in waits)
        assert max(waits) > ceiling / 2  # full jitter spreads over the whole window


async def test_a_retry_after_longer_than_the_whole_budget_is_handed_up_at_once(
    make_client: MakeClient, sleeps: Sleeps
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return busy(429, **{"Retry-After": "15"})

    client = make_client(handler, retry=sleeps.policy(timeout=10))
    with pytest.raises(RateLimited) as caught:
        await client.me()
    assert (calls, sleeps.waits, caught.value.retry_after) == (1, [], 15.0)
