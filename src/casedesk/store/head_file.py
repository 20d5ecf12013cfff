"""`queue-head.json`: the queue's first screenful, read before the store is opened.

See `casedesk.domain.queue_head` for what it holds and why. Only stdlib and the
domain are imported here: the console reads it, with the data directory's lock
held, before anything else of the store loads.
"""

import logging
from datetime import datetime
from pathlib import Path

from casedesk.domain.queue_head import HeadUnreadable, QueueHead, parse_head
from casedesk.store.files import write_atomic

HEAD_FILE = "queue-head.json"

log = logging.getLogger(__name__)


def load_head(data_dir: Path, *, view: str, now: datetime) -> QueueHead | None:
    """The head of `view` kept in `data_dir`; None when there is none to trust."""
    try:
        raw = (data_dir / HEAD_FILE).read_bytes()
    except OSError:
        return None
    try:
        head = parse_head(raw, now=now)
    except HeadUnreadable as error:
        log.info("queue head ignored: %s", error)
        return None
    return head if head.view == view else None


def keep_head(data_dir: Path, data: bytes) -> None:
    """Replace the head with `data` unless it holds those bytes already.

    The file is disposable: a failure is logged, and costs the next start its head.
    """
    path = data_dir / HEAD_FILE
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    try:
        write_atomic(path, data, sync_dir=False)
    except OSError as error:
        log.warning("queue head not written: %s", error)
