"""The zygote of tests/store/_child.py, with the jobs the reliability scenarios add.

    python _crashkid.py        # then, on stdin, `<job> <dir>` lines, as _child.zygote reads

Jobs added here (the store suite's `cache-writer` and `enqueue` are kept):
- `cache-writer`: the store suite's writer over a 5,000-case cache (R1);
- `atomic-writer` / `tinydb-writer`: one 5,000-document file rewritten in a loop
  through our `AtomicJSONStorage` or TinyDB's stock `JSONStorage` (R1's A/B);
- `crash-<step>`: one atomic write that ends the process (`os._exit`) at a step (R2).
"""

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent / "store"))
sys.path.insert(0, str(Path(__file__).parent.parent / "sync"))
sys.path.insert(0, str(Path(__file__).parent))

import _child  # the store suite's zygote and jobs
import factories
from tinydb.storages import JSONStorage

from casedesk.store import files
from casedesk.store.storage import AtomicJSONStorage

CASES = 5000
TABLE = "cases"
CRASH_STEPS = ("before-write", "after-write", "after-fsync", "after-replace", "after-dir-fsync")
"""Where R2 ends the process inside `write_atomic`, in the order the steps happen."""


def payload(version: int) -> dict[str, dict[str, Any]]:
    """Version `version` of the file: every document says its version; odd versions are
    a fifth shorter, so an in-place rewrite that is cut off leaves a stale tail."""
    count = CASES if version % 2 == 0 else CASES * 4 // 5
    return {TABLE: {str(n): {**DOCS[n], "version": version} for n in range(count)}}


def version_of(tables: dict[str, dict[str, Any]]) -> int:
    """The one version all documents carry, checking the document count matches it."""
    docs = tables[TABLE]
    (version,) = {doc["version"] for doc in docs.values()}
    if len(docs) != len(payload(version)[TABLE]):
        raise ValueError(f"version {version} with {len(docs)} documents")
    return int(version)


def _rewrite(write: Callable[[dict[str, Any]], None], start: int) -> None:
    version = start
    _child.say("ready")
    while True:
        version += 1
        write(payload(version))


def atomic_writer(directory: Path) -> None:
    storage = AtomicJSONStorage(directory / "cases.json")
    _rewrite(storage.write, version_of(storage.read()))


def tinydb_writer(directory: Path) -> None:
    storage = JSONStorage(str(directory / "cases.json"))
    _rewrite(storage.write, version_of(storage.read() or {}))


class _Crashing:
    """Stands in for `os` inside `casedesk.store.files`: ends the process at one step.

    Right after the rename it leaves `<dir>/renamed`, so the parent knows which state
    (old or new) the file must hold, wherever the code puts its directory syncs.
    """

    def __init__(self, step: str, directory: Path) -> None:
        self.step = step
        self.marker = directory / "renamed"

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: Any) -> int:
        if self.step == "before-write":
            os._exit(137)
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        if self.step == "after-write":
            os._exit(137)
        os.fsync(fd)

    def replace(self, source: str, target: Any) -> None:
        if self.step == "after-fsync":
            os._exit(137)
        os.replace(source, target)
        self.marker.touch()
        if self.step == "after-replace":
            os._exit(137)


def crash_at(step: str) -> Callable[[Path], None]:
    def job(directory: Path) -> None:
        storage = AtomicJSONStorage(directory / "cases.json")
        old = version_of(storage.read())
        crashing = _Crashing(step, directory)
        files.os = crashing  # type: ignore[assignment]
        real_fsync_dir = files.fsync_dir

        def fsync_dir(path: Path) -> None:
            real_fsync_dir(path)
            if step == "after-dir-fsync" and crashing.marker.exists():
                os._exit(137)  # the directory sync that makes the rename durable

        files.fsync_dir = fsync_dir  # type: ignore[assignment]
        _child.say("ready")
        storage.write(payload(old + 1))
        if step == "after-dir-fsync":
            os._exit(137)  # no directory sync after the rename: end after the write
        _child.say("survived")  # the step was never reached: the parent counts it

    return job


def pusher(directory: Path) -> None:
    """R4: once `go` exists, push the outbox of `directory` to the API of `target.json`."""
    import asyncio

    import kit

    target = json.loads((directory / "target.json").read_text())
    _child.say("ready")
    kit.wait_for(directory / "go")
    service = kit.service_for(directory / "data", target["url"], target["key"])

    async def push() -> None:
        try:
            await service.push()
        finally:
            await kit.close_service(service)

    asyncio.run(push())
    _child.say("pushed")


DOCS = [
    json.loads(json.dumps(factories.case_doc(n, factories.random.Random(n)))) for n in range(CASES)
]

if __name__ == "__main__":
    _child.BASE = factories.make_cases(CASES)
    _child.CACHE_CASES = CASES
    _child.JOBS.update(
        {
            "atomic-writer": atomic_writer,
            "tinydb-writer": tinydb_writer,
            "push": pusher,
            "hold-lock": _child.hold_lock,
        }
        | {f"crash-{step}": crash_at(step) for step in CRASH_STEPS}
    )
    _child.zygote()
