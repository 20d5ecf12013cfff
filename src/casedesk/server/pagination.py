"""Opaque cursors for keyset pagination over a stable order.

A cursor holds the sort it was made for and the last row's sort value and
`seq` (the immutable insertion order that breaks ties). Listing by the
default order (`reference`, i.e. `seq`) never misses or repeats a row while
rows change between pages: a change moves nothing. Changes made after a page
was read are picked up by the next `updated_since` sync.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi import Query

from casedesk.domain import limits
from casedesk.domain.base import format_timestamp
from casedesk.server.errors import Text, bad_request


@dataclass(frozen=True)
class Position:
    sort: str
    value: Any
    seq: int


def encode_cursor(position: Position) -> str:
    raw = orjson.dumps({"o": position.sort, "v": position.value, "s": position.seq})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> Position:
    """The position a cursor points after; 400 naming `cursor` when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        position = Position(sort=data["o"], value=data["v"], seq=int(data["s"]))
        if not isinstance(position.value, str | int | float | None) or isinstance(
            position.value, bool
        ):
            raise ValueError("not a sort value")
        if not 0 <= position.seq < 2**63:
            raise ValueError("not a row position")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
        raise bad_request(
            "cursor",
            Text(
                "malformed cursor; pass back the one a page returned",
                "curseur invalide ; renvoyez celui qu'une page a donné",
            ),
        ) from None
    if position.sort != sort:
        raise bad_request(
            "cursor",
            Text(
                f"this cursor belongs to sort {position.sort!r}, not {sort!r}",
                f"ce curseur appartient au tri {position.sort!r}, pas {sort!r}",
            ),
        )
    return position


def page_limit(
    limit: int = Query(
        default=limits.PAGE_LIMIT_DEFAULT,
        description=f"Page size, {limits.PAGE_LIMIT_MIN}..{limits.PAGE_LIMIT_MAX} (never clamped).",
    ),
) -> int:
    if not limits.PAGE_LIMIT_MIN <= limit <= limits.PAGE_LIMIT_MAX:
        raise bad_request(
            "limit",
            Text(
                f"must be between {limits.PAGE_LIMIT_MIN} and {limits.PAGE_LIMIT_MAX}",
                f"doit être entre {limits.PAGE_LIMIT_MIN} et {limits.PAGE_LIMIT_MAX}",
            ),
        )
    return limit


def parse_since(text: str | None) -> str | None:
    """`updated_since` as stored text; 400 naming it when it is not ISO 8601."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise bad_request(
            "updated_since",
            Text(
                "must be an ISO 8601 date-time, e.g. 2025-06-15T09:00:00Z",
                "doit être une date et heure ISO 8601, p. ex. 2025-06-15T09:00:00Z",
            ),
        ) from None
    if moment.tzinfo is None:
        raise bad_request(
            "updated_since",
            Text(
                "must include a time zone, e.g. 2025-06-15T09:00:00Z",
                "doit préciser un fuseau horaire, p. ex. 2025-06-15T09:00:00Z",
            ),
        )
    try:
        return format_timestamp(moment)
    except OverflowError:
        raise bad_request(
            "updated_since",
            Text(
                "is outside the supported range of dates",
                "sort de la plage de dates prise en charge",
            ),
        ) from None


def page_meta(request_id: str, cursor: str | None, has_more: bool) -> dict[str, Any]:
    return {"request_id": request_id, "page": {"cursor": cursor, "has_more": has_more}}
