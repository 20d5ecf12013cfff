"""Drafts: a typed form is never lost, until the reviewer sends or clears it."""

from datetime import timedelta

import pytest

from casedesk.store import FileQuarantined, LocalStore, StoreClosed
from casedesk.store.drafts import DRAFTS_FILE

from .factories import make_cases
from .support import Clock, reopen

CASE = make_cases(1)[0]


def test_a_draft_survives_a_restart(store: LocalStore, clock: Clock) -> None:
    store.drafts.save(CASE.id, "escalate", {"reason": "UBO unclear", "escalate_to": None})
    store.drafts.save(None, "create_case", {"name": "Acme", "tags": ["pep", "vip"]})

    restarted = reopen(store, clock)
    try:
        escalate = restarted.drafts.get(CASE.id, "escalate")
        assert escalate is not None
        assert escalate.fields == {"reason": "UBO unclear", "escalate_to": None}
        assert escalate.updated_at == clock.now
        new_case = restarted.drafts.get(None, "create_case")
        assert new_case is not None and new_case.fields["tags"] == ["pep", "vip"]
        assert restarted.drafts.get(CASE.id, "comment") is None
        assert len(restarted.drafts.all()) == 2
    finally:
        restarted.close()


def test_saving_again_replaces_the_draft(store: LocalStore, clock: Clock) -> None:
    store.drafts.save(CASE.id, "comment", {"body": "first"})
    clock.now += timedelta(seconds=5)
    store.drafts.save(CASE.id, "comment", {"body": "first words, then more"})
    draft = store.drafts.get(CASE.id, "comment")
    assert draft is not None and draft.fields == {"body": "first words, then more"}
    assert draft.updated_at == clock.now


def test_a_draft_is_cleared_only_on_demand(store: LocalStore, clock: Clock) -> None:
    store.drafts.save(CASE.id, "comment", {"body": "sent now"})
    assert store.drafts.clear(CASE.id, "comment") is True
    assert store.drafts.clear(CASE.id, "comment") is False
    restarted = reopen(store, clock)
    assert restarted.drafts.get(CASE.id, "comment") is None
    restarted.close()


def test_a_corrupt_drafts_file_is_set_aside_with_its_bytes(store: LocalStore, clock: Clock) -> None:
    store.drafts.save(CASE.id, "comment", {"body": "kept in the set-aside file"})
    store.close()
    path = store.data_dir / DRAFTS_FILE
    path.write_bytes(path.read_bytes()[:-7])

    restarted = LocalStore.open(store.data_dir, clock=clock, freeze_gc=False)
    try:
        (event,) = restarted.take_events()
        assert isinstance(event, FileQuarantined) and event.path == path
        assert b"kept in the set-aside file" in event.moved_to.read_bytes()
        assert restarted.drafts.all() == []
    finally:
        restarted.close()


def test_a_closed_store_refuses_writes(store: LocalStore) -> None:
    store.close()
    with pytest.raises(StoreClosed):
        store.drafts.save(CASE.id, "comment", {"body": "too late"})
