"""Every performance figure of casedesk, each beside its floor measured in the same run.

    /work/venv/bin/python benchmarks/run.py                                  # 1k, 10k, 50k
    /work/venv/bin/python benchmarks/run.py --sizes 10000 --json reports/benchmarks.json

For each size N it starts its own `casedesk serve --demo --demo-cases N` on
127.0.0.1 (seeding two organizations of N cases takes ~10 s per 10k), then:

- sync (`sync_bench`): a full `CaseService.pull` into an empty store against a
  plain httpx + orjson client making the same requests; an incremental pull
  after 100 cases were changed by another user against the same plain fetch of
  `updated_since`; the cache write inside that pull against one durable write
  (temp file, fsync, rename, directory fsync) of the index it rewrites;
- cache (`sync_bench`): `LocalStore.open` + queue rows in a fresh process against
  reading and `orjson.loads`-ing the same index file in a fresh process;
- server: cases/s served by `GET /v1/cases?limit=200` pages walked one after the
  other, against the same response bodies served by a stdlib static server
  (ratio = how many times slower); p50/p95 of a `comment` action under 8
  concurrent clients against `GET /v1/me` under the same 8 clients;
- console (`console_bench`, on the store the full pull filled, offline, clock
  frozen, the queue's head kept as a console run before would have): cold start
  to the first frame with queue rows against a minimal
  Textual app (one `Static`), both with `App.run_test` in a fresh process
  (headless: no pseudo-terminal, no terminal write); filter, cursor, open-case
  and view-switch key → frame latencies against the same latency of a minimal
  app whose key changes one `Static`; peak RSS against that app's.

`--json PATH` writes a list of `{"size", "figure", "value", "unit", "floor",
"ratio"}`. For the `*_ratio` figures `value` and `floor` are the two times (ms)
and `ratio` their quotient; for `server_cases_per_s` the ratio is floor/value
(how many times slower than serving bytes); for every other figure it is
value/floor.
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import console_bench
import sync_bench

from casedesk.store.files import write_atomic

CLIENTS = 8
"""Concurrent clients for the server's action latency."""
ACTIONS_PER_CLIENT = 25
COLD_METHOD = "App.run_test in a fresh process (headless: no pseudo-terminal, no terminal write)"


@dataclass(frozen=True)
class Figure:
    key: str
    unit: str
    goal: dict[int, float] | None
    """Issue 6's ceiling by size (the goal of the nearest size applies); None: no goal."""
    floor: str
    """What the floor is."""
    goal_on: str = "value"
    """What the goal bounds: the value, or the ratio."""


FIGURES: dict[str, Figure] = {
    figure.key: figure
    for figure in (
        Figure(
            "cold_start_ratio",
            "ms",
            {10_000: 1.5, 50_000: 2.5},
            "minimal Textual app, spawn → first frame",
            "ratio",
        ),
        Figure("filter_p50_ms", "ms", None, "minimal app key → frame p50"),
        Figure("filter_p95_ms", "ms", {10_000: 30, 50_000: 80}, "minimal app key → frame p95"),
        Figure("cursor_p95_ms", "ms", {10_000: 16, 50_000: 16}, "minimal app key → frame p95"),
        Figure("open_case_p95_ms", "ms", {10_000: 50, 50_000: 50}, "minimal app key → frame p95"),
        Figure("view_switch_p95_ms", "ms", None, "minimal app key → frame p95"),
        Figure(
            "full_sync_ratio",
            "ms",
            {10_000: 1.5, 50_000: 1.5},
            "plain httpx + orjson, same requests",
            "ratio",
        ),
        Figure(
            "incremental_sync_ms",
            "ms",
            {10_000: 150, 50_000: 400},
            "plain httpx + orjson, same updated_since walk",
        ),
        Figure("cache_load_ms", "ms", None, "read + orjson.loads of index.json, fresh process"),
        Figure("cache_write_ms", "ms", None, "one durable atomic write of index.json"),
        Figure("rss_mb", "MB", {10_000: 200, 50_000: 500}, "minimal Textual app peak RSS (VmHWM)"),
        Figure(
            "server_cases_per_s",
            "cases/s",
            None,
            "the same page bodies from a static stdlib server",
        ),
        Figure("server_action_p95_ms", "ms", None, "GET /v1/me p95 under the same 8 clients"),
    )
}


