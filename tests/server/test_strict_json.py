"""Request bodies the API refuses to half-understand: each is a 400, never a 5xx or a guess."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

JSON = {"Content-Type": "application/json"}

HOSTILE = {
    "a repeated key": b'{"name": "Acme", "name": "Globex"}',
    "a repeated key deep down": b'{"name": "Acme", "metadata": {"k": "1", "k": "2"}}',
    "NaN": b'{"name": "Acme", "metadata": {"k": NaN}}',
    "Infinity": b'{"name": "Acme", "custom_properties": {"score": Infinity}}',
    "a 5,000-digit integer": b'{"name": "Acme", "custom_properties": {"n": ' + b"9" * 5000 + b"}}",
    "a number beyond 64 bits": b'{"name": "Acme", "custom_properties": {"n": '
    + str(2**64).encode()
    + b"}}",
    "a lone surrogate": b'{"name": "Acme \\ud800"}',
    "invalid UTF-8": b'{"name": "Acme \xff"}',
    "nesting 1,000 deep": b'{"name": "Acme", "metadata": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    "nesting 10,000 deep": b"[" * 10_000 + b"]" * 10_000,
    "truncated JSON": b'{"name": "Acme"',
}


@pytest.fixture(scope="module")
def reviewer(live_server: Any) -> Iterator[httpx.Client]:
    with live_server.client(live_server.key("reviewer")) as client:
        yield client


def acme_cases(client: httpx.Client) -> list[str]:
    answer = client.get("/v1/cases", params={"q": "Acme", "limit": 200})
    return [case["id"] for case in answer.json()["data"]]


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_body_is_400_and_creates_nothing(reviewer: httpx.Client, body: bytes) -> None:
    before = acme_cases(reviewer)
    answer = reviewer.post("/v1/cases", content=body, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"]
    assert acme_cases(reviewer) == before


def test_a_repeated_key_is_named_in_the_error(reviewer: httpx.Client) -> None:
    answer = reviewer.post("/v1/cases", content=HOSTILE["a repeated key"], headers=JSON)
    assert "'name' is given twice" in answer.text


def test_an_unknown_query_parameter_is_400_naming_it_rather_than_ignored(
    reviewer: httpx.Client,
) -> None:
    answer = reviewer.get("/v1/cases", params={"stauts": "open"})
    assert answer.status_code == 400
    [detail] = answer.json()["error"]["details"]
    assert detail["path"] == "stauts" and "unknown query parameter" in detail["message"]
    assert reviewer.get("/v1/cases", params={"status": "open", "limit": 5}).status_code == 200
