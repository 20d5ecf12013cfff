"""Figures for the sync engine, against a real `casedesk serve --demo` on this machine.

    /work/venv/bin/python benchmarks/sync_bench.py                       # 10,000 cases
    /work/venv/bin/python benchmarks/sync_bench.py --sizes 10000,50000 --json figures.json

For each size N (cases per demo organization) it starts its own server in a
temp dir (seeding takes a while; `--keep DIR` keeps the seeded databases for
the next run), then measures:

- `full_sync_ratio`: `CaseService.pull(full=True)` on an empty store, wall
  time, divided by the floor: a plain `httpx.AsyncClient` making the same
  requests (reference calls, `GET /v1/cases?sort=updated_at&limit=200` page
  after page, then the same detail calls: the case and its four lists, for
  the same cases, at the same concurrency) and parsing the JSON, in the same
  run, on the same server. Goal: <= 1.5x.
- `incremental_sync_ms`: `pull()` after 100 cases were changed over plain
  HTTP by another user (open cases, not mine, never opened: the figure
  is the list walk and the write; each run first moves the watermark past
  earlier changes, so that it receives those 100, plus at most one in the
  overlap window). Goal: <= 150 ms at 10k.
- `cache_load_ms`: `LocalStore.open` + the queue rows, in a fresh process
  (imports excluded). Goal: <= 50 ms at 10k, <= 250 ms at 50k.

`--json PATH` writes one record per figure and size: `{"size", "figure",
"value", "unit", "floor", "ratio"}`; for `full_sync_ratio`, `value` is the
pull and `floor` the plain fetch (both ms) and `ratio` their quotient; the
other figures have no floor (`null`).

Medians of `--runs`. `--profile DIR` writes pyinstrument HTML reports of one
full pull, one incremental pull and one cache load per size.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.store.local import LocalStore
from casedesk.sync import pull as pulling
from casedesk.sync.events import SyncProgress
from casedesk.sync.service import CaseService

GOALS: dict[str, dict[int, float]] = {
    "full_sync_ratio": {0: 1.5},
    "incremental_sync_ms": {10_000: 150.0},
    "cache_load_ms": {10_000: 50.0, 50_000: 250.0},
}
"""Issue 3's goals per figure, by size (0: any size)."""
CHANGED = 100
SEED = 7


def goal(figure: str, size: int) -> float | None:
    goals = GOALS[figure]
    return goals.get(size, goals.get(0))