@dataclass
class Result:
    size: int
    figure: str
    value: float
    floor: float
    ratio: float
    note: str = ""

    @property
    def spec(self) -> Figure:
        return FIGURES[self.figure]

    def goal(self) -> float | None:
        goals = self.spec.goal
        if not goals:
            return None
        return goals[min(goals, key=lambda known: abs(known - self.size))]

    def verdict(self) -> str:
        goal = self.goal()
        if goal is None:
            return ""
        measured = self.ratio if self.spec.goal_on == "ratio" else self.value
        return "met" if measured <= goal else "MISSED"

    def record(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "figure": self.figure,
            "value": round(self.value, 3),
            "unit": self.spec.unit,
            "floor": round(self.floor, 3),
            "ratio": round(self.ratio, 3),
        }


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def percentile(samples: list[float], q: int) -> float:
    return console_bench.ms(samples, q)


# -- server figures ------------------------------------------------------------------------


STATIC_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

pages = [p.read_bytes() for p in sorted(Path(sys.argv[1]).glob("*.json"))]

class Pages(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = pages[int(self.path.rsplit("/", 1)[1])]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Pages)
print("ready", flush=True)
server.serve_forever()
"""


async def walk_cases(base_url: str, key: str, keep: Path | None) -> tuple[float, int, list[Any]]:
    """Walk every `GET /v1/cases` page in turn; seconds, cases, and the open ones' ids.

    With `keep`, each page body is written there (for the static floor).
    """
    headers = {"X-API-KEY": key}
    count, open_ids, cursor, number = 0, [], None, 0
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        await http.get("/v1/me")  # the connection is open before the clock starts
        started = time.perf_counter()
        while True:
            params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            response = await http.get("/v1/cases", params=params)
            response.raise_for_status()
            body = orjson.loads(response.content)
            count += len(body["data"])
            open_ids += [case["id"] for case in body["data"] if case["status"] != "closed"]
            if keep is not None:
                (keep / f"{number:06d}.json").write_bytes(response.content)
            number += 1
            if not body["meta"]["page"]["has_more"]:
                break
            cursor = body["meta"]["page"]["cursor"]
        return time.perf_counter() - started, count, open_ids


async def walk_static(base_url: str, pages: int) -> float:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        await http.get("/p/0")
        started = time.perf_counter()
        for number in range(pages):
            response = await http.get(f"/p/{number}")
            response.raise_for_status()
            orjson.loads(response.content)
        return time.perf_counter() - started


async def served_cases(server: sync_bench.Server, key: str, root: Path, runs: int) -> Any:
    """Cases/s of the API's list pages and of the same bytes served statically."""
    bodies = root / "pages"
    shutil.rmtree(bodies, ignore_errors=True)
    bodies.mkdir(parents=True)
    served: list[float] = []
    open_ids: list[Any] = []
    count = 0
    for run in range(runs):
        seconds, count, open_ids = await walk_cases(
            server.base_url, key, bodies if run == 0 else None
        )
        served.append(count / seconds)
    port = sync_bench.free_port()
    static = subprocess.Popen(
        [sys.executable, "-c", STATIC_SERVER, str(bodies), str(port)],
        stdout=subprocess.PIPE,
    )
    try:
        assert static.stdout is not None
        static.stdout.readline()
        pages = len(list(bodies.glob("*.json")))
        floors = [count / await walk_static(f"http://127.0.0.1:{port}", pages) for _ in range(runs)]
    finally:
        static.terminate()
        static.wait()
    return statistics.median(served), statistics.median(floors), count, open_ids


async def concurrent_latencies(
    base_url: str, key: str, requests: list[list[tuple[str, str, Any]]]
) -> list[float]:
    """Each inner list is one client's requests, sent one after the other; all clients at once."""

    async def client(mine: list[tuple[str, str, Any]]) -> list[float]:
        times = []
        async with httpx.AsyncClient(
            base_url=base_url, headers={"X-API-KEY": key}, timeout=60
        ) as http:
            await http.get("/v1/me")
            for method, path, body in mine:
                headers = {"Idempotency-Key": str(uuid.uuid4())} if method == "POST" else {}
                started = time.perf_counter()
                response = await http.request(method, path, json=body, headers=headers)
                times.append(time.perf_counter() - started)
                response.raise_for_status()
        return times

    done = await asyncio.gather(*(client(mine) for mine in requests))
    return [seconds for times in done for seconds in times]


