"""HTTP plumbing shared by the routes: strict JSON parsing, request ids, languages."""

import secrets
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

from casedesk.server.errors import Language

SUPPORTED_LANGUAGES = ("en", "fr")


LARGEST_NUMBER = 2.0**63
"""orjson reads integers beyond 64 bits as floats; no field of the API takes numbers this big."""


def _check_numbers(value: Any, document: str) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and abs(item) >= LARGEST_NUMBER:
            raise orjson.JSONDecodeError("number too large (beyond 64 bits)", document, 0)
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class StrictJsonRequest(Request):
    """Parses bodies with orjson: NaN, Infinity, invalid UTF-8, lone surrogates,
    numbers beyond 64 bits and nesting deeper than 1024 are refused (400), not
    half-accepted."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            raw = await self.body()
            parsed = orjson.loads(raw)
            _check_numbers(parsed, raw.decode("utf-8", "replace"))
            self._json = parsed
        return self._json


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler


def new_request_id() -> str:
    return "req_" + secrets.token_hex(8)


def request_id(request: Request) -> str:
    """The id of this request (set by the app's middleware, echoed in `meta`)."""
    value = getattr(request.state, "request_id", None)
    if value is None:
        value = new_request_id()
        request.state.request_id = value
    return str(value)


def language(request: Request) -> Language:
    """The first supported language of `Accept-Language` (English by default)."""
    header = request.headers.get("accept-language", "")
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in SUPPORTED_LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else "en"


def meta(request: Request) -> dict[str, Any]:
    return {"request_id": request_id(request)}
