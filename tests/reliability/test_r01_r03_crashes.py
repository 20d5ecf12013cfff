"""R1-R3: kill -9 during cache writes and outbox enqueues, and crashes at each atomic-write step.

A zygote (`_crashkid.py`, built on tests/store/_child.py) forks one worker per
run; the test kills it with SIGKILL at a seeded random moment (or the worker
ends itself at a chosen step), then opens the files as the next start would
and counts every violation.
"""

import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _child
import _crashkid
import orjson
import pytest
from figures import Recorder, Tier, counting
from tinydb.storages import JSONStorage
from zygote import Zygote

from casedesk.store import FileQuarantined, LocalStore, SyncState
from casedesk.store.files import remove_temp_leftovers, write_atomic
from casedesk.store.storage import AtomicJSONStorage, encode


def temp_files(directory: Path) -> list[Path]:
    return list(directory.rglob(".*.tmp"))


# -- R1 -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A 5,000-case cache at version 0, and how long one loop of the writer takes here."""
    directory = tmp_path_factory.mktemp("template") / "cache"
    _child.BASE = _child.make_cases(_crashkid.CASES)
    _child.CACHE_CASES = _crashkid.CASES
    cache, _, _ = _child.open_cache(directory)
    took = []
    for version in (0, 1, 2):  # as the writer loops: build the cases, write them
        started = time.perf_counter()
        with cache.batch():
            cache.upsert_cases(_child.cache_version(version))
            cache.set_sync_state(SyncState(cursor=str(version)))
        took.append(time.perf_counter() - started)
    cache.close()
    return directory, sorted(took)[1]


def check_cache(directory: Path) -> tuple[str | None, int]:
    """Open the cache as the next start would: what is wrong with it (None: old or new, whole)."""
    cache, events, removed = _child.open_cache(directory)
    try:
        if [event for event in events if isinstance(event, FileQuarantined)]:
            return f"quarantined: {events}", len(removed)
        rows = cache.rows()
        if len(rows) != _crashkid.CASES:
            return f"{len(rows)} rows", len(removed)
        versions = {_child.version_of(row.name) for row in rows}
        if len(versions) != 1:
            return f"rows of versions {sorted(versions)}", len(removed)
        (index_version,) = versions
        if cache.sync_state().cursor != str(index_version):
            return f"watermark {cache.sync_state().cursor} for rows {index_version}", len(removed)
        for shard in range(cache._shards.count):
            shard_versions = {
                _child.version_of(doc["case"]["name"]) for doc in cache._shards._raw(shard).values()
            }
            # Shards are written before the index: whole, and never behind it.
            if not shard_versions <= {index_version, index_version + 1} or len(shard_versions) > 1:
                return f"shard {shard} at {sorted(shard_versions)}", len(removed)
        if temp_files(directory):
            return "temporary files left after open", len(removed)
        return None, len(removed)
    finally:
        cache.close()


def test_r1_kill_9_during_a_5000_case_cache_write_leaves_the_old_or_new_cache(
    zygote: Zygote,
    cache_template: tuple[Path, float],
    tmp_path: Path,
    tier: Tier,
    recorder: Recorder,
) -> None:
    template, loop_time = cache_template
    kills = tier.count(20, 1000)
    rng = random.Random(tier.seed)
    record = recorder.record("R1")
    cleaned = 0
    with counting(record):
        for run in range(kills):
            directory = tmp_path / "cache"
            shutil.copytree(template, directory)
            worker = zygote.start("cache-writer", directory)
            time.sleep(rng.uniform(0.0, 3 * loop_time))  # anywhere in its first three writes
            zygote.kill(worker)
            problem, removed = check_cache(directory)
            cleaned += removed
            record.check(problem is None, f"kill {run}: {problem}")
            shutil.rmtree(directory)
        record.iterations += kills
        record.faults_injected += kills
        record.note(
            "cache",
            f"{kills} kill -9 during 5,000-case cache writes: {record.found} unreadable or "
            f"mixed caches, {cleaned} temporary files cleaned at the next start",
        )


def test_r1_baseline_tinydb_json_storage_against_ours_under_the_same_kills(
    zygote: Zygote, tmp_path: Path, tier: Tier, recorder: Recorder
) -> None:
    kills = tier.count(20, 1000)
    rng = random.Random(tier.seed + 1)
    initial = encode(_crashkid.payload(0))
    probe = tmp_path / "probe"
    probe.mkdir()
    loop_time = {
        "atomic-writer": loop_of(AtomicJSONStorage(probe / "a.json").write),
        "tinydb-writer": loop_of(JSONStorage(str(probe / "t.json")).write),
    }
    record = recorder.record("R1")
    corrupt = Counter[str]()
    with counting(record):
        for run in range(kills):
            phase = rng.uniform(0.0, 3.0)  # the same moment of each writer's first three loops
            for job in ("atomic-writer", "tinydb-writer"):
                directory = tmp_path / job
                directory.mkdir(exist_ok=True)
                if job == "tinydb-writer":
                    JSONStorage(str(directory / "cases.json")).write(_crashkid.payload(0))
                else:
                    write_atomic(directory / "cases.json", initial)
                pid = zygote.start(job, directory)
                time.sleep(phase * loop_time[job])
                zygote.kill(pid)
                problem = check_single(directory)
                if problem is not None:
                    corrupt[job] += 1
                    if job == "atomic-writer":  # the baseline is expected to tear: not asserted
                        record.fail(f"kill {run}: {problem}")
        record.iterations += kills
        record.faults_injected += 2 * kills
        record.note(
            "single-file",
            f"one 5,000-document file, {kills} kills each at the same phase of its writer's "
            f"loop: AtomicJSONStorage "
            f"{corrupt['atomic-writer']}/{kills} corrupt; TinyDB JSONStorage baseline "
            f"{corrupt['tinydb-writer']}/{kills} corrupt",
        )


