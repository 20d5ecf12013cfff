"""An injectable clock, so SLA countdowns are deterministic in tests and screenshots."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(UTC)


def frozen_clock(at: datetime) -> Clock:
    """A clock that always answers `at` (for tests, demos and screenshots)."""
    fixed = at.astimezone(UTC)
    return lambda: fixed
