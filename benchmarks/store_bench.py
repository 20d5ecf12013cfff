"""Figures for the local store: cold open + queue load, batched writes, opening one case.

    /work/venv/bin/python benchmarks/store_bench.py            # 10k and 50k cases
    /work/venv/bin/python benchmarks/store_bench.py --sizes 10000 --runs 3

Cold figures come from a fresh process per run (the page cache is warm, as it
is for a console started twice). Medians of `--runs`.
"""

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from casedesk.domain.base import format_timestamp
from casedesk.domain.case import Case
from casedesk.domain.records import ActionLogEntry, Escalation, Message, Override
from casedesk.store import CaseDetails, LocalStore, SyncState
from casedesk.store.cache import Cache

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WORDS = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "stark",
    "wayne",
    "tyrell",
    "cyberdyne",
    "hooli",
    "vandelay",
    "wonka",
]
QUEUES = [
    (uuid.UUID(int=i + 1), name)
    for i, name in enumerate(["Business Onboarding", "Retail KYC", "Escalations", "Healthcare"])
]
REVIEWERS = [(uuid.UUID(int=100 + i), f"Reviewer {i}") for i in range(25)]
TAGS = [
    (uuid.UUID(int=500 + i), label)
    for i, label in enumerate(["pep", "vip", "sanctions", "urgent", "adverse-media", "high-volume"])
]
DETAILED_SHARE = 0.2
"""Share of cases whose chat, escalations, overrides and log were fetched."""


def ts(moment: datetime) -> str:
    return format_timestamp(moment)


def case_doc(number: int, rng: random.Random) -> dict[str, Any]:
    """A case shaped like the demo's: 2-3 KB of JSON, entities, parameters, tags."""
    created = T0 - timedelta(minutes=rng.randint(60, 400_000))
    updated = created + timedelta(minutes=rng.randint(0, 20_000))
    status = rng.choice(["open", "open", "in_progress", "in_progress", "querying", "closed"])
    suffix = rng.choice(["Ltd", "SAS", "GmbH", "Inc"])
    name = f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} {suffix}"
    queue_id, queue_name = rng.choice(QUEUES)
    assignee = rng.choice([None, *REVIEWERS])
    companies = [
        {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "ref": f"c{k}",
            "type": "main" if k == 0 else "affiliated",
            "name": f"{name} {k}" if k else name,
            "registration_number": f"RC{rng.randint(100000, 999999)}",
            "country": rng.choice(["FR", "DE", "GB", "US"]),
        }
        for k in range(rng.randint(1, 3))
    ]
    individuals = [
        {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "first_name": rng.choice(["Jane", "John", "Ana", "Li"]),
            "last_name": rng.choice(["Doe", "Martin", "Schmidt", "Wong"]),
            "birth_date": "1980-04-12",
            "email": "person@example.com",
            "relations": [
                {
                    "source_company_ref": "c0",
                    "roles": ["director", "shareholder"],
                    "ownership_percentage": 25.0,
                }
            ],
        }
        for _ in range(rng.randint(0, 2))
    ]
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "reference": f"CAS-{number:06d}",
        "name": name,
        "type": "kyb",
        "status": status,
        "decision": rng.choice(["approve", "reject"]) if status == "closed" else None,
        "entity_category": "company",
        "queue": {"id": str(queue_id), "name": queue_name, "workflow": "kyb"},
        "assignee": None
        if assignee is None
        else {"id": str(assignee[0]), "name": assignee[1], "email": "reviewer@example.com"},
        "reporter": {"id": f"rep_{rng.randint(1, 50)}", "name": "Partner Bank"},
        "account": {"id": "acc_1", "name": "Main account"},
        "sla_deadline": ts(created + timedelta(hours=48)),
        "sla_status": rng.choice(["on_track", "at_risk", "breached", "paused"]),
        "risk_tier": rng.choice(["low", "medium", "high"]),
        "risk_score": rng.randint(0, 100),
        "open_alerts_count": rng.randint(0, 4),
        "total_entities_count": len(companies) + len(individuals),
        "awaiting": False,
        "query_prompt": None,
        "parameters": [
            {
                "id": f"p{k}",
                "name": f"Parameter {k}",
                "scope": "case",
                "phase": "processing",
                "constraints": {"visible_to_reporter": True},
                "external_id": None,
                "value": rng.randint(0, 10_000),
            }
            for k in range(3)
        ],
        "tags": [
            {"id": str(tag_id), "label": label}
            for tag_id, label in rng.sample(TAGS, rng.randint(0, 3))
        ],
        "metadata": {"channel": "partner-api", "source": rng.choice(["web", "batch", "api"])},
        "custom_properties": {
            "tier": rng.choice(["gold", "silver"]),
            "pep": rng.random() < 0.1,
            "score": round(rng.random() * 100, 2),
        },
        "companies": companies,
        "individuals": individuals,
        "external_id": f"ext-{number}",
        "template_key": None,
        "revision": rng.randint(1, 30),
        "created_at": ts(created),
        "updated_at": ts(updated),
        "closed_at": ts(updated) if status == "closed" else None,
        "summary": {
            "open_escalations_count": rng.randint(0, 2),
            "pending_override_id": None,
            "messages_count": rng.randint(0, 30),
            "last_message_at": ts(updated),
        },
    }


