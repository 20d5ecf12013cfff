"""The console's local store: the disposable cache, the precious outbox, drafts.

`LocalStore.open(data_dir)` is the one way in; it holds the data directory's lock.

Its names are imported on first use (PEP 562): the console takes the directory's
lock (`casedesk.store.files`) and paints the queue before the cache's models load.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from casedesk.store.cache import Cache
    from casedesk.store.cached import CaseDetails, QueueRow, ReadMarker, SyncState
    from casedesk.store.drafts import Draft, Drafts, DraftValue
    from casedesk.store.errors import (
        FileQuarantined,
        InvalidTransition,
        OutboxCorrupt,
        OutboxRecovered,
        StoreClosed,
        StoreError,
        StoreEvent,
        StoreFileCorrupt,
        StoreLocked,
        TempFilesRemoved,
        UnknownItem,
    )
    from casedesk.store.local import LocalStore
    from casedesk.store.outbox import Outbox
    from casedesk.store.outbox_item import (
        PENDING,
        ItemError,
        ItemKind,
        OutboxItem,
        OutboxState,
        ParkReason,
    )
    from casedesk.store.storage import gc_paused

_HOMES = {
    "Cache": "casedesk.store.cache",
    "CaseDetails": "casedesk.store.cached",
    "Draft": "casedesk.store.drafts",
    "DraftValue": "casedesk.store.drafts",
    "Drafts": "casedesk.store.drafts",
    "FileQuarantined": "casedesk.store.errors",
    "InvalidTransition": "casedesk.store.errors",
    "ItemError": "casedesk.store.outbox_item",
    "ItemKind": "casedesk.store.outbox_item",
    "LocalStore": "casedesk.store.local",
    "Outbox": "casedesk.store.outbox",
    "OutboxCorrupt": "casedesk.store.errors",
    "OutboxItem": "casedesk.store.outbox_item",
    "OutboxRecovered": "casedesk.store.errors",
    "OutboxState": "casedesk.store.outbox_item",
    "PENDING": "casedesk.store.outbox_item",
    "ParkReason": "casedesk.store.outbox_item",
    "QueueRow": "casedesk.store.cached",
    "ReadMarker": "casedesk.store.cached",
    "StoreClosed": "casedesk.store.errors",
    "StoreError": "casedesk.store.errors",
    "StoreEvent": "casedesk.store.errors",
    "StoreFileCorrupt": "casedesk.store.errors",
    "StoreLocked": "casedesk.store.errors",
    "SyncState": "casedesk.store.cached",
    "TempFilesRemoved": "casedesk.store.errors",
    "UnknownItem": "casedesk.store.errors",
    "gc_paused": "casedesk.store.storage",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(home), name)


__all__ = [
    "PENDING",
    "Cache",
    "CaseDetails",
    "Draft",
    "DraftValue",
    "Drafts",
    "FileQuarantined",
    "InvalidTransition",
    "ItemError",
    "ItemKind",
    "LocalStore",
    "Outbox",
    "OutboxCorrupt",
    "OutboxItem",
    "OutboxRecovered",
    "OutboxState",
    "ParkReason",
    "QueueRow",
    "ReadMarker",
    "StoreClosed",
    "StoreError",
    "StoreEvent",
    "StoreFileCorrupt",
    "StoreLocked",
    "SyncState",
    "TempFilesRemoved",
    "UnknownItem",
    "gc_paused",
]
