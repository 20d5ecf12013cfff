"""Helpers shared by the store tests."""

from datetime import datetime

from casedesk.store import LocalStore

from .factories import T0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def reopen(store: LocalStore, clock: Clock) -> LocalStore:
    """Close `store` and open its data directory again, as a restart would."""
    store.close()
    return LocalStore.open(store.data_dir, clock=clock, freeze_gc=False)
