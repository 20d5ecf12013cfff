"""Files on disk: atomic replacement, private permissions, leftovers, the process lock."""

import contextlib
import errno
import fcntl
import logging
import os
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from casedesk.store.errors import StoreLocked

logger = logging.getLogger("casedesk.store")

FILE_MODE = 0o600
DIR_MODE = 0o700

_TEMP_SUFFIX = ".tmp"
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")
"""`.<target name>.<random>.tmp`, as `write_atomic` names its temporary files."""


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Replace `path` with `data`: readers see the old bytes or the new, never a mix.

    A temporary file in the same directory is written, flushed and fsynced,
    then renamed over `path`; the directory is fsynced so the rename survives
    a power cut. The file is created 0600 whatever the umask.

    Any failure before the rename leaves `path` as it was and raises: the
    caller may say "not written". With `sync_dir`, the directory is also
    synced before the rename, so a directory that cannot be synced (read-only,
    no permission) is found while that is still true.
    """
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if sync_dir:
            fsync_dir(path.parent)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    if sync_dir:
        try:
            fsync_dir(path.parent)
        except OSError as error:
            # The rename is done: every reader and any restart sees the new bytes, so
            # raising would report "not written" about a change that will be used (an
            # outbox item said "not queued", then sent). Only a power cut could undo it.
            logger.warning("%s written, but its directory could not be synced: %s", path, error)


def read_bytes(path: Path) -> bytes | None:
    """The whole file, or `None` when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def ensure_private_dir(path: Path) -> None:
    """Create `path` and any missing parents as 0700 (the umask cannot widen it)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, DIR_MODE)
            os.chmod(directory, DIR_MODE)


def remove_temp_leftovers(directory: Path) -> list[Path]:
    """Delete temporary files an interrupted `write_atomic` left in `directory`.

    Only safe while holding the process lock: no other writer can be midway.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if _TEMP_NAME.match(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def quarantine(path: Path, now: datetime) -> Path:
    """Move a corrupt file aside as `<name>.corrupt-<UTC timestamp>`; its bytes are kept."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.replace(path, target)
    fsync_dir(path.parent)
    return target


LOCK_FILE = "casedesk.lock"


def lock_data_dir(data_dir: Path) -> "ProcessLock":
    """Create `data_dir` (0700) if need be and take its lock (`StoreLocked` if held)."""
    ensure_private_dir(data_dir)
    lock = ProcessLock(data_dir / LOCK_FILE)
    lock.acquire()
    return lock


class ProcessLock:
    """One process per data directory: a `flock` on a file that holds the owner's pid.

    The kernel drops the lock when its holder dies, even by `kill -9`, so a
    crash never leaves a stale lock behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock at once, or raise `StoreLocked` naming the holder's pid."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise StoreLocked(_holder_pid(fd), self.path) from None
            # Overwrite in place with a fixed width, so a reader never sees an empty file.
            record = f"{os.getpid():<19}\n".encode()
            os.pwrite(fd, record, 0)
            os.ftruncate(fd, len(record))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Let another process open the data directory."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the last descriptor drops the flock

    @property
    def held(self) -> bool:
        return self._fd is not None


def _holder_pid(fd: int, attempts: int = 20, pause: float = 0.01) -> int | None:
    # A holder that has just created the file may not have written its pid
    # yet: look again a few times (well under a second).
    for _ in range(attempts):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return int(text)
        time.sleep(pause)
    return None