def details_for(case: Case, rng: random.Random) -> CaseDetails:
    """Chat (5-15 lines), an escalation, maybe an override, and the log (10-20 entries)."""
    author_id, author = rng.choice(REVIEWERS)
    msgs = [
        Message(
            id=uuid.uuid4(),
            case_id=case.id,
            author_id=author_id,
            author_name=author,
            kind="message",
            body=" ".join(rng.choices(WORDS, k=rng.randint(5, 40))),
            documents=[],
            created_at=case.created_at + timedelta(minutes=k),
        )
        for k in range(rng.randint(5, 15))
    ]
    escalations = [
        Escalation(
            id=uuid.uuid4(),
            case_id=case.id,
            type="compliance",
            title="Check UBO",
            reason="ownership unclear " * 3,
            note=None,
            follow_up_due_at=None,
            assigned_to_user_id=author_id,
            created_by_id=author_id,
            is_completed=False,
            completed_at=None,
            created_at=case.created_at,
            updated_at=case.updated_at,
        )
    ]
    overrides = (
        [
            Override(
                id=uuid.uuid4(),
                case_id=case.id,
                status="pending",
                creator_id=author_id,
                reason="second opinion",
                proposed_decision="approve",
                reviewer_ids=[],
                decided_by_id=None,
                decision_comment=None,
                created_at=case.created_at,
                decided_at=None,
            )
        ]
        if rng.random() < 0.3
        else []
    )
    actions = [
        ActionLogEntry(
            id=uuid.uuid4(),
            case_id=case.id,
            type="comment",
            actor_id=author_id,
            client_action_id=uuid.uuid4(),
            payload={"body": "looks fine"},
            case_revision=1 + k,
            created_at=case.created_at + timedelta(minutes=k),
        )
        for k in range(rng.randint(10, 20))
    ]
    return CaseDetails(
        case=case,
        messages=msgs,
        escalations=escalations,
        overrides=overrides,
        actions=actions,
        fetched_at=case.updated_at,
        fetched_revision=case.revision,
    )


def make_cases(count: int, seed: int = 1) -> list[Case]:
    rng = random.Random(seed)
    gc.disable()
    try:
        return [Case.model_validate(case_doc(number, rng)) for number in range(1, count + 1)]
    finally:
        gc.enable()


def build(data_dir: Path, cases: list[Case], shard_count: int | None = None) -> float:
    """Fill a cache as an initial sync would (one batch); seconds taken."""
    rng = random.Random(2)
    detailed = [details_for(case, rng) for case in cases if rng.random() < DETAILED_SHARE]
    started = time.perf_counter()
    if shard_count is None:
        store = LocalStore.open(data_dir, freeze_gc=False)
        cache = store.cache
    else:
        cache, _ = Cache.open(
            data_dir / "cache",
            clock=lambda: T0,
            report=lambda _e: None,
            freeze_gc=False,
            shard_count=shard_count,
        )
    with cache.batch():
        cache.upsert_cases(cases)
        for item in detailed:
            cache.save_details(item)
        cache.set_sync_state(SyncState(last_sync_at=T0, updated_since=T0))
    elapsed = time.perf_counter() - started
    if shard_count is None:
        store.close()
    return elapsed


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:,.1f} ms"


# -- child processes (fresh interpreter per cold figure) -----------------------------------


def child(args: argparse.Namespace) -> None:
    data_dir = Path(args.child_dir)
    import casedesk.store.cache as cache_module

    if args.gc == "on":  # measure without the GC discipline
        cache_module.gc_paused = nullcontext  # type: ignore[assignment]
    out: dict[str, float] = {}
    started = time.perf_counter()
    store = LocalStore.open(data_dir, freeze_gc=args.gc == "freeze")
    rows = store.cache.rows()
    out["open_rows"] = time.perf_counter() - started
    out["rows"] = len(rows)
    if args.case:
        started = time.perf_counter()
        details = store.cache.details(uuid.UUID(args.case))
        out["details"] = time.perf_counter() - started
        assert details is not None
    started = time.perf_counter()
    gc.collect()
    out["collect"] = time.perf_counter() - started
    store.close()
    print(json.dumps(out))


