"""The one retry policy of the case API client (tenacity underneath).

- What is retried: `errors.is_transient` (connection errors, timeouts, 5xx,
  429, 409 `idempotency_in_flight`), and only for requests that are safe to
  repeat: GETs, and POSTs that carry an Idempotency-Key (the caller builds the
  request once, so every attempt sends the same key and the same bytes).
- How long to wait: exponential backoff with full jitter (a uniform draw in
  `[0, min(wait_max, wait_initial * 2 ** (attempt - 1))]`, AWS's "full
  jitter"), or, on a 429/503 carrying a valid `Retry-After`, exactly that long.
- When to stop: after `attempts` tries, or when the next wait would end past
  `timeout` seconds from the first try, or at once when `Retry-After` asks for
  more than `retry_after_max` seconds: we never retry before the server's
  deadline, so the error goes up with its `retry_after` for the caller (the
  outbox) to honour.
"""

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from casedesk.api.errors import ApiStatusError, InvalidResponse, is_transient

T = TypeVar("T")

logger = logging.getLogger("casedesk.api")

RETRY_AFTER_STATUSES = frozenset({429, 503})
"""Statuses whose `Retry-After` header we honour."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (RFC 9110 §10.2.3), or None if unusable.

    Accepts delay-seconds (`"120"`) and an HTTP-date (`"Wed, 21 Oct 2015 07:28:00
    GMT"`). Anything else, a negative delay or a date already past gives None, and
    the caller falls back to its own backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 850 / asctime dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    delay = (when - (now or datetime.now(UTC))).total_seconds()
    return delay if delay >= 0 else None


def _retry_after_of(error: BaseException) -> float | None:
    if isinstance(error, ApiStatusError | InvalidResponse):
        return error.retry_after
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How the client retries a failed request; one instance is shared by every call."""

    attempts: int = 5
    """Tries in all, the first included (1 = never retry)."""
    timeout: float = 60.0
    """Seconds from the first try after which no retry starts."""
    wait_initial: float = 0.5
    """Upper bound of the first backoff draw; it doubles with each retry."""
    wait_max: float = 10.0
    """Largest upper bound of a backoff draw."""
    retry_after_max: float = 60.0
    """A `Retry-After` longer than this is not waited for here: the error goes up."""
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    """How to wait (tests pass a recorder that does not really wait)."""
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    """Seconds on a monotonic clock, to measure `timeout` (tests pass one their sleep moves)."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        for name in ("timeout", "wait_initial", "wait_max", "retry_after_max"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number of seconds >= 0")

    @classmethod
    def never(cls) -> "RetryPolicy":
        """A policy that makes one attempt only."""
        return cls(attempts=1)

    def should_retry(self, error: BaseException) -> bool:
        """Whether `error` is worth another attempt under this policy (deadline aside)."""
        if not is_transient(error):
            return False
        retry_after = _retry_after_of(error)
        return retry_after is None or retry_after <= min(self.retry_after_max, self.timeout)

    def wait_before(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based) with `error`."""
        retry_after = _retry_after_of(error) if error is not None else None
        if retry_after is not None:
            return retry_after
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        # Full jitter: uniform over the whole window, so clients spread out.
        window = self.wait_initial * 2.0 ** min(attempt - 1, 64)
        return random.uniform(0.0, min(self.wait_max, window))

    async def call(
        self,
        send: Callable[[], Awaitable[T]],
        *,
        repeatable: bool,
        label: str = "request",
    ) -> T:
        """Await `send()`, retrying it under this policy when `repeatable`.

        `repeatable` must be False for a POST without an Idempotency-Key: such a
        request is tried once, whatever happens, since a retry could apply it twice.
        """
        if not repeatable or self.attempts == 1:
            return await send()

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return self.wait_before(state.attempt_number, error)

        def announce(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            logger.info(
                "%s failed (%s: %s); retrying in %.2f s (attempt %d of %d)",
                label,
                type(error).__name__,
                error,
                state.upcoming_sleep,
                state.attempt_number + 1,
                self.attempts,
            )

        started = self.clock()

        def stop(state: RetryCallState) -> bool:
            # Out of attempts, or the next attempt would start at or past the deadline.
            elapsed = self.clock() - started
            return (
                state.attempt_number >= self.attempts
                or elapsed + state.upcoming_sleep >= self.timeout
            )

        retrying = AsyncRetrying(
            sleep=self.sleep,
            stop=stop,
            wait=wait,
            retry=retry_if_exception(self.should_retry),
            before_sleep=announce,
            reraise=True,
        )
        result: T = await retrying(send)
        return result
