"""kill -9 at random moments: files stay readable, acknowledged outbox items stay put."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from casedesk.store import FileQuarantined, LocalStore, SyncState

from . import _child

CACHE_KILLS = 50
ENQUEUE_KILLS = 30


class Zygote:
    """`_child.py zygote`: forks a worker per job; the test kills workers with SIGKILL."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, _child.__file__, "zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.read() == "ready"

    def read(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().rstrip("\n")

    def start(self, job: str, directory: Path) -> int:
        """Fork a worker doing `job`; its pid, once it is ready."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{job} {directory}\n")
        self.process.stdin.flush()
        pid = int(self.read().removeprefix("pid "))
        assert self.read() == "ready"
        return pid

    def kill(self, pid: int) -> list[str]:
        """SIGKILL the worker; what it printed after `ready`."""
        os.kill(pid, signal.SIGKILL)
        printed = []
        while not (line := self.read()).startswith("exit "):
            printed.append(line)
        assert line == f"exit {-signal.SIGKILL}"
        return printed

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    forker = Zygote()
    yield forker
    forker.close()


def temp_files(directory: Path) -> list[Path]:
    return list(directory.rglob(".*.tmp"))


@pytest.fixture(scope="module")
def cache_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("template") / "cache"
    cache, _, _ = _child.open_cache(directory)
    with cache.batch():
        cache.upsert_cases(_child.cache_version(0))
        cache.set_sync_state(SyncState(cursor="0"))
    cache.close()
    return directory


def test_killing_a_cache_write_at_random_moments_never_leaves_an_unreadable_file(
    zygote: Zygote, cache_template: Path, tmp_path: Path
) -> None:
    rng = random.Random(20261123)
    # A few loops of writes; more kills (up to 4x) if none has landed mid-write yet.
    delays = [rng.uniform(0.0, 0.4) for _ in range(4 * CACHE_KILLS)]

    def one_run(run: int) -> tuple[int, int]:
        directory = tmp_path / f"run{run}" / "cache"
        shutil.copytree(cache_template, directory)
        worker = zygote.start("cache-writer", directory)
        time.sleep(delays[run])
        zygote.kill(worker)
        leftovers = len(temp_files(directory))

        cache, events, removed = _child.open_cache(directory)
        assert not [event for event in events if isinstance(event, FileQuarantined)]
        assert len(removed) == leftovers and temp_files(directory) == []
        rows = cache.rows()
        assert len(rows) == _child.CACHE_CASES
        # The index is one file: all its rows and its watermark come from one write.
        (index_version,) = {_child.version_of(row.name) for row in rows}
        assert cache.sync_state().cursor == str(index_version)
        # Shards and recent.json are written before the index: each is whole, and the
        # case each one gives is never behind the index.
        versions = set()
        for row in rows:
            doc = cache._shards.raw(row.id)
            assert doc is not None
            versions.add(_child.version_of(doc["case"]["name"]))
        (version,) = versions
        assert version in (index_version, index_version + 1)
        details = cache.details(rows[0].id)
        assert details is not None and details.case.reference == rows[0].reference
        shutil.rmtree(directory)
        return index_version, leftovers

    outcomes = [one_run(run) for run in range(CACHE_KILLS)]
    while not any(leftovers for _, leftovers in outcomes) and len(outcomes) < len(delays):
        outcomes.append(one_run(len(outcomes)))
    # The kills landed in different writes, and some mid-write (a temp file was left).
    assert len({version for version, _ in outcomes}) >= 3
    assert sum(1 for _, leftovers in outcomes if leftovers) >= 1


def test_an_acknowledged_enqueue_survives_kill_9_exactly_once(
    zygote: Zygote, tmp_path: Path
) -> None:
    rng = random.Random(7)
    delays = [rng.uniform(0.0, 0.2) for _ in range(ENQUEUE_KILLS)]

    def one_run(run: int) -> int:
        directory = tmp_path / f"run{run}"
        worker = zygote.start("enqueue", directory)
        time.sleep(delays[run])
        acknowledged = zygote.kill(worker)

        store = LocalStore.open(directory, freeze_gc=False)
        items = store.outbox.items()
        stored = Counter(str(item.id) for item in items)
        assert all(stored[item_id] == 1 for item_id in acknowledged)
        # At most one more: the enqueue under way when killed, whole but never acknowledged.
        assert len(items) - len(acknowledged) in (0, 1)
        assert len({item.idempotency_key for item in items}) == len(items)
        assert len({item.client_action_id for item in items}) == len(items)
        assert temp_files(directory) == []
        store.close()
        return len(acknowledged)

    counts = [one_run(run) for run in range(ENQUEUE_KILLS)]
    assert sum(counts) > ENQUEUE_KILLS