def run_child(data_dir: Path, gc_mode: str, case_id: str | None = None) -> dict[str, float]:
    command = [sys.executable, __file__, "--child-dir", str(data_dir), "--gc", gc_mode]
    if case_id:
        command += ["--case", case_id]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- the figures --------------------------------------------------------------------------


def bench_size(count: int, runs: int, root: Path) -> None:
    print(f"\n## {count:,} cases ({DETAILED_SHARE:.0%} with chat, escalations, overrides, log)")
    cases = make_cases(count)
    data_dir = root / f"n{count}"
    built = build(data_dir, cases)
    print(f"initial load, one batch (rows + {count:,} cases + details):  {built:.2f} s")
    index = data_dir / "cache" / "index.json"
    shard_dir = next((data_dir / "cache").glob("details-*"))
    shard_sizes = [p.stat().st_size for p in shard_dir.iterdir()]
    size = index.stat().st_size
    print(
        f"index.json: {size / 1e6:.1f} MB ({size / count:.0f} B/row); {len(shard_sizes)} detail"
        f" shards, median {statistics.median(shard_sizes) / 1e3:.0f} KB,"
        f" max {max(shard_sizes) / 1e3:.0f} KB"
    )

    for mode, label in (
        ("on", "GC on, no pause"),
        ("paused", "GC paused during load"),
        ("freeze", "GC paused + gc.freeze() after"),
    ):
        results = [run_child(data_dir, mode) for _ in range(runs)]
        print(
            f"cold open + queue rows [{label}]: {median_ms([r['open_rows'] for r in results])}"
            f"   next full gc.collect(): {median_ms([r['collect'] for r in results])}"
        )

    rng = random.Random(3)
    probe = rng.sample(cases, runs)
    results = [run_child(data_dir, "freeze", str(case.id)) for case in probe]
    cold = median_ms([r["details"] for r in results])
    print(f"open one case's details (cold process, after open): {cold}")

    store = LocalStore.open(data_dir)
    warm = []
    for case in rng.sample(cases, 50):
        started = time.perf_counter()
        store.cache.details(case.id)
        warm.append(time.perf_counter() - started)
    print(f"open one case's details (warm process, 50 random cases): {median_ms(warm)}")

    def changed(case: Case) -> Case:
        return case.model_copy(
            update={
                "revision": case.revision + 100,
                "updated_at": case.updated_at + timedelta(hours=1),
            }
        )

    for batch in (1, 100):
        samples = []
        for _ in range(runs):
            chosen = [changed(case) for case in rng.sample(cases, batch)]
            started = time.perf_counter()
            store.cache.upsert_cases(chosen)
            samples.append(time.perf_counter() - started)
        print(
            f"write {batch} changed case(s), durable (index + their shards): {median_ms(samples)}"
        )
    store.close()


def bench_shards(count: int, runs: int, root: Path) -> None:
    print(f"\n## shard count at {count:,} cases (write 100 changed / open one case, warm)")
    cases = make_cases(count)
    rng = random.Random(4)
    for shard_count in (256, 1024, 2048, 4096):
        data_dir = root / f"shards{shard_count}"
        built = build(data_dir, cases, shard_count)
        cache, _ = Cache.open(
            data_dir / "cache", clock=lambda: T0, report=lambda _e: None, shard_count=shard_count
        )
        cache.upsert_cases([cases[0]])  # warm-up: the first write parses the index
        writes, reads = [], []
        for _ in range(runs):
            chosen = [
                c.model_copy(update={"revision": c.revision + 100}) for c in rng.sample(cases, 100)
            ]
            started = time.perf_counter()
            cache.upsert_cases(chosen)
            writes.append(time.perf_counter() - started)
        for case in rng.sample(cases, 30):
            cache._shards._open.clear()
            started = time.perf_counter()
            cache.details(case.id)
            reads.append(time.perf_counter() - started)
        print(
            f"{shard_count:>5} shards: initial load {built:5.2f} s"
            f"   write 100 changed {median_ms(writes):>10}   open one case {median_ms(reads):>9}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 50_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--shards", type=int, default=0, help="also compare shard counts at this size"
    )
    parser.add_argument("--child-dir")
    parser.add_argument("--gc", default="freeze")
    parser.add_argument("--case")
    args = parser.parse_args()
    if args.child_dir:
        child(args)
        return
    print(f"# casedesk.store benchmark - python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="casedesk-bench-") as temp:
        for count in args.sizes:
            bench_size(count, args.runs, Path(temp))
        if args.shards:
            bench_shards(args.shards, args.runs, Path(temp))


if __name__ == "__main__":
    main()