def loop_of(write: Callable[[dict[str, Any]], None]) -> float:
    """Seconds one loop of a single-file writer takes here (build the version, write it)."""
    took = []
    for version in (1, 2, 3):
        started = time.perf_counter()
        write(_crashkid.payload(version))
        took.append(time.perf_counter() - started)
    return sorted(took)[1]


def check_single(directory: Path) -> str | None:
    path = directory / "cases.json"
    try:
        _crashkid.version_of(orjson.loads(path.read_bytes()))
    except (orjson.JSONDecodeError, KeyError, ValueError) as error:
        return f"{type(error).__name__}: {str(error)[:80]}"
    finally:
        remove_temp_leftovers(directory)
    return None


# -- R2 -------------------------------------------------------------------------------------


def test_r2_a_crash_after_any_step_of_the_atomic_write_leaves_old_or_new(
    zygote: Zygote, tmp_path: Path, tier: Tier, recorder: Recorder
) -> None:
    runs = tier.count(4, 100)
    record = recorder.record("R2")
    directory = tmp_path / "crash"
    directory.mkdir()
    initial = encode(_crashkid.payload(0))
    with counting(record):
        for step in _crashkid.CRASH_STEPS:
            for run in range(runs):
                write_atomic(directory / "cases.json", initial)
                renamed = directory / "renamed"
                renamed.unlink(missing_ok=True)
                zygote.start(f"crash-{step}", directory)
                code, printed = zygote.wait()
                record.check(code == 137 and not printed, f"{step}: exit {code} {printed}")
                leftovers = temp_files(directory)
                record.check(
                    (step in ("after-replace", "after-dir-fsync")) == renamed.exists(),
                    f"{step}: the rename {'happened' if renamed.exists() else 'did not happen'}",
                )
                removed = remove_temp_leftovers(directory)
                record.check(
                    sorted(removed) == sorted(leftovers) and not temp_files(directory),
                    f"{step} run {run}: temporary files not cleaned",
                )
                try:
                    version = _crashkid.version_of(
                        orjson.loads((directory / "cases.json").read_bytes())
                    )
                except (orjson.JSONDecodeError, KeyError, ValueError) as error:
                    record.fail(f"{step} run {run}: corrupt ({error})")
                    continue
                expected = 1 if renamed.exists() else 0  # before the rename: the old file
                record.check(version == expected, f"{step}: version {version}, not {expected}")
        total = runs * len(_crashkid.CRASH_STEPS)
        record.iterations += total
        record.faults_injected += total
        record.note(
            "steps",
            f"{total} crashes ({runs} at each of {len(_crashkid.CRASH_STEPS)} steps: "
            f"{', '.join(_crashkid.CRASH_STEPS)}): {record.found} corrupt or unexpected",
        )


# -- R3 -------------------------------------------------------------------------------------


def test_r3_an_acknowledged_enqueue_survives_kill_9_exactly_once(
    zygote: Zygote, tmp_path: Path, tier: Tier, recorder: Recorder
) -> None:
    kills = tier.count(30, 1000)
    rng = random.Random(tier.seed + 3)
    record = recorder.record("R3")
    acknowledged_total = 0
    with counting(record):
        for run in range(kills):
            directory = tmp_path / f"run{run}"
            worker = zygote.start("enqueue", directory)
            time.sleep(rng.uniform(0.0, 0.2))
            acknowledged = zygote.kill(worker)
            acknowledged_total += len(acknowledged)
            store = LocalStore.open(directory, freeze_gc=False)
            try:
                if store.outbox_problem is not None:
                    record.fail(f"kill {run}: outbox unreadable: {store.outbox_problem}")
                    continue
                items = store.outbox.items()
                stored = Counter(str(item.id) for item in items)
                lost = [item for item in acknowledged if stored[item] != 1]
                record.check(not lost, f"kill {run}: {len(lost)} acknowledged items lost/doubled")
                record.check(
                    len(items) - len(acknowledged) in (0, 1),
                    f"kill {run}: {len(items)} items for {len(acknowledged)} acknowledged",
                )
                record.check(
                    len({item.idempotency_key for item in items}) == len(items)
                    and len({item.client_action_id for item in items}) == len(items),
                    f"kill {run}: a key repeats",
                )
                record.check(not temp_files(directory), f"kill {run}: temporary files left")
            finally:
                store.close()
            shutil.rmtree(directory)
        record.iterations += kills
        record.faults_injected += kills
        record.note(
            "enqueue",
            f"{kills} kill -9 during outbox enqueues ({acknowledged_total} acknowledged items): "
            f"{record.found} lost, doubled or corrupt",
        )
