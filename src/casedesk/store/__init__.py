"""The console's local store: the disposable cache, the precious outbox, drafts.

`LocalStore.open(data_dir)` is the one way in; it holds the data directory's lock.
"""

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
