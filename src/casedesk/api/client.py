"""`CaseApiClient`: the case API over `httpx.AsyncClient`, one typed coroutine per endpoint.

Every answer is read with a size cap, sanitised (`domain.sanitize`) and
validated with the domain models before it is returned: an answer that is not
the documented shape raises `InvalidResponse`, never comes back as data.
The API key goes only to the configured origin, in `X-API-KEY`: redirects are
never followed, and no exception, log line or URL carries the key.
"""

import asyncio
import hashlib
import mimetypes
import uuid
from collections.abc import AsyncIterator, Collection, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, Self, TypeVar, Unpack
from urllib.parse import quote

import httpx

from casedesk import __version__
from casedesk.api.backend import CaseBackend, CaseQuery
from casedesk.api.errors import InvalidResponse
from casedesk.api.http import (
    DEFAULT_PORTS,
    AnswerReader,
    ApiKeyAuth,
    exchange,
    origin_of,
    origin_text,
)
from casedesk.api.pages import CursorPage, collect, iter_pages
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey, protect_logs
from casedesk.domain import limits
from casedesk.domain.actions import CaseAction, case_action_adapter
from casedesk.domain.base import format_timestamp
from casedesk.domain.case import Case
from casedesk.domain.create import NewCase
from casedesk.domain.enums import Include
from casedesk.domain.envelope import ActionResult, Envelope
from casedesk.domain.people import Queue, User
from casedesk.domain.records import ActionLogEntry, Document, Escalation, Message, Override

T = TypeVar("T")

MAX_JSON_BYTES: Final = 20 * 1024 * 1024
"""A JSON answer larger than this is refused without being read into memory."""
MAX_DOCUMENT_BYTES: Final = 64 * 1024 * 1024
"""Largest document download accepted."""
DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=10.0)
"""Per request: seconds to connect, to wait for each read/write, to get a pooled connection."""


def new_idempotency_key() -> str:
    """A fresh Idempotency-Key (a UUID4): mint one per logical action, reuse it on retries."""
    return str(uuid.uuid4())


def check_idempotency_key(key: str) -> str:
    """`key` if the API would accept it (1..255 printable ASCII characters), else ValueError."""
    if not limits.IDEMPOTENCY_KEY_MIN <= len(key) <= limits.IDEMPOTENCY_KEY_MAX:
        raise ValueError(
            f"an Idempotency-Key has {limits.IDEMPOTENCY_KEY_MIN}.."
            f"{limits.IDEMPOTENCY_KEY_MAX} characters, this one has {len(key)}"
        )
    if not all(" " <= char <= "~" for char in key):
        raise ValueError("an Idempotency-Key must be printable ASCII")
    return key


def _segment(value: uuid.UUID | str) -> str:
    """One path segment from an id or reference, escaped so it cannot leave its place."""
    text = str(value)
    if text in ("", ".", ".."):
        raise ValueError(f"{text!r} is not an id or a reference")
    return quote(text, safe="")


class ConnectionProfile(Protocol):
    """What the client needs from a profile (see `casedesk.config.Profile`)."""

    @property
    def url(self) -> str: ...

    @property
    def api_key(self) -> ApiKey: ...

    @property
    def language(self) -> str | None: ...


