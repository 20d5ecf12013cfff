"""The cache: rows and details survive restarts, writes are batched, corruption is set aside."""

import os
from collections import Counter
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from casedesk.store import CaseDetails, FileQuarantined, LocalStore, QueueRow, SyncState
from casedesk.store.cache import INDEX_FILE, PEOPLE_FILE
from casedesk.store.details import RECENT_FILE
from casedesk.store.storage import AtomicJSONStorage

from .factories import (
    T0,
    bump,
    escalation,
    log_entry,
    make_cases,
    messages,
    override,
    queues,
    users,
)
from .support import Clock, reopen


def fetched(case, count: int = 3) -> CaseDetails:
    return CaseDetails(
        case=case,
        messages=messages(case, count),
        escalations=[escalation(case)],
        overrides=[override(case)],
        actions=[log_entry(case)],
        fetched_at=T0,
        fetched_revision=case.revision,
    )


def test_cached_cases_and_everything_around_them_survive_a_restart(
    store: LocalStore, clock: Clock
) -> None:
    cases = make_cases(50)
    watermark = SyncState(last_sync_at=T0, updated_since=T0 - timedelta(minutes=5))
    with store.cache.batch():
        store.cache.upsert_cases(cases)
        store.cache.set_sync_state(watermark)
    store.cache.save_details(fetched(cases[0]))
    store.cache.set_users(users())
    store.cache.set_queues(queues())
    store.cache.set_me(users()[0])
    store.cache.mark_read(cases[0].id, message_id=None, at=T0)

    restarted = reopen(store, clock)
    try:
        cache = restarted.cache
        assert sorted(cache.rows()) == sorted(QueueRow.from_case(case) for case in cases)
        assert cache.row(cases[3].id) == QueueRow.from_case(cases[3])
        assert cache.row_by_reference(cases[3].reference.lower()) == cache.row(cases[3].id)
        assert cache.sync_state() == watermark
        assert cache.details(cases[0].id) == fetched(cases[0])
        assert cache.case(cases[1].id) == cases[1]
        assert cache.users() == users() and cache.queues() == queues()
        assert cache.user(users()[2].id) == users()[2]
        assert cache.me() == users()[0]
        assert cache.read_marker(cases[0].id) is not None
        assert restarted.take_events() == []
    finally:
        restarted.close()


def test_never_fetched_details_differ_from_fetched_and_empty(store: LocalStore) -> None:
    listed, empty = make_cases(2)
    store.cache.upsert_cases([listed, empty])
    store.cache.save_details(
        CaseDetails(
            case=empty,
            messages=[],
            escalations=[],
            overrides=[],
            actions=[],
            fetched_at=T0,
            fetched_revision=empty.revision,
        )
    )
    only_listed = store.cache.details(listed.id)
    assert only_listed is not None and only_listed.messages is None
    assert not only_listed.fetched and only_listed.stale
    assert store.cache.details_fetched_at(listed.id) is None
    fetched_empty = store.cache.details(empty.id)
    assert fetched_empty is not None and fetched_empty.messages == []
    assert fetched_empty.fetched and not fetched_empty.stale
    assert store.cache.details_fetched_at(empty.id) == T0


def test_a_list_sync_refreshes_the_case_and_keeps_its_records_marked_stale(
    store: LocalStore,
) -> None:
    case = make_cases(1)[0]
    store.cache.save_details(fetched(case))
    newer = bump(case, name="Renamed Ltd")
    assert store.cache.upsert_cases([newer]) == [newer.id]

    details = store.cache.details(case.id)
    assert details is not None
    assert details.case == newer and details.messages == messages(case, 3)
    assert details.stale
    assert store.cache.row(case.id) == QueueRow.from_case(newer)


def test_an_older_revision_never_overwrites_a_newer_one(store: LocalStore) -> None:
    case = make_cases(1)[0]
    newer = bump(case)
    store.cache.upsert_cases([newer])
    assert store.cache.upsert_cases([case]) == []
    assert store.cache.row(case.id).revision == newer.revision

    store.cache.save_details(fetched(case))  # fetched before the action landed
    details = store.cache.details(case.id)
    assert details is not None and details.case == newer and details.stale
    assert store.cache.row(case.id).revision == newer.revision


def test_removed_cases_are_gone_from_rows_details_and_markers(store: LocalStore) -> None:
    keep, gone = make_cases(2)
    store.cache.upsert_cases([keep, gone])
    store.cache.mark_read(gone.id, message_id=None, at=T0)
    store.cache.remove_cases([gone.id])
    assert [row.id for row in store.cache.rows()] == [keep.id]
    assert store.cache.details(gone.id) is None
    assert store.cache.read_marker(gone.id) is None