async def action_latency(server: sync_bench.Server, open_ids: list[Any]) -> dict[str, float]:
    key = server.key({"contributor", "reviewer"})
    me = [[("GET", "/v1/me", None)] * ACTIONS_PER_CLIENT for _ in range(CLIENTS)]
    floor = await concurrent_latencies(server.base_url, key, me)
    chosen = open_ids[: CLIENTS * ACTIONS_PER_CLIENT]
    actions = [
        [
            ("POST", f"/v1/cases/{case_id}/actions", {"type": "comment", "body": "bench load"})
            for case_id in chosen[client::CLIENTS]
        ]
        for client in range(CLIENTS)
    ]
    acted = await concurrent_latencies(server.base_url, key, actions)
    return {
        "p50": percentile(acted, 50),
        "p95": percentile(acted, 95),
        "floor_p50": percentile(floor, 50),
        "floor_p95": percentile(floor, 95),
        "count": len(acted),
    }


# -- cache figures -------------------------------------------------------------------------

INDEX_CHILD = """
import sys, time
import orjson
started = time.perf_counter()
with open(sys.argv[1], "rb") as handle:
    orjson.loads(handle.read())
print(time.perf_counter() - started)
"""


def index_parse(index: Path, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", INDEX_CHILD, str(index)],
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return samples


def index_write(index: Path, runs: int) -> list[float]:
    """One durable rewrite of the index (serialise, temp file, fsync, rename, dir fsync)."""
    tables = orjson.loads(index.read_bytes())
    target = index.parent.parent / "index-floor.json"
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        write_atomic(target, orjson.dumps(tables, option=orjson.OPT_UTC_Z))
        samples.append(time.perf_counter() - started)
    target.unlink()
    return samples


# -- one size ------------------------------------------------------------------------------


async def server_side(
    size: int, root: Path, keep: Path | None, runs: int
) -> tuple[list[Result], Path, int]:
    """Sync, cache and server figures; the filled store and its case count."""
    server_dir = (keep or root) / f"server-{size}" / "data"
    started = time.perf_counter()
    server = sync_bench.Server(server_dir, size)
    print(f"  server on {server.base_url}, ready in {time.perf_counter() - started:.1f} s")
    results: list[Result] = []
    try:
        key = server.key({"reviewer"})
        work = root / f"client-{size}"
        floors, pulls, splits, store_dir, shape = await sync_bench.full_sync(
            server, key, work, runs, None
        )
        floor, pull = median_ms(floors), median_ms(pulls)
        parts = ", ".join(
            f"{name} {median_ms([split[name] for split in splits]):.0f} ms" for name in splits[0]
        )
        results.append(
            Result(
                size,
                "full_sync_ratio",
                pull,
                floor,
                pull / floor,
                f"{shape['cases']:,} cases + {shape['details']} details; {parts}",
            )
        )

        incremental = await sync_bench.incremental_sync(server, key, store_dir, runs, None)
        value, floor = median_ms(incremental.samples), median_ms(incremental.floors)
        results.append(
            Result(
                size,
                "incremental_sync_ms",
                value,
                floor,
                value / floor,
                f"{min(incremental.received)}-{max(incremental.received)} cases received",
            )
        )
        index = store_dir / "cache" / "index.json"
        value, floor = median_ms(incremental.writes), median_ms(index_write(index, runs))
        results.append(
            Result(
                size,
                "cache_write_ms",
                value,
                floor,
                value / floor,
                f"index.json {index.stat().st_size / 1e6:.1f} MB + details-*/recent.json",
            )
        )

        loads = sync_bench.cache_load(store_dir, shape["cases"], runs, None)
        value, floor = median_ms(loads), median_ms(index_parse(index, runs))
        results.append(
            Result(size, "cache_load_ms", value, floor, value / floor, "LocalStore.open + rows")
        )

        rate, static_rate, count, open_ids = await served_cases(server, key, work, runs)
        results.append(
            Result(
                size,
                "server_cases_per_s",
                rate,
                static_rate,
                static_rate / rate,
                f"{count:,} cases in pages of 200, one client",
            )
        )
        latency = await action_latency(server, open_ids)
        results.append(
            Result(
                size,
                "server_action_p95_ms",
                latency["p95"],
                latency["floor_p95"],
                latency["p95"] / latency["floor_p95"],
                f"{latency['count']:.0f} comments, {CLIENTS} clients; p50 {latency['p50']:.1f} ms"
                f" (GET /v1/me p50 {latency['floor_p50']:.1f} ms)",
            )
        )
    finally:
        server.stop()
    return results, store_dir, shape["cases"]


def console_side(size: int, store_dir: Path, runs: int) -> list[Result]:
    now = datetime.now(UTC).isoformat()
    # A console that has run once on this cache kept its queue's head: a start paints it.
    console_bench.write_head(store_dir, now)
    for kind in ("minimal", "console"):  # warm-up: bytecode written, files in the page cache
        console_bench.cold_run(kind, store_dir, now)
    console: list[console_bench.ColdRun] = []
    minimal: list[console_bench.ColdRun] = []
    for _ in range(runs):  # interleaved, so drift on a noisy machine hits both alike
        minimal.append(console_bench.cold_run("minimal", store_dir, now))
        console.append(console_bench.cold_run("console", store_dir, now))
    painted = console_bench.median(console, "painted")
    floor = console_bench.median(minimal, "painted")
    cpu = console_bench.median(console, "painted", cpu=True) / console_bench.median(
        minimal, "painted", cpu=True
    )
    steps = ", ".join(f"{label} {console_bench.median(console, label):.0f}" for label in console[0])
    results = [
        Result(
            size,
            "cold_start_ratio",
            painted,
            floor,
            painted / floor,
            f"median of {runs}; console {steps} ms; CPU ratio {cpu:.2f}",
        )
    ]
    interactions = console_bench.interact_run(store_dir, now)
    base = console_bench.minimal_interact_run(store_dir.parent)
    base_latency = base["keys"]["latency"]
    for figure, phase, q in (
        ("filter_p50_ms", "filter", 50),
        ("filter_p95_ms", "filter", 95),
        ("cursor_p95_ms", "cursor", 95),
        ("open_case_p95_ms", "open_case", 95),
        ("view_switch_p95_ms", "views", 95),
    ):
        data = interactions[phase]
        value, floor = percentile(data["latency"], q), percentile(base_latency, q)
        pauses = data["gc"]
        note = f"{len(data['latency'])} presses, {data['wrong']} wrong"
        if pauses["count"]:
            note += f"; GC {pauses['total'] * 1000:.0f} ms in {pauses['count']:.0f} pauses"
        results.append(Result(size, figure, value, floor, value / floor, note))
    results.append(
        Result(
            size,
            "rss_mb",
            interactions["hwm_mb"],
            base["hwm_mb"],
            interactions["hwm_mb"] / base["hwm_mb"],
            "console's VmHWM after all the interactions",
        )
    )
    return results


def print_results(results: list[Result]) -> None:
    print(
        f"  {'figure':<21} {'value':>12} {'floor':>12} {'ratio':>7} {'goal':>10}  verdict"
        "  (floor; notes)"
    )
    for item in sorted(results, key=lambda r: list(FIGURES).index(r.figure)):
        unit = item.spec.unit
        goal = item.goal()
        goal_text = "-"
        if goal is not None:
            goal_text = f"<= {goal:g}" + ("x" if item.spec.goal_on == "ratio" else f" {unit}")
        print(
            f"  {item.figure:<21} {fmt(item.value, unit):>12} {fmt(item.floor, unit):>12}"
            f" {item.ratio:>6.2f}x {goal_text:>10}  {item.verdict() or '-':<7}"
            f"  ({item.spec.floor}; {item.note})"
        )


def fmt(value: float, unit: str) -> str:
    if unit == "cases/s":
        return f"{value:,.0f}/s"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    from importlib.metadata import version

    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({model}), "
        f"python {platform.python_version()}, textual {version('textual')}, "
        f"pydantic {version('pydantic')}, httpx {version('httpx')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",") if part.strip()],
        default=[1_000, 10_000, 50_000],
        help="comma-separated cases per demo organization (default 1000,10000,50000)",
    )
    parser.add_argument("--json", type=Path, help="write the figures here as JSON records")
    parser.add_argument("--runs", type=int, default=5, help="repeats of each timed figure")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the seeded servers here")
    args = parser.parse_args()
    print(f"# casedesk benchmarks - {machine()}")
    print(f"cold start: {COLD_METHOD}; figures are medians of {args.runs} runs unless p50/p95")
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="casedesk-run-") as temp:
        for size in args.sizes:
            print(f"\n## {size:,} cases per demo organization")
            root = Path(temp) / f"n{size}"
            results, store_dir, _ = asyncio.run(server_side(size, root, args.keep, args.runs))
            results += console_side(size, store_dir, args.runs)
            print_results(results)
            records += [item.record() for item in results]
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(records, indent=2) + "\n")
        print(f"\nwrote {len(records)} records to {args.json}")


if __name__ == "__main__":
    main()
