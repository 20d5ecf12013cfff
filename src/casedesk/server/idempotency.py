"""`Idempotency-Key`: one effect per key, however often and however concurrently it is sent.

The key's record is written in the same transaction as the effect, so either
both exist or neither does. A repeat inside the retention window answers the
stored response with `Idempotent-Replayed: true`; the same key with another
request is 422; a repeat while the first is still running is 409 (tracked in
this process, which is the only writer of its SQLite database).
"""

import hashlib
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection, and_, delete, insert, select

from casedesk.domain import limits
from casedesk.domain.base import format_timestamp
from casedesk.domain.clock import Clock
from casedesk.server.database import Database
from casedesk.server.errors import ApiError, Text, bad_request
from casedesk.server.schema import idempotency_keys

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

Effect = Callable[[Connection], tuple[int, dict[str, Any]]]
"""Does the work inside the transaction and returns (status, JSON body)."""


class InFlight:
    """Keys whose first request is still being processed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[tuple[str, str]] = set()

    def claim(self, scope: tuple[str, str]) -> bool:
        with self._lock:
            if scope in self._keys:
                return False
            self._keys.add(scope)
            return True

    def release(self, scope: tuple[str, str]) -> None:
        with self._lock:
            self._keys.discard(scope)


def read_key(request: Request) -> str | None:
    """The request's key: 1..255 printable ASCII characters (an RFC 8941 quoted string too)."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]
    if not limits.IDEMPOTENCY_KEY_MIN <= len(key) <= limits.IDEMPOTENCY_KEY_MAX:
        raise bad_request(
            HEADER,
            Text(
                f"must be {limits.IDEMPOTENCY_KEY_MIN} to {limits.IDEMPOTENCY_KEY_MAX} characters",
                f"doit compter de {limits.IDEMPOTENCY_KEY_MIN} à {limits.IDEMPOTENCY_KEY_MAX} "
                "caractères",
            ),
        )
    if not all(" " <= char <= "~" for char in key):
        raise bad_request(
            HEADER,
            Text(
                "must contain only printable ASCII characters",
                "ne doit contenir que des caractères ASCII imprimables",
            ),
        )
    return key


def fingerprint(request: Request, canonical_body: bytes) -> str:
    """What makes two requests "the same": method, path, query and body."""
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, str(request.url.query)):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(canonical_body)
    return digest.hexdigest()


def canonical_json(body: Any) -> bytes:
    """The body in a form where key order and spacing make no difference."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return Response(
        content=orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def run_once(
    *,
    request: Request,
    database: Database,
    in_flight: InFlight,
    clock: Clock,
    user_id: str,
    canonical_body: bytes,
    effect: Effect,
) -> Response:
    """Apply `effect` once per (caller, Idempotency-Key) and answer its response."""
    key = read_key(request)
    if key is None:
        with database.write() as connection:
            status, body = effect(connection)
        return json_response(status, body)

    scope = (user_id, key)
    if not in_flight.claim(scope):
        raise ApiError(409, "idempotency_in_flight", headers={"Retry-After": "1"})
    try:
        request_print = fingerprint(request, canonical_body)
        now = clock()
        with database.write() as connection:
            where = and_(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
            stored = connection.execute(select(idempotency_keys).where(where)).first()
            expired_before = format_timestamp(
                now - timedelta(hours=limits.IDEMPOTENCY_RETENTION_HOURS)
            )
            if stored is not None and stored.created_at >= expired_before:
                if stored.fingerprint != request_print:
                    raise ApiError(422, "idempotency_key_reused")
                return Response(
                    content=stored.response_body,
                    status_code=stored.response_status,
                    media_type="application/json",
                    headers={REPLAYED_HEADER: "true"},
                )
            if stored is not None:
                connection.execute(delete(idempotency_keys).where(where))
            status, body = effect(connection)
            encoded = orjson.dumps(body)
            connection.execute(
                insert(idempotency_keys).values(
                    user_id=user_id,
                    key=key,
                    fingerprint=request_print,
                    response_status=status,
                    response_body=encoded.decode(),
                    created_at=format_timestamp(now),
                )
            )
        return Response(content=encoded, status_code=status, media_type="application/json")
    finally:
        in_flight.release(scope)


def purge_expired(database: Database, clock: Clock) -> int:
    """Forget keys older than the retention window; returns how many."""
    cutoff = format_timestamp(clock() - timedelta(hours=limits.IDEMPOTENCY_RETENTION_HOURS))
    with database.write() as connection:
        result = connection.execute(
            delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff)
        )
    return int(result.rowcount or 0)