def test_a_chat_is_unread_until_its_last_message_is_read(store: LocalStore) -> None:
    case = make_cases(1)[0]
    store.cache.upsert_cases([case])
    row = store.cache.row(case.id)
    assert row is not None and row.last_message_at is not None
    assert store.cache.is_unread(row)
    store.cache.mark_read(case.id, message_id=None, at=row.last_message_at)
    assert not store.cache.is_unread(row)
    newer = bump(
        case,
        summary=case.summary.model_copy(
            update={"last_message_at": row.last_message_at + timedelta(seconds=1)}
        ),
    )
    store.cache.upsert_cases([newer])
    assert store.cache.is_unread(store.cache.row(case.id))


def test_clear_forgets_everything(store: LocalStore, clock: Clock) -> None:
    cases = make_cases(5)
    store.cache.upsert_cases(cases)
    store.cache.set_sync_state(SyncState(cursor="abc"))
    store.cache.set_me(users()[0])
    store.cache.clear()
    restarted = reopen(store, clock)
    assert restarted.cache.rows() == [] and restarted.cache.me() is None
    assert restarted.cache.sync_state() == SyncState()
    assert restarted.cache.details(cases[0].id) is None
    restarted.close()


def test_a_bulk_upsert_rewrites_each_file_once(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = make_cases(1000)
    replaced: Counter[str] = Counter()
    real_replace = os.replace

    def counting(src: str, dst: str) -> None:
        replaced[str(dst)] += 1
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", counting)
    with store.cache.batch():
        store.cache.upsert_cases(cases[:500])
        store.cache.upsert_cases(cases[500:])
        for case in cases[:20]:
            store.cache.save_details(fetched(case))
        store.cache.set_sync_state(SyncState(cursor="next"))

    assert replaced[str(store.cache.directory / INDEX_FILE)] == 1
    assert set(replaced.values()) == {1}
    # Cases from list pages go to recent.json; the shards of those with details are written.
    shards = store.cache._shards
    written = {shards.path_of(shards.shard_of(c.id)) for c in cases[:20]}
    written.add(shards.directory / RECENT_FILE)
    assert set(replaced) == {str(store.cache.directory / INDEX_FILE)} | {str(p) for p in written}


def test_a_failed_batch_keeps_nothing(store: LocalStore) -> None:
    first, second = make_cases(2)
    store.cache.upsert_cases([first])
    with pytest.raises(RuntimeError), store.cache.batch():
        store.cache.upsert_cases([second])
        store.cache.set_sync_state(SyncState(cursor="never"))
        raise RuntimeError("sync page failed midway")
    assert [row.id for row in store.cache.rows()] == [first.id]
    assert store.cache.sync_state() == SyncState()
    assert store.cache.details(second.id) is None
    assert store.cache.details(first.id) is not None


def test_the_queue_loads_without_reading_any_detail_file(
    store: LocalStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = make_cases(200)
    store.cache.upsert_cases(cases)
    store.close()
    shard_dir = next(store.cache.directory.glob("details-*"))
    for shard in shard_dir.iterdir():
        shard.write_bytes(b"garbage that would be set aside if read")

    loaded: list[Path] = []
    real_load = AtomicJSONStorage._load

    def watching(self: AtomicJSONStorage) -> object:
        loaded.append(self.path)
        return real_load(self)

    monkeypatch.setattr(AtomicJSONStorage, "_load", watching)
    restarted = LocalStore.open(store.data_dir, clock=clock, freeze_gc=False)
    try:
        assert len(restarted.cache.rows()) == 200
        assert [row for row in restarted.cache.rows() if restarted.cache.is_unread(row)]
        assert not [path for path in loaded if path.parent == shard_dir]
        assert restarted.take_events() == []
    finally:
        restarted.close()


def test_opening_a_case_reads_one_detail_file(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = make_cases(300)
    store.cache.upsert_cases(cases)
    store.cache._shards._open.clear()
    loaded: list[Path] = []
    real_load = AtomicJSONStorage._load

    def watching(self: AtomicJSONStorage) -> object:
        loaded.append(self.path)
        return real_load(self)

    monkeypatch.setattr(AtomicJSONStorage, "_load", watching)
    assert store.cache.case(cases[7].id) == cases[7]
    assert loaded == [store.cache._shards.path_of(store.cache._shards.shard_of(cases[7].id))]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: data[: len(data) // 2],  # torn
        lambda data: data + b"]}",  # stale tail
        lambda data: b"\x00" * len(data),
        lambda data: b"",
        lambda data: orjson.dumps({"rows": {"x": [1, 2, 3]}}),  # wrong shape
        lambda data: data.replace(b'"row_fields":["id"', b'"row_fields":["ref"'),  # layout
    ],
    ids=["torn", "tail", "nul", "empty", "wrong-shape", "other-layout"],
)
def test_a_corrupt_index_is_set_aside_and_the_cache_starts_empty(
    store: LocalStore, clock: Clock, mangle
) -> None:
    cases = make_cases(30)
    store.cache.upsert_cases(cases)
    store.cache.set_users(users())
    store.close()
    index = store.cache.directory / INDEX_FILE
    corrupt = mangle(index.read_bytes())
    index.write_bytes(corrupt)

    restarted = LocalStore.open(store.data_dir, clock=clock, freeze_gc=False)
    try:
        (event,) = restarted.take_events()
        assert isinstance(event, FileQuarantined) and event.path == index
        assert event.moved_to.name == f"{INDEX_FILE}.corrupt-20261102T090000Z"
        assert event.moved_to.read_bytes() == corrupt
        assert restarted.cache.rows() == [] and restarted.cache.sync_state() == SyncState()
        assert restarted.cache.users() == users()  # other files are untouched
        restarted.cache.upsert_cases(cases[:3])  # the next sync rebuilds it
    finally:
        restarted.close()
    again = LocalStore.open(store.data_dir, clock=clock, freeze_gc=False)
    assert len(again.cache.rows()) == 3 and again.take_events() == []
    again.close()


def test_a_corrupt_people_file_is_set_aside(store: LocalStore, clock: Clock) -> None:
    store.cache.set_users(users())
    store.close()
    people = store.cache.directory / PEOPLE_FILE
    people.write_bytes(b'{"users": {"1": {"name": "no id"}}}')
    restarted = LocalStore.open(store.data_dir, clock=clock, freeze_gc=False)
    (event,) = restarted.take_events()
    assert isinstance(event, FileQuarantined) and event.path == people
    assert restarted.cache.users() == []
    restarted.close()


def test_a_corrupt_detail_shard_is_set_aside_when_a_case_is_opened(
    store: LocalStore,
) -> None:
    cases = make_cases(20)
    with store.cache.batch():
        for case in cases:
            store.cache.save_details(fetched(case))
    store.take_events()
    shards = store.cache._shards
    path = shards.path_of(shards.shard_of(cases[0].id))
    shards._open.clear()
    path.write_bytes(b'{"details": {"oops": ')

    assert store.cache.details(cases[0].id) is None
    (event,) = store.take_events()
    assert isinstance(event, FileQuarantined) and event.path == path
    assert store.cache.case(cases[1].id) == cases[1] or shards.shard_of(
        cases[1].id
    ) == shards.shard_of(cases[0].id)
    store.cache.upsert_cases([cases[0]])  # the next sync writes it again
    assert store.cache.case(cases[0].id) == cases[0]


def test_cases_from_list_pages_read_the_same_before_and_after_they_fold_into_shards(
    store: LocalStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import casedesk.store.details as details_module

    first, second, third = make_cases(3)
    store.cache.save_details(fetched(first))
    newer = bump(first)
    store.cache.upsert_cases([newer, second])  # kept in recent.json, over the shard
    shown = store.cache.details(first.id)
    assert shown is not None and shown.case == newer and shown.messages
    assert store.cache.fetched_revision(first.id) == first.revision  # now stale
    # Asked of many cases at once (as a pull does), the same answer; never fetched: absent.
    assert store.cache.fetched_revisions([first.id, second.id, third.id]) == {
        first.id: first.revision
    }

    refetched = fetched(newer)
    store.cache.save_details(refetched)  # the details carry the case: recent gives way
    assert store.cache.details(first.id) == refetched

    monkeypatch.setattr(details_module, "RECENT_LIMIT", 1)
    store.cache.upsert_cases([bump(newer), third])  # past the limit: folded into shards
    assert not orjson.loads((store.cache._shards.directory / RECENT_FILE).read_bytes())
    store = reopen(store, clock)
    for case in (bump(newer), second, third):
        assert store.cache.case(case.id) == case
    kept = store.cache.details(first.id)
    assert kept is not None and kept.messages == refetched.messages
