"""Pulling from the case API into the cache: full or incremental, then details where needed.

Pages are read in `updated_at` order, so a case that changes while the walk
is under way moves to its end and is seen again, never missed; the next
pull starts from the newest `updated_at` seen, minus an overlap window.
A server answer is validated by the client before anything is written, and
a pull writes the cache once, at its end: a failed pull leaves the cache as
it was.
"""

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from uuid import UUID

from casedesk.api.backend import CaseBackend, CaseQuery
from casedesk.domain.case import Case
from casedesk.domain.clock import Clock
from casedesk.domain.enums import CaseSort, CaseStatus
from casedesk.domain.people import Queue, User
from casedesk.store.cache import Cache
from casedesk.store.cached import CaseDetails, SyncState
from casedesk.store.storage import gc_paused
from casedesk.sync.events import PullResult, SyncProgress

PAGE_SIZE = 200
OVERLAP = timedelta(seconds=5)
"""Re-read this much before the newest change seen, for commits that landed out of order."""
DETAIL_CONCURRENCY = 4
PREFETCH_MINE = 100
"""After a pull, fetch the details of up to this many of my open cases, so they open offline."""

Progress = Callable[[SyncProgress], None]


def _ignore(_: SyncProgress) -> None:
    return None


async def fetch_details(backend: CaseBackend, case_id: UUID | str, clock: Clock) -> CaseDetails:
    """A case with its chat, escalations, overrides and action log, fetched together."""
    case, messages, escalations, overrides, actions = await asyncio.gather(
        backend.get_case(case_id),
        backend.all_messages(case_id),
        backend.all_escalations(case_id),
        backend.all_overrides(case_id),
        backend.all_actions(case_id),
    )
    # The lists were read at (or after) this revision; a newer one marks them stale.
    return CaseDetails(
        case=case,
        messages=messages,
        escalations=escalations,
        overrides=overrides,
        actions=actions,
        fetched_at=clock(),
        fetched_revision=case.revision,
    )


async def pull(
    backend: CaseBackend,
    cache: Cache,
    *,
    clock: Clock,
    full: bool = False,
    progress: Progress = _ignore,
) -> PullResult:
    """Bring the cache up to date with the API (all cases the first time, then changes)."""
    started = time.perf_counter()
    progress(SyncProgress(phase="reference"))
    me, users, queues = await asyncio.gather(backend.me(), backend.users(), backend.queues())
    known = cache.me()
    if known is not None and (known.id != me.id or known.organization_id != me.organization_id):
        # Another key, another person: nothing cached for the previous one may show.
        cache.clear()
    state = cache.sync_state()
    full = full or cache.needs_full_pull  # a corrupt recent.json took cases with it
    since = None if full or state.updated_since is None else state.updated_since
    query: CaseQuery = {"sort": CaseSort.UPDATED_AT, "limit": PAGE_SIZE}
    if since is not None:
        query["updated_since"] = since
    # Pages are thousands of small objects with no cycles: the cyclic GC only slows their
    # parsing down (research/perf-floors.md §7), so it rests until the pull is written.
    with gc_paused():
        received, pages, newest = await _walk(backend, query, progress)
        changed = _needing_details(cache, received.values(), me_id=me.id)
        lost = cache.lost_details().difference(changed)  # their shard was corrupt
        changed += sorted(lost)
        details: list[CaseDetails] = []
        if changed:
            details = await _fetch_many(backend, changed, clock, progress)

    progress(SyncProgress(phase="writing", pages=pages, cases=len(received)))
    finished = clock()
    watermark = state.updated_since if newest is None else newest - OVERLAP
    new_state = SyncState(last_sync_at=finished, updated_since=watermark)
    await asyncio.to_thread(_write, cache, me, users, queues, received.values(), details, new_state)
    cache.forget_lost_details(lost)
    if since is None:
        cache.full_pull_done()
    return PullResult(
        full=since is None,
        pages=pages,
        cases=len(received),
        details=len(details),
        seconds=time.perf_counter() - started,
        finished_at=finished,
    )


async def _walk(
    backend: CaseBackend, query: CaseQuery, progress: Progress
) -> tuple[dict[UUID, Case], int, datetime | None]:
    """Every page of the query: the cases by id, how many pages, the newest `updated_at`."""
    received: dict[UUID, Case] = {}
    pages = 0
    newest: datetime | None = None
    bytes_before = backend.bytes_received
    async for page in backend.iter_cases(**query):
        pages += 1
        for case in page.items:
            received[case.id] = case
            if newest is None or case.updated_at > newest:
                newest = case.updated_at
        progress(
            SyncProgress(
                phase="cases",
                pages=pages,
                cases=len(received),
                bytes=backend.bytes_received - bytes_before,
            )
        )
    return received, pages, newest


def _write(
    cache: Cache,
    me: User,
    users: list[User],
    queues: list[Queue],
    cases: Iterable[Case],
    details: list[CaseDetails],
    state: SyncState,
) -> None:
    with cache.batch():
        cache.set_me(me)
        cache.set_users(users)
        cache.set_queues(queues)
        cache.upsert_cases(list(cases))
        for item in details:
            cache.save_details(item)
        cache.set_sync_state(state)


def _needing_details(cache: Cache, cases: Iterable[Case], *, me_id: UUID) -> list[UUID]:
    """Changed cases whose details are cached (now stale), and my open cases not cached yet."""
    wanted: list[UUID] = []
    mine: list[UUID] = []
    cases = list(cases)
    fetched = cache.fetched_revisions(case.id for case in cases)
    for case in cases:
        fetched_revision = fetched.get(case.id)
        if fetched_revision is not None:
            if fetched_revision != case.revision:
                wanted.append(case.id)
        elif (
            case.assignee is not None
            and case.assignee.id == me_id
            and case.status is not CaseStatus.CLOSED
        ):
            mine.append(case.id)
    return wanted + mine[:PREFETCH_MINE]


async def _fetch_many(
    backend: CaseBackend, case_ids: list[UUID], clock: Clock, progress: Progress
) -> list[CaseDetails]:
    gate = asyncio.Semaphore(DETAIL_CONCURRENCY)
    done = 0

    async def one(case_id: UUID) -> CaseDetails:
        nonlocal done
        async with gate:
            fetched = await fetch_details(backend, case_id, clock)
        done += 1
        progress(SyncProgress(phase="details", details_done=done, details_total=len(case_ids)))
        return fetched

    return list(await asyncio.gather(*(one(case_id) for case_id in case_ids)))
