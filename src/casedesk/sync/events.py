"""What the sync engine reports while it works, for the console's status bar and the CLI."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class SyncProgress:
    """A pull under way: what has arrived so far."""

    phase: Literal["reference", "cases", "details", "writing"]
    pages: int = 0
    cases: int = 0
    bytes: int = 0
    details_done: int = 0
    details_total: int = 0


@dataclass(frozen=True)
class PullResult:
    """A finished pull."""

    full: bool
    pages: int
    cases: int
    details: int
    seconds: float
    finished_at: datetime


@dataclass(frozen=True)
class PushResult:
    """A pass over the outbox: what was acknowledged, what waits, what needs a person."""

    sent: int = 0
    retrying: int = 0
    parked: int = 0
    stopped_for_credentials: bool = False
    sent_case_ids: list[str] = field(default_factory=list)
    reached_api: bool = False
    """Whether any answer came back (even a refusal): the API is reachable."""


@dataclass(frozen=True)
class SyncResult:
    pull: PullResult | None
    push: PushResult
    online: bool
    error: str | None = None