class CaseApiClient:
    """An async client of the case API (v1); implements `CaseBackend`.

    Use it as an async context manager, or call `aclose()`. One instance is
    safe to share between concurrent tasks.
    """

    def __init__(
        self,
        base_url: str,
        api_key: ApiKey,
        *,
        language: str | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        max_json_bytes: int = MAX_JSON_BYTES,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str | None = None,
    ) -> None:
        if not isinstance(api_key, ApiKey):
            raise TypeError("api_key must be an ApiKey, so that it cannot leak through a repr")
        url = httpx.URL(base_url)
        if url.scheme not in DEFAULT_PORTS or not url.host:
            raise ValueError("the API URL must look like https://host[:port][/prefix]")
        if url.userinfo:
            raise ValueError("the API URL must not carry a user name or password")
        if url.query or url.fragment:
            raise ValueError("the API URL must not carry a query or a fragment")
        self._origin = origin_of(url)
        self._reader = AnswerReader(api_key, self._origin)
        protect_logs(api_key)
        self._retry = retry or RetryPolicy()
        self._max_json_bytes = max_json_bytes
        self._received = [0]  # shared with `with_retry` views: one count per connection pool
        self._max_document_bytes = max_document_bytes
        headers = {
            "Accept": "application/json",
            "User-Agent": user_agent or f"casedesk/{__version__}",
        }
        if language:
            headers["Accept-Language"] = language
        self._http = httpx.AsyncClient(
            base_url=url,
            auth=ApiKeyAuth(api_key, self._origin),
            headers=headers,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            follow_redirects=False,
            transport=transport,
        )
        self._owns_http = True

    @classmethod
    def from_profile(cls, profile: ConnectionProfile, **options: Any) -> Self:
        """A client for a resolved profile (URL, key, language); `options` as for `__init__`."""
        return cls(profile.url, profile.api_key, language=profile.language, **options)

    def with_retry(self, retry: RetryPolicy) -> Self:
        """A view of this client with another retry policy, sharing its connections."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin._retry = retry
        twin._owns_http = False
        return twin

    @property
    def bytes_received(self) -> int:
        """Bytes of JSON answers read so far (sync progress shows it)."""
        return self._received[0]

    @property
    def origin(self) -> str:
        """`scheme://host[:port]` of the API: the only place the key is ever sent."""
        return origin_text(self._origin)

    def __repr__(self) -> str:
        return f"CaseApiClient({self.origin!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (a view made by `with_retry` leaves them to its parent)."""
        if self._owns_http:
            await self._http.aclose()

    # -- people and queues -------------------------------------------------------

    async def me(self) -> User:
        """The user the API key belongs to."""
        return (await self._get("/v1/me", Envelope[User])).data

    async def users(self) -> list[User]:
        """Every assignable user of the organization (all pages)."""
        return await collect(
            iter_pages(lambda c: self._page("/v1/users", Envelope[list[User]], {}, c))
        )

    async def queues(self) -> list[Queue]:
        """Every queue of the organization (all pages)."""
        return await collect(
            iter_pages(lambda c: self._page("/v1/queues", Envelope[list[Queue]], {}, c))
        )

    # -- cases -----------------------------------------------------------------

    async def list_cases(
        self, *, cursor: str | None = None, **query: Unpack[CaseQuery]
    ) -> CursorPage[Case]:
        """One page of cases, filtered and sorted as `query` says (see `CaseQuery`)."""
        params: dict[str, str] = {}
        for name, value in query.items():
            if value is None:
                continue
            if isinstance(value, datetime):
                if value.tzinfo is None:
                    raise ValueError(f"{name} must carry a time zone")
                params[name] = format_timestamp(value)
            elif isinstance(value, Collection) and not isinstance(value, str):
                params[name] = ",".join(str(item) for item in value)  # any of several values
            else:
                params[name] = str(value)
        return await self._page("/v1/cases", Envelope[list[Case]], params, cursor)

    def iter_cases(
        self, *, cursor: str | None = None, **query: Unpack[CaseQuery]
    ) -> AsyncIterator[CursorPage[Case]]:
        """Every page of cases from `cursor` on, so a caller can report progress per page."""
        return iter_pages(lambda c: self.list_cases(cursor=c, **query), cursor=cursor)

    async def get_case(self, id_or_ref: uuid.UUID | str) -> Case:
        """One case, by id or by reference (`CAS-000142`)."""
        return (await self._get(f"/v1/cases/{_segment(id_or_ref)}", Envelope[Case])).data

    async def messages(
        self, case_id: uuid.UUID | str, *, limit: int | None = None, cursor: str | None = None
    ) -> CursorPage[Message]:
        """One page of a case's chat, oldest first."""
        return await self._child(case_id, "messages", Envelope[list[Message]], limit, cursor)

    async def escalations(
        self, case_id: uuid.UUID | str, *, limit: int | None = None, cursor: str | None = None
    ) -> CursorPage[Escalation]:
        """One page of a case's escalations."""
        return await self._child(case_id, "escalations", Envelope[list[Escalation]], limit, cursor)

    async def overrides(
        self, case_id: uuid.UUID | str, *, limit: int | None = None, cursor: str | None = None
    ) -> CursorPage[Override]:
        """One page of a case's override requests."""
        return await self._child(case_id, "overrides", Envelope[list[Override]], limit, cursor)

    async def actions(
        self, case_id: uuid.UUID | str, *, limit: int | None = None, cursor: str | None = None
    ) -> CursorPage[ActionLogEntry]:
        """One page of a case's permanent action log."""
        return await self._child(case_id, "actions", Envelope[list[ActionLogEntry]], limit, cursor)

    async def all_messages(self, case_id: uuid.UUID | str) -> list[Message]:
        """A case's whole chat (every page, largest page size)."""
        return await collect(
            iter_pages(lambda c: self.messages(case_id, limit=limits.PAGE_LIMIT_MAX, cursor=c))
        )

    async def all_escalations(self, case_id: uuid.UUID | str) -> list[Escalation]:
        """All of a case's escalations."""
        return await collect(
            iter_pages(lambda c: self.escalations(case_id, limit=limits.PAGE_LIMIT_MAX, cursor=c))
        )

    async def all_overrides(self, case_id: uuid.UUID | str) -> list[Override]:
        """All of a case's override requests."""
        return await collect(
            iter_pages(lambda c: self.overrides(case_id, limit=limits.PAGE_LIMIT_MAX, cursor=c))
        )

    async def all_actions(self, case_id: uuid.UUID | str) -> list[ActionLogEntry]:
        """A case's whole action log."""
        return await collect(
            iter_pages(lambda c: self.actions(case_id, limit=limits.PAGE_LIMIT_MAX, cursor=c))
        )

    # -- changes -----------------------------------------------------------------

    async def create_case(self, body: NewCase, idempotency_key: str | None) -> Case:
        """Create a case. With a key, a repeat returns the first answer and creates nothing."""
        content = body.model_dump_json(by_alias=True, exclude_unset=True).encode()
        request = self._post_json("/v1/cases", content, idempotency_key)
        return (await self._send(request, Envelope[Case], idempotency_key)).data

    async def act(
        self,
        case_id: uuid.UUID | str,
        action: CaseAction,
        *,
        idempotency_key: str | None,
        if_match: int | None = None,
        include: Iterable[Include | str] = (),
    ) -> ActionResult:
        """Apply one action to a case and return the log entry, the case after it, and `include`s.

        `if_match` is the revision the user saw: if the case changed since, the API
        answers 412 (`StaleRevision`) and applies nothing.
        """
        content = case_action_adapter.dump_json(action, by_alias=True, exclude_unset=True)
        includes = ",".join(str(item) for item in include)
        request = self._post_json(
            f"/v1/cases/{_segment(case_id)}/actions",
            content,
            idempotency_key,
            params={"include": includes} if includes else None,
            extra_headers={"If-Match": f'"{if_match}"'} if if_match is not None else None,
        )
        return (await self._send(request, Envelope[ActionResult], idempotency_key)).data

    async def upload_document(
        self,
        source: Path | bytes,
        *,
        name: str | None = None,
        content_type: str | None = None,
        idempotency_key: str | None,
    ) -> Document:
        """Upload a file (multipart field `file`); attach it to a comment by the returned id."""
        if isinstance(source, Path):
            content = await asyncio.to_thread(source.read_bytes)
            name = name or source.name
        else:
            content = bytes(source)
        if not name:
            raise ValueError("a document needs a name")
        if len(content) > limits.DOCUMENT_MAX_BYTES:
            raise ValueError(
                f"{name} is {len(content)} bytes; documents are limited to "
                f"{limits.DOCUMENT_MAX_BYTES} bytes"
            )
        content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = self._write_headers(idempotency_key)
        # A boundary derived from the key makes a replayed upload byte-identical, so
        # an API that fingerprints the raw body recognises the repeat (no 422).
        seed = idempotency_key or new_idempotency_key()
        boundary = hashlib.sha256(f"casedesk-upload\0{seed}".encode()).hexdigest()[:40]
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        request = self._http.build_request(
            "POST", "/v1/documents", files={"file": (name, content, content_type)}, headers=headers
        )
        return (await self._send(request, Envelope[Document], idempotency_key)).data

    async def document_content(self, document_id: uuid.UUID | str) -> bytes:
        """The bytes of an uploaded document."""
        request = self._http.build_request(
            "GET", f"/v1/documents/{_segment(document_id)}/content", headers={"Accept": "*/*"}
        )

        async def attempt() -> bytes:
            answer = await exchange(self._http, request, limit=self._max_document_bytes)
            if not 200 <= answer.status < 300:
                raise self._reader.failure(answer)
            return answer.body

        return await self._retry.call(attempt, repeatable=True, label=f"GET {request.url.path}")

    # -- plumbing ----------------------------------------------------------------

    async def _get(
        self, path: str, model: type[Envelope[T]], params: dict[str, str] | None = None
    ) -> Envelope[T]:
        request = self._http.build_request("GET", path, params=params)
        return await self._send(request, model, None, method_is_safe=True)

    async def _page(
        self,
        path: str,
        model: type[Envelope[list[T]]],
        params: dict[str, str],
        cursor: str | None,
    ) -> CursorPage[T]:
        if cursor is not None:
            params = {**params, "cursor": cursor}
        envelope = await self._get(path, model, params)
        page = envelope.meta.page
        if page is None:
            raise InvalidResponse(
                f"the answer to GET {path} is a list without meta.page",
                status=200,
                request_id=envelope.meta.request_id,
                method="GET",
                url=path,
            )
        return CursorPage(envelope.data, page.cursor, page.has_more, envelope.meta.request_id)

    async def _child(
        self,
        case_id: uuid.UUID | str,
        kind: str,
        model: type[Envelope[list[T]]],
        limit: int | None,
        cursor: str | None,
    ) -> CursorPage[T]:
        params = {} if limit is None else {"limit": str(limit)}
        return await self._page(f"/v1/cases/{_segment(case_id)}/{kind}", model, params, cursor)

    def _write_headers(self, idempotency_key: str | None) -> dict[str, str]:
        if idempotency_key is None:
            return {}
        return {"Idempotency-Key": check_idempotency_key(idempotency_key)}

    def _post_json(
        self,
        path: str,
        content: bytes,
        idempotency_key: str | None,
        *,
        params: dict[str, str] | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Request:
        headers = self._write_headers(idempotency_key)
        headers["Content-Type"] = "application/json"
        headers.update(extra_headers or {})
        return self._http.build_request(
            "POST", path, content=content, params=params, headers=headers
        )

    async def _send(
        self,
        request: httpx.Request,
        model: type[Envelope[T]],
        idempotency_key: str | None,
        *,
        method_is_safe: bool = False,
    ) -> Envelope[T]:
        """Send `request` (built once, so every retry repeats the same bytes and key)."""

        async def attempt() -> Envelope[T]:
            answer = await exchange(self._http, request, limit=self._max_json_bytes)
            self._received[0] += len(answer.body)
            if not 200 <= answer.status < 300:
                raise self._reader.failure(answer)
            # Parsed in a helper that returns its error, so the frame that raises
            # holds no parsed body (crash reports print the locals of each frame).
            result = self._reader.envelope(answer, model)
            if isinstance(result, InvalidResponse):
                raise result
            return result

        return await self._retry.call(
            attempt,
            repeatable=method_is_safe or idempotency_key is not None,
            label=f"{request.method} {request.url.path}",
        )


if TYPE_CHECKING:

    def _implements_the_port(client: CaseApiClient) -> CaseBackend:
        return client  # mypy proves that the client satisfies `CaseBackend`
