"""Processes the crash and lock tests kill with SIGKILL.

    python _child.py hold-lock DIR   # open the store, say "ready", wait
    python _child.py zygote          # fork a worker per command read on stdin

The zygote imports everything and builds the cases once, then for each
`<job> <dir>` line forks a worker and answers `pid <n>`; the worker prints
`ready`, then its progress; once the worker has died the zygote prints
`exit <code>`. So each of the ~80 kills costs a fork, not an interpreter start.
"""

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from casedesk.domain.actions import CommentAction
from casedesk.domain.case import Case
from casedesk.store import LocalStore, StoreEvent, SyncState
from casedesk.store.cache import Cache

if __package__:
    from .factories import T0, make_cases
else:  # run as a script
    sys.path.insert(0, str(Path(__file__).parent))
    from factories import T0, make_cases

CACHE_CASES = 1500
CACHE_SHARDS = 3
"""Few shards, so each loop rewrites a few large files (~0.6 MB index, ~1.2 MB shards)."""

BASE = make_cases(CACHE_CASES)


def version_of(name: str) -> int:
    return int(name.rsplit(" v", 1)[1])


def cache_version(version: int) -> list[Case]:
    """Every case at `version`: its revision and name say which write they came from."""
    return [
        case.model_copy(update={"revision": 1 + version, "name": f"{case.reference} v{version}"})
        for case in BASE
    ]


def open_cache(directory: Path) -> tuple[Cache, list[StoreEvent], list[Path]]:
    events: list[StoreEvent] = []
    cache, removed = Cache.open(
        directory,
        clock=lambda: T0,
        report=events.append,
        freeze_gc=False,
        shard_count=CACHE_SHARDS,
    )
    return cache, events, removed


def say(line: str) -> None:
    os.write(1, f"{line}\n".encode())  # one write: a kill cannot split a line


def cache_writer(directory: Path) -> None:
    """Rewrite the whole cache, version after version, until killed."""
    cache, _, _ = open_cache(directory)
    version = int(cache.sync_state().cursor or 0)
    say("ready")
    while True:
        version += 1
        with cache.batch():
            cache.upsert_cases(cache_version(version))
            cache.set_sync_state(SyncState(cursor=str(version)))


def enqueuer(directory: Path) -> None:
    """Enqueue comments until killed; print each id once `enqueue` has returned."""
    case = BASE[0]
    store = LocalStore.open(directory, freeze_gc=False)
    say("ready")
    number = 0
    while True:
        number += 1
        action = CommentAction(type="comment", body=f"comment {number}")
        item = store.outbox.enqueue(action, case_id=case.id, case_reference=case.reference)
        say(str(item.id))


def hold_lock(directory: Path) -> None:
    LocalStore.open(directory, freeze_gc=False)
    say("ready")
    time.sleep(600)


JOBS: dict[str, Callable[[Path], None]] = {"cache-writer": cache_writer, "enqueue": enqueuer}


def zygote() -> None:
    say("ready")
    for command in sys.stdin:
        job, directory = command.split()
        gate_read, gate_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(gate_write)
                os.read(gate_read, 1)  # wait until the parent knows our pid
                JOBS[job](Path(directory))
            finally:
                os._exit(1)
        os.close(gate_read)
        say(f"pid {pid}")
        os.write(gate_write, b"x")
        os.close(gate_write)
        _, status = os.waitpid(pid, 0)
        say(f"exit {os.waitstatus_to_exitcode(status)}")


if __name__ == "__main__":
    if sys.argv[1] == "zygote":
        zygote()
    else:
        hold_lock(Path(sys.argv[2]))
