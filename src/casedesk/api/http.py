"""One HTTP round trip of the case API client, and reading what came back.

`exchange` sends a request and reads the answer within a size cap, turning
transport failures into our errors; `AnswerReader` turns an answer into a
validated, sanitised envelope or into the exception it stands for.
"""

import json
from collections.abc import Generator
from typing import Any, Final, TypeVar

import httpx
import orjson
from pydantic import ValidationError

from casedesk.api.errors import (
    ApiConnectionError,
    ApiTimeout,
    CaseApiError,
    FieldError,
    InvalidResponse,
    status_error_class,
)
from casedesk.api.retry import RETRY_AFTER_STATUSES, parse_retry_after
from casedesk.api.secret import ApiKey
from casedesk.domain.envelope import Envelope, ErrorBody
from casedesk.domain.sanitize import json_needs_sanitizing, sanitize_json, sanitize_text

T = TypeVar("T")

DEFAULT_PORTS: Final = {"http": 80, "https": 443}

Origin = tuple[str, str, int]
"""(scheme, host, port): where a request goes."""


def origin_of(url: httpx.URL) -> Origin:
    """The origin of a URL, with the scheme's default port made explicit."""
    return (url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme, 0))


def origin_text(origin: Origin) -> str:
    """`scheme://host[:port]`, the port shown only when it is not the default."""
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if DEFAULT_PORTS.get(scheme) == port else f":{port}")


class ApiKeyAuth(httpx.Auth):
    """Adds `X-API-KEY` to requests bound for the configured origin, and to no other."""

    def __init__(self, key: ApiKey, origin: Origin) -> None:
        self._key = key
        self._origin = origin

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if origin_of(request.url) != self._origin:
            raise CaseApiError(
                f"refusing to send the API key to {origin_text(origin_of(request.url))}: "
                f"it only goes to {origin_text(self._origin)}",
                method=request.method,
                url=str(request.url),
            )
        # Never bound to a local: a crash report prints the locals of every frame.
        request.headers["X-API-KEY"] = self._key.reveal()
        yield request


