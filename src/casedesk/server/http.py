"""HTTP plumbing shared by the routes: strict JSON parsing, request ids, languages."""

import json
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from casedesk.server.errors import Language, Text, bad_request

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


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} is given twice in one object")
        seen.add(key)


def _check_keys(raw: bytes) -> None:
    """Refuse an object that repeats a key: parsers disagree on which value wins."""
    try:
        json.loads(raw, object_pairs_hook=_no_repeated_keys)
    except RecursionError:  # orjson allows a little deeper than Python's stack
        raise orjson.JSONDecodeError("nested too deep", raw.decode("utf-8", "replace"), 0) from None
    except ValueError as error:
        message = str(error.args[0]) if error.args else "invalid JSON"
        raise orjson.JSONDecodeError(message, raw.decode("utf-8", "replace"), 0) from None


class StrictJsonRequest(Request):
    """Parses bodies with orjson: NaN, Infinity, invalid UTF-8, lone surrogates,
    numbers beyond 64 bits, nesting deeper than 1024 and repeated keys are refused
    (400), not half-accepted."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            raw = await self.body()
            parsed = orjson.loads(raw)
            document = raw.decode("utf-8", "replace")
            _check_numbers(parsed, document)
            if b'"' in raw:  # only objects with keys can repeat one
                _check_keys(raw)
            self._json = parsed
        return self._json


def query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter a route reads, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= query_names(sub)
    return frozenset(names)


class StrictJsonRoute(APIRoute):
    """A route that parses JSON strictly and refuses query parameters it does not read
    (`?stauts=open` would otherwise list every case as if unfiltered)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        known = query_names(self.dependant)

        async def strict_handler(request: Request) -> Response:
            for name in request.query_params:
                if name not in known:
                    expected = ", ".join(sorted(known)) or "none"
                    raise bad_request(
                        name,
                        Text(
                            f"unknown query parameter {name!r} (this route reads: {expected})",
                            f"paramètre de requête inconnu {name!r} (cette route lit : {expected})",
                        ),
                    )
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
