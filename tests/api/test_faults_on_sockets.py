"""Faults on real 127.0.0.1 sockets, through the real httpx/httpcore stack.

A tiny raw server (`rawhttp.RawServer`) answers with exactly the bytes each
test wants, including ones a real API would never send on purpose.
"""

import asyncio
import socket

import pytest

from casedesk.api.client import CaseApiClient
from casedesk.api.errors import ApiConnectionError, ApiTimeout, InvalidResponse, Unauthorized
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey

from . import wire
from .conftest import KEY, Sleeps
from .rawhttp import Exchange, RawServer, response


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_for(base_url: str, sleeps: Sleeps, **options: object) -> CaseApiClient:
    options.setdefault("retry", sleeps.policy(attempts=3))
    return CaseApiClient(base_url, ApiKey(KEY), **options)  # type: ignore[arg-type]


async def test_a_refused_connection_is_retried_then_reported(sleeps: Sleeps) -> None:
    async with client_for(f"http://127.0.0.1:{free_port()}", sleeps) as client:
        with pytest.raises(ApiConnectionError) as caught:
            await client.me()
    assert not isinstance(caught.value, ApiTimeout)
    assert "could not complete the request" in caught.value.message
    assert len(sleeps.waits) == 2


async def test_an_api_that_never_answers_times_out(sleeps: Sleeps) -> None:
    async def silent(exchange: Exchange) -> bytes:
        await asyncio.sleep(5)
        return b""

    async with RawServer(silent) as server:
        client = client_for(server.base_url, sleeps, timeout=0.2, retry=RetryPolicy.never())
        async with client:
            with pytest.raises(ApiTimeout, match="read timeout"):
                await client.me()


async def test_a_body_cut_short_is_a_connection_error_and_retried(sleeps: Sleeps) -> None:
    calls = 0

    def cut(exchange: Exchange) -> bytes:
        nonlocal calls
        calls += 1
        full = response(200, wire.ok(wire.user()))
        if calls < 3:
            return response(200, b'{"data": {"id": "7f', content_length=400)
        return full

    async with RawServer(cut) as server, client_for(server.base_url, sleeps) as client:
        me = await client.me()
    assert me.name == "Ada Reviewer"
    assert calls == 3


async def test_a_redirect_to_another_origin_never_reaches_it(sleeps: Sleeps) -> None:
    async with RawServer(lambda exchange: response(200, wire.ok(wire.user()))) as elsewhere:
        target = f"{elsewhere.base_url}/v1/me"

        def redirect(exchange: Exchange) -> bytes:
            return response(307, b"", content_type=None, headers={"Location": target})

        async with RawServer(redirect) as server, client_for(server.base_url, sleeps) as client:
            with pytest.raises(InvalidResponse) as caught:
                await client.me()

    assert elsewhere.connections == 0
    assert elsewhere.base_url in caught.value.message
    assert len(server.exchanges) == 1


async def test_the_key_goes_in_its_header_to_the_configured_origin(sleeps: Sleeps) -> None:
    def refuse(exchange: Exchange) -> bytes:
        return response(401, wire.failure("unauthorized", "Invalid API key"))

    async with RawServer(refuse) as server, client_for(server.base_url, sleeps) as client:
        with pytest.raises(Unauthorized, match="Invalid API key"):
            await client.me()
    (exchange,) = server.exchanges
    assert exchange.headers["x-api-key"] == KEY
    assert KEY not in exchange.target


async def test_an_oversized_answer_is_refused_on_a_real_socket(sleeps: Sleeps) -> None:
    big = response(200, b"[" + b"1," * 600_000 + b"1]")
    async with RawServer(lambda exchange: big) as server:
        client = client_for(server.base_url, sleeps, max_json_bytes=1_000_000)
        async with client:
            with pytest.raises(InvalidResponse, match="over the 1000000-byte limit"):
                await client.me()