class Answer:
    """A complete HTTP answer, read within its size cap.

    Its repr shows neither body nor headers: crash reports print every local.
    """

    __slots__ = ("body", "headers", "method", "status", "url")

    def __init__(
        self, method: str, url: str, status: int, headers: httpx.Headers, body: bytes
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"<answer {self.status} to {self.method} {self.url}, {len(self.body)} bytes>"

    @property
    def media_type(self) -> str:
        content_type: str = self.headers.get("content-type", "")
        return content_type.split(";", 1)[0].strip().lower()

    @property
    def what(self) -> str:
        return f"the answer to {self.method} {httpx.URL(self.url).path} (HTTP {self.status})"


async def exchange(http: httpx.AsyncClient, request: httpx.Request, *, limit: int) -> Answer:
    """One round trip; transport failures become our errors, with no link to httpx's."""
    failure: CaseApiError | None = None
    where = f"{request.method} {request.url.path} at {origin_text(origin_of(request.url))}"
    try:
        response = await http.send(request, stream=True)
        try:
            body = await _read_capped(response, limit)
        finally:
            await response.aclose()
    except httpx.TimeoutException as exc:
        kind = type(exc).__name__.removesuffix("Timeout").lower() or "request"
        failure = ApiTimeout(
            f"{where}: no answer in time ({kind} timeout)",
            method=request.method,
            url=str(request.url),
        )
    except httpx.TransportError as exc:
        failure = ApiConnectionError(
            f"{where}: could not complete the request ({type(exc).__name__}: {exc})",
            method=request.method,
            url=str(request.url),
        )
    except httpx.DecodingError as exc:
        failure = InvalidResponse(
            f"{where}: the answer's content encoding is broken ({exc})",
            status=None,
            method=request.method,
            url=str(request.url),
        )
    if failure is not None:
        # Raised outside the `except`: the httpx error (and the request it holds,
        # headers and key included) is not chained to what the caller sees.
        raise failure
    return Answer(request.method, str(request.url), response.status_code, response.headers, body)


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InvalidResponse(
            f"the answer to {response.request.method} {response.request.url.path} declares "
            f"{int(declared)} bytes, over the {limit}-byte limit; it was not read",
            status=response.status_code,
            method=response.request.method,
            url=str(response.request.url),
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise InvalidResponse(
                f"the answer to {response.request.method} {response.request.url.path} is "
                f"over the {limit}-byte limit; reading stopped",
                status=response.status_code,
                method=response.request.method,
                url=str(response.request.url),
            )
        chunks.append(chunk)
    return b"".join(chunks)


class AnswerReader:
    """Reads answers for one client: validates, sanitises, redacts its key from messages."""

    def __init__(self, key: ApiKey, origin: Origin) -> None:
        self._key = key
        self._origin = origin

    def _invalid(self, answer: Answer, problem: str, **extra: Any) -> InvalidResponse:
        return InvalidResponse(
            self._key.redact(f"{answer.what} {problem}"),
            status=answer.status,
            method=answer.method,
            url=answer.url,
            **extra,
        )

    def _json(self, answer: Answer) -> Any:
        """The sanitised JSON of an answer, or an `InvalidResponse` saying what is wrong."""
        media_type = answer.media_type
        if media_type != "application/json" and not media_type.endswith("+json"):
            return self._invalid(
                answer,
                f"is {media_type or 'of no content type'}, not application/json "
                f"({len(answer.body)} bytes)",
            )
        try:
            parsed = orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            pass
        else:
            return sanitize_json(parsed) if json_needs_sanitizing(answer.body) else parsed
        # The lenient path: lone surrogate escapes and stray bytes become U+FFFD.
        problem = ""
        try:
            return sanitize_json(json.loads(answer.body.decode("utf-8", "replace")))
        except json.JSONDecodeError as exc:
            problem = f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        except RecursionError:
            problem = "is JSON nested too deeply to read"
        return self._invalid(answer, problem)

    def envelope(self, answer: Answer, model: type[Envelope[T]]) -> Envelope[T] | InvalidResponse:
        """The validated envelope of a 2xx answer, or the error saying why it is not one."""
        tree = self._json(answer)
        if isinstance(tree, InvalidResponse):
            return tree
        problem = ""
        try:
            return model.model_validate(tree)
        except ValidationError as exc:
            problem = _describe(exc)
        return self._invalid(answer, f"is not the documented shape: {problem}")

    def failure(self, answer: Answer) -> CaseApiError:
        """The exception for a non-2xx answer."""
        retry_after = (
            parse_retry_after(answer.headers.get("retry-after"))
            if answer.status in RETRY_AFTER_STATUSES
            else None
        )
        request_id = answer.headers.get("x-request-id")
        if 300 <= answer.status < 400:
            return self._invalid(answer, self._redirect_problem(answer))
        tree = self._json(answer)
        if isinstance(tree, InvalidResponse):
            tree.retry_after = retry_after
            tree.request_id = request_id
            return tree
        problem = ""
        try:
            body = ErrorBody.model_validate(tree)
        except ValidationError as exc:
            problem = _describe(exc)
        if problem:
            return self._invalid(
                answer,
                f"is not the API's error shape: {problem}",
                retry_after=retry_after,
                request_id=request_id,
            )
        redact = self._key.redact
        return status_error_class(answer.status)(
            status=answer.status,
            code=body.error.code,
            message=redact(body.error.message),
            details=[FieldError(redact(d.path), redact(d.message)) for d in body.error.details],
            data=_redact_tree(body.error.data, self._key),
            request_id=body.meta.request_id,
            retry_after=retry_after,
            method=answer.method,
            url=answer.url,
        )

    def _redirect_problem(self, answer: Answer) -> str:
        location = sanitize_text(answer.headers.get("location", ""))
        target = "elsewhere"
        try:
            if location:
                target_origin = origin_of(httpx.URL(answer.url).join(location))
                target = origin_text(target_origin)
                if target_origin == self._origin:
                    target = f"{httpx.URL(answer.url).join(location).path} on the same origin"
        except (httpx.InvalidURL, ValueError):
            target = "an unreadable location"
        return (
            f"redirects to {target}; redirects are not followed, so the API key only ever "
            f"goes to {origin_text(self._origin)}: check the profile's url"
        )


def _describe(error: ValidationError, shown: int = 3) -> str:
    """The first problems of a validation error, by field path, without the offending values."""
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    parts = [
        f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
        for problem in problems[:shown]
    ]
    if len(problems) > shown:
        parts.append(f"and {len(problems) - shown} more")
    return "; ".join(parts)


def _redact_tree(value: Any, key: ApiKey) -> Any:
    if isinstance(value, str):
        return key.redact(value)
    if isinstance(value, list):
        return [_redact_tree(item, key) for item in value]
    if isinstance(value, dict):
        return {key.redact(k): _redact_tree(v, key) for k, v in value.items()}
    return value