# -- the server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`casedesk serve --demo --demo-cases N` on a free port, seeded before it answers."""

    def __init__(self, data_dir: Path, cases: int) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "casedesk", "serve", "--demo",
            "--demo-cases", str(cases), "--seed", str(SEED),
            "--port", str(self.port), "--data-dir", str(data_dir),
        ]  # fmt: skip
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir.parent / f"{data_dir.name}-server.log"
        started = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"casedesk serve exited; see {self.log}")
            try:
                if httpx.get(f"{self.base_url}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        self.start_seconds = time.perf_counter() - started
        users = json.loads((data_dir / "demo-keys.json").read_text())["users"]
        org0 = users[0]["organization"]["id"]
        self.users = [u for u in users if u["organization"]["id"] == org0]

    def key(self, roles: set[str]) -> str:
        return str(next(u for u in self.users if set(u["roles"]) == roles)["api_key"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- the floor ----------------------------------------------------------------------


async def plain_fetch(
    base_url: str, key: str, *, since: str | None = None, details: bool = True
) -> dict[str, int]:
    """What the pull asks for, with nothing but httpx and orjson: the floor of a full sync.

    With `since` (an ISO instant) it walks only the cases changed since then, as an
    incremental pull does; without `details`, it skips the case details.
    """
    headers = {"X-API-KEY": key, "Accept": "application/json"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:

        async def get(path: str, params: dict[str, Any] | None = None) -> Any:
            response = await http.get(path, params=params)
            response.raise_for_status()
            return orjson.loads(response.content)

        async def walk(path: str, params: dict[str, Any]) -> list[Any]:
            items: list[Any] = []
            cursor = None
            while True:
                query = {**params, **({"cursor": cursor} if cursor else {})}
                body = await get(path, query)
                items.extend(body["data"])
                if not body["meta"]["page"]["has_more"]:
                    return items
                cursor = body["meta"]["page"]["cursor"]

        me, _users, _queues = await asyncio.gather(
            get("/v1/me"), walk("/v1/users", {}), walk("/v1/queues", {})
        )
        query: dict[str, Any] = {"sort": "updated_at", "limit": pulling.PAGE_SIZE}
        if since is not None:
            query["updated_since"] = since
        cases = await walk("/v1/cases", query)
        received = {case["id"]: case for case in cases}
        if not details:
            return {"cases": len(received), "details": 0}
        my_id = me["data"]["id"]
        mine = [
            case_id
            for case_id, case in received.items()
            if case["assignee"] and case["assignee"]["id"] == my_id and case["status"] != "closed"
        ][: pulling.PREFETCH_MINE]
        gate = asyncio.Semaphore(pulling.DETAIL_CONCURRENCY)

        async def details(case_id: str) -> None:
            async with gate:
                limit = {"limit": 200}
                await asyncio.gather(
                    get(f"/v1/cases/{case_id}"),
                    *(walk(f"/v1/cases/{case_id}/{kind}", limit) for kind in KINDS),
                )

        await asyncio.gather(*(details(case_id) for case_id in mine))
        return {"cases": len(received), "details": len(mine)}


KINDS = ("messages", "escalations", "overrides", "actions")


# -- the engine ---------------------------------------------------------------------


def service_for(base_url: str, key: str, data_dir: Path) -> CaseService:
    """Wired as cli.py wires it."""
    store = LocalStore.open(data_dir)
    client = CaseApiClient(base_url, ApiKey(key), retry=RetryPolicy(attempts=2))
    return CaseService(profile_name="bench", store=store, backend=client)


async def close(service: CaseService) -> None:
    assert service.backend is not None
    await service.backend.aclose()
    service.store.close()


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work()
    return time.perf_counter() - started, result


def profiled(path: Path | None) -> Any:
    """A pyinstrument profiler writing to `path` (a no-op without one)."""
    if path is None:
        return _NoProfile()
    from pyinstrument import Profiler

    return _Profile(Profiler(async_mode="enabled"), path)


class _NoProfile:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


class _Profile:
    def __init__(self, profiler: Any, path: Path) -> None:
        self.profiler, self.path = profiler, path

    def __enter__(self) -> None:
        self.profiler.start()

    def __exit__(self, *_: object) -> None:
        self.profiler.stop()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(self.profiler.output_html())
        text = self.path.with_suffix(".txt")
        text.write_text(self.profiler.output_text(unicode=False, color=False, show_all=False))
        print(f"    profile: {self.path} (and {text.name})")


class Phases:
    """When a pull reported each phase: where its wall time goes, without a profiler."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.marks: dict[str, float] = {}

    def __call__(self, event: SyncProgress) -> None:
        self.marks[event.phase] = time.perf_counter() - self.started

    def split(self, total: float) -> dict[str, float]:
        walked = self.marks.get("cases", 0.0)
        writing = self.marks.get("writing", total)
        return {"list walk": walked, "details": writing - walked, "write": total - writing}


async def full_sync(
    server: Server, key: str, root: Path, runs: int, profile: Path | None
) -> tuple[list[float], list[float], list[dict[str, float]], Path, dict[str, int]]:
    """Alternate the floor and the engine, `runs` times each; returns both series and a store."""
    floors: list[float] = []
    pulls: list[float] = []
    splits: list[dict[str, float]] = []
    shape: dict[str, int] = {}
    kept = root / "store-0"
    for run in range(runs):
        seconds, shape = await timed(lambda: plain_fetch(server.base_url, key))
        floors.append(seconds)
        data_dir = root / f"store-{run}"
        service = service_for(server.base_url, key, data_dir)
        phases = Phases()
        with profiled(profile if run == 0 else None):
            seconds, result = await timed(partial(service.pull, full=True, progress=phases))
        pulls.append(seconds)
        splits.append(phases.split(seconds))
        assert result.cases == shape["cases"] and result.details == shape["details"], (
            result,
            shape,
        )
        await close(service)
        if run:
            shutil.rmtree(data_dir)
    return floors, pulls, splits, kept, shape


@dataclass
class Incremental:
    """Timed incremental pulls, and what the same requests cost with plain httpx."""

    samples: list[float]
    """Wall seconds of each `pull()`."""
    received: list[int]
    writes: list[float]
    """Seconds of each pull spent writing the cache (from "writing" to the end)."""
    floors: list[float]
    """Seconds of a plain httpx + orjson fetch of the same requests, right after each pull."""


async def incremental_sync(
    server: Server, key: str, data_dir: Path, runs: int, profile: Path | None
) -> Incremental:
    service = service_for(server.base_url, key, data_dir)
    cache = service.store.cache
    me = cache.me()
    assert me is not None
    # Not mine and not opened: no details to fetch, whatever the pull's prefetch rules.
    candidates = [
        row.id
        for row in cache.rows()
        if row.status.value != "closed"
        and row.assignee_id != me.id
        and (details := cache.details(row.id)) is not None
        and not details.fetched
    ]
    rng = random.Random(11)
    result = Incremental([], [], [], [])
    other = server.key({"contributor", "reviewer"})
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"X-API-KEY": other}, timeout=60
    ) as http:
        for run in range(runs):
            # The pull re-reads the changes made up to OVERLAP before the newest one it saw.
            # One change past that window (then an untimed pull) moves the watermark beyond
            # everything changed before, so the timed pull gets the 100 (+ that one, at most).
            spacer, *chosen = rng.sample(candidates, CHANGED + 1)
            await asyncio.sleep(pulling.OVERLAP.total_seconds() + 0.5)
            await change_cases(http, [spacer], "bench spacer")
            await service.pull()
            await change_cases(http, chosen, f"bench change {run}")
            since = service.store.cache.sync_state().updated_since
            assert since is not None
            phases = Phases()
            with profiled(profile if run == 0 else None):
                seconds, pulled = await timed(partial(service.pull, progress=phases))
            result.samples.append(seconds)
            result.writes.append(phases.split(seconds)["write"])
            result.received.append(pulled.cases)
            assert CHANGED <= pulled.cases <= CHANGED + 1 and not pulled.full, pulled
            floor, _ = await timed(
                partial(plain_fetch, server.base_url, key, since=since.isoformat(), details=False)
            )
            result.floors.append(floor)
    await close(service)
    return result


async def change_cases(http: httpx.AsyncClient, case_ids: list[uuid.UUID], text: str) -> None:
    """Comment on each case over plain HTTP (8 at a time), as other reviewers would."""
    gate = asyncio.Semaphore(8)

    async def change(case_id: uuid.UUID) -> None:
        async with gate:
            response = await http.post(
                f"/v1/cases/{case_id}/actions",
                json={"type": "comment", "body": text},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            response.raise_for_status()

    await asyncio.gather(*(change(case_id) for case_id in case_ids))


CHILD = """
import sys, time
from pathlib import Path
from casedesk.store.local import LocalStore
started = time.perf_counter()
store = LocalStore.open(Path(sys.argv[1]))
rows = store.cache.rows()
elapsed = time.perf_counter() - started
assert len(rows) == int(sys.argv[2]), len(rows)
store.close()
print(elapsed)
"""

PROFILED_CHILD = """
import sys
from pathlib import Path
from pyinstrument import Profiler
from casedesk.store.local import LocalStore
profiler = Profiler()
profiler.start()
store = LocalStore.open(Path(sys.argv[1]))
rows = store.cache.rows()
profiler.stop()
Path(sys.argv[3]).write_text(profiler.output_html())
Path(sys.argv[3]).with_suffix(".txt").write_text(profiler.output_text(unicode=False, color=False))
store.close()
"""


def cache_load(data_dir: Path, count: int, runs: int, profile: Path | None) -> list[float]:
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(data_dir), str(count)],
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    if profile is not None:
        subprocess.run(
            [sys.executable, "-c", PROFILED_CHILD, str(data_dir), str(count), str(profile)],
            check=True,
        )
        print(f"    profile: {profile}")
    return samples


# -- the report ---------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def spread(samples: list[float]) -> str:
    return (
        f"median {ms(statistics.median(samples))} (min {ms(min(samples))}, max {ms(max(samples))})"
    )


def verdict(figure: str, size: int, value: float) -> str:
    wanted = goal(figure, size)
    if wanted is None:
        return ""
    return f"  [goal <= {wanted:g}: {'met' if value <= wanted else 'MISSED'}]"


def record(
    size: int, figure: str, value: float, unit: str, floor: float | None, ratio: float | None
) -> dict[str, Any]:
    return {
        "size": size,
        "figure": figure,
        "value": round(value, 4),
        "unit": unit,
        "floor": None if floor is None else round(floor, 4),
        "ratio": None if ratio is None else round(ratio, 3),
    }


async def bench_size(
    size: int, runs: int, root: Path, keep: Path | None, profile_dir: Path | None
) -> list[dict[str, Any]]:
    server_dir = (keep or root) / f"server-{size}" / "data"
    print(f"\n## {size:,} cases per organization")
    server = Server(server_dir, size)
    records: list[dict[str, Any]] = []
    try:
        print(f"server ready (seeded if new) in {server.start_seconds:.1f} s")
        key = server.key({"reviewer"})
        work = root / f"client-{size}"

        def profile(name: str) -> Path | None:
            return None if profile_dir is None else profile_dir / f"{name}-{size}.html"

        floors, pulls, splits, store_dir, shape = await full_sync(
            server, key, work, runs, profile("full_pull")
        )
        floor, pull = statistics.median(floors), statistics.median(pulls)
        ratio = pull / floor
        print(
            f"full sync, {shape['cases']:,} cases + {shape['details']} case details "
            f"(pages of {pulling.PAGE_SIZE}, details at concurrency {pulling.DETAIL_CONCURRENCY})"
        )
        print(f"  plain httpx + orjson (floor):    {spread(floors)}")
        print(f"  CaseService.pull(full=True):     {spread(pulls)}")
        parts = ", ".join(
            f"{name} {ms(statistics.median(split[name] for split in splits))}" for name in splits[0]
        )
        print(f"    of which (medians): {parts}")
        print(f"  ratio: {ratio:.2f}x{verdict('full_sync_ratio', size, ratio)}")
        records.append(record(size, "full_sync_ratio", pull * 1000, "ms", floor * 1000, ratio))

        incremental = await incremental_sync(
            server, key, store_dir, runs, profile("incremental_pull")
        )
        samples, received = incremental.samples, incremental.received
        value = statistics.median(samples) * 1000
        print(
            f"incremental sync, {CHANGED} changed cases (received {min(received)}-"
            f"{max(received)}): {spread(samples)}"
            f"{verdict('incremental_sync_ms', size, value)}"
        )
        records.append(record(size, "incremental_sync_ms", value, "ms", None, None))

        loads = cache_load(store_dir, shape["cases"], runs, profile("cache_load"))
        value = statistics.median(loads) * 1000
        index = store_dir / "cache" / "index.json"
        print(
            f"cache open + queue rows (LocalStore.open, fresh process; index.json "
            f"{index.stat().st_size / 1e6:.1f} MB): {spread(loads)}"
            f"{verdict('cache_load_ms', size, value)}"
        )
        records.append(record(size, "cache_load_ms", value, "ms", None, None))
    finally:
        server.stop()
    return records


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",") if part],
        default=[10_000],
        help="comma-separated case counts per organization (default 10000)",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the figures as JSON records here")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the seeded servers here")
    parser.add_argument("--profile", type=Path, help="write pyinstrument reports here")
    args = parser.parse_args()
    print(f"# casedesk sync benchmark - python {sys.version.split()[0]}, {os.cpu_count()} cores")
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="casedesk-sync-bench-") as temp:
        for size in args.sizes:
            records += asyncio.run(bench_size(size, args.runs, Path(temp), args.keep, args.profile))
    if args.json:
        args.json.write_text(json.dumps(records, indent=2) + "\n")
        print(f"\nwrote {len(records)} records to {args.json}")


if __name__ == "__main__":
    main()
