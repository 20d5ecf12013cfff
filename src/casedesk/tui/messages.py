"""App-wide messages: what happened in the background, for every screen to react to."""

from textual.message import Message

from casedesk.sync.events import SyncProgress, SyncResult


class SyncStarted(Message):
    """A sync began (on start, on the timer, or on `r`)."""


class SyncProgressed(Message):
    def __init__(self, progress: SyncProgress) -> None:
        super().__init__()
        self.progress = progress


class SyncFinished(Message):
    """A sync ended; `result.online` says whether the API answered."""

    def __init__(self, result: SyncResult) -> None:
        super().__init__()
        self.result = result


class CacheChanged(Message):
    """The cache or the outbox changed: queue rows, counts and flags should be redrawn."""


class ClockTicked(Message):
    """A minute passed: SLA countdowns and states move."""
