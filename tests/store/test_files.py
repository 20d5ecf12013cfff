"""Atomic writes, private permissions, leftovers, and the one-process lock."""

import errno
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casedesk.domain.actions import CommentAction
from casedesk.store import LocalStore, StoreLocked, TempFilesRemoved
from casedesk.store.files import remove_temp_leftovers, write_atomic
from casedesk.store.local import LOCK_FILE

from .factories import make_cases
from .support import Clock

CHILD = Path(__file__).parent / "_child.py"


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "index.json"
    write_atomic(target, b"old state")

    def broken(*args: object) -> None:
        raise OSError(errno.EIO, f"{failing} failed")

    monkeypatch.setattr(os, failing, broken)
    with pytest.raises(OSError, match=f"{failing} failed"):
        write_atomic(target, b"new state" * 1000)
    monkeypatch.undo()
    assert target.read_bytes() == b"old state"
    assert os.listdir(tmp_path) == ["index.json"]


def test_temp_leftovers_are_removed_at_the_next_open(data_dir: Path, clock: Clock) -> None:
    LocalStore.open(data_dir, clock=clock, freeze_gc=False).close()
    leftovers = [
        data_dir / ".outbox.json.k2j4h1.tmp",
        data_dir / "cache" / ".index.json.x9y8z7.tmp",
        data_dir / "cache" / "details-1024" / ".0a1.json.abcdef.tmp",
    ]
    for path in leftovers:
        path.write_bytes(b"half a write")
    unrelated = data_dir / "notes.tmp"
    unrelated.write_bytes(b"not ours")

    store = LocalStore.open(data_dir, clock=clock, freeze_gc=False)
    (event,) = store.take_events()
    store.close()
    assert isinstance(event, TempFilesRemoved)
    assert sorted(event.paths) == sorted(leftovers)
    assert not any(path.exists() for path in leftovers) and unrelated.exists()
    assert remove_temp_leftovers(data_dir / "missing") == []


def test_files_are_0600_and_directories_0700_even_under_umask_000(
    tmp_path: Path, clock: Clock
) -> None:
    previous = os.umask(0)
    try:
        data_dir = tmp_path / "deep" / "profile"
        store = LocalStore.open(data_dir, clock=clock, freeze_gc=False)
        case = make_cases(1)[0]
        store.cache.upsert_cases([case])
        store.outbox.enqueue(
            CommentAction(type="comment", body="hi"), case_id=case.id, case_reference="CAS-1"
        )
        store.drafts.save(case.id, "comment", {"body": "draft"})
        store.cache.mark_read(case.id, message_id=None, at=clock.now)
        store.close()
        (data_dir / "cache" / "index.json").write_bytes(b"corrupt")
        with LocalStore.open(data_dir, clock=clock, freeze_gc=False) as again:  # sets it aside
            again.cache.upsert_cases([case])
    finally:
        os.umask(previous)

    modes = {
        path: stat.S_IMODE(path.stat().st_mode)
        for path in [tmp_path / "deep", *tmp_path.rglob("*")]
    }
    assert any(".corrupt-" in path.name for path in modes)
    assert len([path for path in modes if path.is_file()]) == 7
    for path, mode in modes.items():
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {mode:o}"


def _hold(directory: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "hold-lock", str(directory)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


def test_a_second_process_is_refused_at_once_with_the_holders_pid(
    data_dir: Path, clock: Clock
) -> None:
    holder = _hold(data_dir)
    try:
        started = time.monotonic()
        with pytest.raises(StoreLocked) as refused:
            LocalStore.open(data_dir, clock=clock, freeze_gc=False)
        assert time.monotonic() - started < 1.0
        assert str(refused.value) == f"another casedesk is running (pid {holder.pid})"
        assert refused.value.pid == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()

    # kill -9 left the lock file behind, with the dead pid in it: it does not block.
    assert (data_dir / LOCK_FILE).read_text().strip() == str(holder.pid)
    store = LocalStore.open(data_dir, clock=clock, freeze_gc=False)
    assert (data_dir / LOCK_FILE).read_text().strip() == str(os.getpid())
    store.close()


def test_the_same_process_cannot_open_a_data_directory_twice(store: LocalStore) -> None:
    with pytest.raises(StoreLocked, match=rf"\(pid {os.getpid()}\)"):
        LocalStore.open(store.data_dir, freeze_gc=False)


def test_closing_lets_the_next_process_in(data_dir: Path, clock: Clock) -> None:
    LocalStore.open(data_dir, clock=clock, freeze_gc=False).close()
    with LocalStore.open(data_dir, clock=clock, freeze_gc=False) as store:
        assert store.data_dir == data_dir
