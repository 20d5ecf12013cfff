"""A sentinel API key, forced through failures, must show up nowhere but its own header.

Failures run on real 127.0.0.1 sockets (through httpx and httpcore, whose
DEBUG logging is captured too); the hostile server even echoes the key back
in its answers. For each failure we look at the exception (message, str, repr,
attributes, chained exceptions), at a Textual-style crash report (rich
traceback with the locals of every frame), at every log record, and at every
URL requested.
"""

import logging
import socket
from collections.abc import Awaitable, Callable

import pytest

from casedesk.api.client import CaseApiClient
from casedesk.api.errors import (
    ApiConnectionError,
    ApiStatusError,
    CaseApiError,
    InvalidResponse,
    Unauthorized,
)
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey, RedactingFilter

from . import wire
from .conftest import Sleeps
from .leaks import SENTINEL, assert_no_leak, crash_report, leaks
from .rawhttp import Exchange, RawServer, response


def echoing(status: int, body_of: Callable[[str], object]) -> Callable[[Exchange], bytes]:
    """A hostile server: it answers with the key it was sent, inside the body."""

    def respond(exchange: Exchange) -> bytes:
        return response(status, body_of(exchange.headers.get("x-api-key", "")))

    return respond


def refused_with_echo(key: str) -> object:
    return wire.failure(
        "unauthorized",
        f"API key {key} is not valid",
        details=[{"path": key, "message": f"unknown key {key}"}],
        data={key: [key]},
    )


def invalid_with_echo(key: str) -> object:
    return wire.ok(wire.user(name=key, roles=[key], **{key: key}))


Scenario = Callable[[CaseApiClient], Awaitable[object]]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # root: httpx, httpcore and casedesk propagate to it
    for name in ("httpx", "httpcore", "casedesk"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.mark.parametrize(
    ("status", "body_of", "expected"),
    [
        (401, refused_with_echo, Unauthorized),
        (200, invalid_with_echo, InvalidResponse),
        (503, lambda key: f"<html>upstream said {key}</html>", InvalidResponse),
    ],
)
async def test_the_key_is_in_no_error_log_or_url_when_the_api_refuses_or_garbles(
    debug_logs: pytest.LogCaptureFixture,
    sleeps: Sleeps,
    status: int,
    body_of: Callable[[str], object],
    expected: type[CaseApiError],
) -> None:
    async with RawServer(echoing(status, body_of)) as server:
        client = CaseApiClient(server.base_url, ApiKey(SENTINEL), retry=sleeps.policy(attempts=2))
        async with client:
            with pytest.raises(expected) as caught:
                await client.get_case("CAS-000001")

    # The key did travel, in its header only: the checks below are not vacuous.
    assert all(exchange.headers["x-api-key"] == SENTINEL for exchange in server.exchanges)
    assert not any(leaks(exchange.target) for exchange in server.exchanges)
    assert any(record.name.startswith("httpcore") for record in debug_logs.records)
    assert_no_leak(caught.value, debug_logs)
    if isinstance(caught.value, ApiStatusError):
        assert "***" in caught.value.message  # the echo was redacted, the rest kept


async def test_the_key_is_in_no_error_or_log_when_the_api_is_unreachable(
    debug_logs: pytest.LogCaptureFixture, sleeps: Sleeps
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = CaseApiClient(
        f"http://127.0.0.1:{port}", ApiKey(SENTINEL), retry=sleeps.policy(attempts=2)
    )
    async with client:
        with pytest.raises(ApiConnectionError) as caught:
            await client.me()
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert_no_leak(caught.value, debug_logs)


async def test_the_key_is_not_shown_by_a_redirect_that_asks_for_it(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    def redirect(exchange: Exchange) -> bytes:
        key = exchange.headers["x-api-key"]
        location = f"http://collector.example/steal?key={key}"
        return response(302, b"", content_type=None, headers={"Location": location})

    async with RawServer(redirect) as server:
        client = CaseApiClient(server.base_url, ApiKey(SENTINEL), retry=RetryPolicy.never())
        async with client:
            with pytest.raises(InvalidResponse) as caught:
                await client.me()
    assert "http://collector.example" in caught.value.message
    assert_no_leak(caught.value, debug_logs)


def test_the_key_wrapper_shows_nothing() -> None:
    key = ApiKey(SENTINEL)
    assert repr(key) == str(key) == f"{key}" == f"{key!r:>10}".strip() == "***"
    assert not leaks(repr([key, {"k": key}]))
    assert key.reveal() == SENTINEL
    assert not leaks(key.hint) and key.hint.endswith(SENTINEL[-4:])
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(key)


def test_invalid_keys_are_refused_without_being_echoed() -> None:
    for bad in (f"{SENTINEL} ", f"{SENTINEL}\n", f"{SENTINEL}é", ""):
        with pytest.raises(ValueError) as caught:
            ApiKey(bad)
        assert not leaks(str(caught.value))


def test_the_redacting_filter_hides_the_key_in_any_record() -> None:
    record = logging.LogRecord("lib", logging.DEBUG, __file__, 1, "sent %s", (SENTINEL,), None)
    key = ApiKey(SENTINEL)  # the filter holds keys weakly: keep this one alive
    RedactingFilter(key).filter(record)
    assert record.getMessage() == "sent ***"


def test_these_checks_would_catch_a_key_kept_in_a_local() -> None:
    def careless() -> None:
        header_value = SENTINEL  # what the client must never do
        raise RuntimeError(f"boom {len(header_value)}")

    with pytest.raises(RuntimeError) as caught:
        careless()
    assert leaks(crash_report(caught.value))
