"""Figures for the console: cold start, filter / cursor / open-case / view-switch latency, RSS.

    /work/venv/bin/python benchmarks/console_bench.py                      # 10k and 50k cases
    /work/venv/bin/python benchmarks/console_bench.py --sizes 10000 --json figures.json
    /work/venv/bin/python benchmarks/console_bench.py --keep /tmp/console-caches --profile

The cache is built without a server from `benchmarks/store_bench.py`'s realistic
cases, plus a current user, the users and queues the cases name, and a sync
state (in a child process, so the parent never holds the cases); the console
reads it through `CaseService` with no API and a clock frozen at the sync.
Every figure is headless, `App.run_test(size=(160, 50))` (no terminal write),
each group in a fresh process that reads bytecode like an installed console:

- cold start: spawn → first frame of the queue with rows in it, against a minimal
  Textual app (one `Static`) spawned and run the same way, to its first frame;
  one warm-up each, then the median of `--runs` each, and their ratio (the CPU
  ratio is printed too: other processes on a shared machine inflate wall time);
- latencies: key posted → the first frame showing the key's result (a hook on
  `Screen._compositor_refresh`, as in research/perf-floors.md), with the
  process CPU time over the same span and the cyclic GC's pauses per phase. A
  Pilot `press` + `pause` waits for idle in 20 ms sleeps, so it costs ~85 ms
  whatever the app does: that round trip is printed beside each figure, never
  used as it;
- peak RSS: `ru_maxrss` of the console's process after all the interactions
  (checked against /proc's VmHWM).

`--profile` reruns the child of every MISS under pyinstrument (tracemalloc for
RSS) and prints where the time (or memory) goes.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

HERE = Path(__file__).resolve().parent
STORE_BENCH = HERE / "store_bench.py"
SEED = 1
CACHE_FORMAT = 3
"""Bump when the cache this script builds changes, so `--keep` rebuilds old ones."""
SCREEN = (160, 50)
SLA_HOURS = 48.0
"""store_bench sets every deadline 48 h after creation."""

QUERIES = ("risk:high", "acme", "status:open sla:breached", "assignee:me")
CURSOR_KEYS = ("j",) * 120 + ("k",) * 80
VIEW_KEYS = tuple("12345678") * 4 + ("7",)
"""Every view four times, back to "All open" (7) at the end."""
OPEN_CASES = 30
PHASES = ("cursor", "open_case", "views", "filter")

# A child imports this module by path (its .pyc is cached) rather than running the
# file as a script (compiled on every spawn), so both cold starts pay the same little.
CHILD_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); import console_bench; "
    "console_bench.child(sys.argv[2:])"
)


# -- goals and floors ----------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    key: str
    unit: str
    goal: dict[int, float] | None
    """Issue 6's ceiling at 10k and 50k cases (None: no goal)."""
    floor: dict[int, float] | None
    """The best research/perf-floors.md measured for the same thing (None: not measured)."""
    source: str


FIGURES: tuple[Figure, ...] = (
    Figure(
        "cold_start_ratio",
        "x",
        {10_000: 1.5, 50_000: 2.5},
        {10_000: 1.87, 50_000: 2.7},
        "10k: vtable + GC off, 352 / 188 ms (Realistic budgets); "
        "50k: textual-fastdatatable, 403 / 150 ms (Addendum)",
    ),
    Figure(
        "filter_p50_ms",
        "ms",
        None,
        {10_000: 7.0, 50_000: 11.0},
        "vtable, key -> first frame with new rows (2b)",
    ),
    Figure(
        "filter_p95_ms",
        "ms",
        {10_000: 30.0, 50_000: 80.0},
        {10_000: 8.0, 50_000: 12.0},
        "vtable, key -> first frame with new rows, slowest query (2b)",
    ),
    Figure(
        "cursor_p95_ms",
        "ms",
        {10_000: 16.0, 50_000: 16.0},
        {10_000: 1.9, 50_000: 2.2},
        "vtable, down-key latency (2)",
    ),
    Figure("open_case_p95_ms", "ms", {10_000: 50.0, 50_000: 50.0}, None, "not measured"),
    Figure(
        "view_switch_p95_ms",
        "ms",
        None,
        {10_000: 8.0, 50_000: 12.0},
        "vtable refill to a subset, key -> frame (2b)",
    ),
    Figure(
        "rss_mb",
        "MB",
        {10_000: 200.0, 50_000: 500.0},
        {10_000: 97.0, 50_000: 123.0},
        "textual-fastdatatable console, peak RSS (Addendum)",
    ),
)
PROFILED_PHASE = {
    "cold_start_ratio": "cold",
    "filter_p50_ms": "filter",
    "filter_p95_ms": "filter",
    "cursor_p95_ms": "cursor",
    "open_case_p95_ms": "open_case",
    "view_switch_p95_ms": "views",
    "rss_mb": "memory",
}


def nearest(size: int, by_size: dict[int, float] | None) -> float | None:
    """The value for the measured size nearest to `size` (on a log scale)."""
    if not by_size:
        return None
    return by_size[min(by_size, key=lambda known: abs(math.log(size / known)))]


# -- the cache -----------------------------------------------------------------------------


def load_store_bench() -> Any:
    """`benchmarks/store_bench.py` as a module: its realistic cases and its cache builder."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("store_bench", STORE_BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare_cache(root: Path, size: int) -> tuple[Path, str, float | None]:
    """The data dir of a `size`-case cache under `root`, the instant it was synced at, and
    the seconds building it took (None: reused).

    Built in a child process: a parent that once held every case would pass its peak
    RSS on to the children it spawns (Linux keeps `ru_maxrss` across fork and exec).
    """
    data_dir = root / f"n{size}"
    ready = data_dir / "console-bench.json"
    wanted = {"size": size, "seed": SEED, "format": CACHE_FORMAT}
    stamp = json.loads(ready.read_text()) if ready.exists() else {}
    built = None
    if {key: stamp.get(key) for key in wanted} != wanted:
        if data_dir.exists():
            shutil.rmtree(data_dir)
        started = time.perf_counter()
        command = spawn(["build", str(data_dir), "--size", str(size)])
        subprocess.run(command, check=True, env=child_env(root))
        built = time.perf_counter() - started
        stamp = json.loads(ready.read_text())
    return data_dir, stamp["now"], built


def build_child(data_dir: Path, size: int) -> None:
    """Fill `data_dir` as an initial sync would, then stamp it with what was built."""
    store_bench = load_store_bench()
    cases = store_bench.make_cases(size, SEED)
    store_bench.build(data_dir, cases)
    add_people(data_dir, store_bench)
    keep_head(data_dir, store_bench.T0)
    stamp = {"size": size, "seed": SEED, "format": CACHE_FORMAT, "now": store_bench.T0.isoformat()}
    (data_dir / "console-bench.json").write_text(json.dumps(stamp))


def write_head(data_dir: Path, now: str) -> None:
    """`keep_head` in a child process (the caller keeps its RSS small: see prepare_cache)."""
    command = spawn(["head", str(data_dir), "--now", now])
    subprocess.run(command, check=True, env=child_env(data_dir.parent))


def keep_head(data_dir: Path, now: Any) -> None:
    """The queue's head, as the console keeps it after each snapshot (a start paints it)."""
    from casedesk.domain.clock import frozen_clock
    from casedesk.store import LocalStore
    from casedesk.sync.service import CaseService

    store = LocalStore.open(data_dir, freeze_gc=False)
    try:
        service = CaseService(
            profile_name="bench", store=store, backend=None, clock=frozen_clock(now)
        )
        service.keep_queue_head(service.snapshot(), view="all_open")
    finally:
        store.close()


def add_people(data_dir: Path, store_bench: Any) -> None:
    """The reviewers and queues the cases name, "me" (one of them), and a finished sync."""
    import uuid

    from casedesk.domain.enums import Role
    from casedesk.domain.people import Queue, User
    from casedesk.store import LocalStore, SyncState

    organization = uuid.UUID(int=900)
    users = [
        User(
            id=user_id,
            name=name,
            email=f"reviewer{number}@example.com",
            roles=[Role.REVIEWER],
            organization_id=organization,
        )
        for number, (user_id, name) in enumerate(store_bench.REVIEWERS)
    ]
    queues = [
        Queue(id=queue_id, name=name, workflow="kyb", sla_hours=SLA_HOURS)
        for queue_id, name in store_bench.QUEUES
    ]
    store = LocalStore.open(data_dir, freeze_gc=False)
    try:
        with store.cache.batch():
            store.cache.set_users(users)
            store.cache.set_queues(queues)
            store.cache.set_me(users[0])
            store.cache.set_sync_state(
                SyncState(last_sync_at=store_bench.T0, updated_since=store_bench.T0)
            )
    finally:
        store.close()


# -- child processes -----------------------------------------------------------------------


def child(argv: list[str]) -> None:
    """Entry point of a fresh interpreter: `build|interact <data_dir> …`, `cold <kind> …`."""
    parser = argparse.ArgumentParser(prog="console_bench child")
    parser.add_argument("mode", choices=("build", "head", "cold", "interact", "interact-minimal"))
    parser.add_argument("target", help="console|minimal for cold; else the data dir")
    parser.add_argument("--data-dir")
    parser.add_argument("--size", type=int)
    parser.add_argument("--now")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--profile", help="phase to profile: cold, a phase, or memory")
    parser.add_argument("--profile-out")
    args = parser.parse_args(argv)
    if args.mode == "build":
        build_child(Path(args.target), args.size)
    elif args.mode == "head":
        from datetime import datetime

        keep_head(Path(args.target), datetime.fromisoformat(args.now))
    elif args.mode == "cold":
        cold_child(args)
    elif args.mode == "interact-minimal":
        minimal_interact_child()
    else:
        interact_child(args)
    sys.stdout.flush()
    os._exit(0)  # the figures are out: skip tearing down tens of thousands of rows


def mark(label: str) -> None:
    """Tell the parent a milestone was reached (unbuffered: it timestamps the line).

    With the CPU time the process has used so far, which other processes on a
    busy machine do not inflate.
    """
    os.write(1, f"{label} {time.process_time() * 1000:.1f}\n".encode())


def console_app(data_dir: str, now: str) -> Any:
    """The console over the cache in `data_dir`, offline, its clock frozen at `now`.

    Started as `casedesk` starts it: the directory locked, the queue's head (kept by
    an earlier run, see `domain.queue_head`) painted, the store opened behind it.
    """
    from datetime import datetime
    from pathlib import Path

    from casedesk.domain.clock import frozen_clock
    from casedesk.store.files import lock_data_dir
    from casedesk.store.head_file import load_head
    from casedesk.tui.app import CasedeskApp
    from casedesk.tui.settings import ConsoleSettings

    mark("imported")
    clock = frozen_clock(datetime.fromisoformat(now))
    root = Path(data_dir)
    lock = lock_data_dir(root)
    settings = ConsoleSettings(profile="bench", sync_on_start=False)

    async def opening() -> Any:
        import asyncio

        from casedesk.store import LocalStore
        from casedesk.sync.service import CaseService

        store = await asyncio.to_thread(LocalStore.open, root, lock=lock)
        return CaseService(profile_name="bench", store=store, backend=None, clock=clock)

    head = load_head(root, view=settings.start_view, now=clock())
    mark("opened")
    return CasedeskApp(None, settings, opening=opening, head=head, clock=clock)


def new_profiler() -> Any:
    from pyinstrument import Profiler

    # async_mode disabled: sample whatever the loop runs, not one task.
    return Profiler(interval=0.0005, async_mode="disabled")


def cold_child(args: argparse.Namespace) -> None:
    """Import, build, run headless; print `painted` at the first frame showing the content."""
    import gc

    profiler = new_profiler() if args.profile == "cold" else None
    gc_log = GcLog(lambda: profiler is not None and profiler.is_running)
    gc.callbacks.append(gc_log)
    if profiler is not None:
        profiler.start()
    import asyncio

    from textual.screen import Screen

    if args.target == "console":
        app = console_app(args.data_dir, args.now)
        from casedesk.tui.screens.queue import QueueScreen

        def painted(screen: Any) -> bool:
            return isinstance(screen, QueueScreen) and bool(screen.table.rows)
    else:
        app = minimal_app()

        def painted(screen: Any) -> bool:  # noqa: ARG001 - any first frame
            return True

    shown: list[asyncio.Event] = []
    original = Screen._compositor_refresh

    def refresh(screen: Any) -> None:
        original(screen)
        if shown and not shown[0].is_set() and screen is screen.app.screen and painted(screen):
            mark("painted")
            shown[0].set()
            if profiler is not None:
                profiler.stop()

    Screen._compositor_refresh = refresh  # type: ignore[method-assign]

    async def run() -> None:
        shown.append(asyncio.Event())
        async with app.run_test(size=SCREEN):
            await shown[0].wait()

    asyncio.run(run())
    if profiler is not None:
        write_profile(profiler, args.profile_out, gc_log.watched)


def minimal_app() -> Any:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    mark("imported")

    class Minimal(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("casedesk", markup=False)

    return Minimal()


class FrameLog:
    """When each frame of the top screen finished rendering, and what it showed."""

    def __init__(self, probe: Callable[[Any], Hashable]) -> None:
        self.probe = probe
        self.frames: list[tuple[float, float, Hashable]] = []
        """(wall clock, process CPU time, what it showed) per frame."""
        self.on_frame: Callable[[Hashable], None] | None = None

    def install(self) -> None:
        from textual.screen import Screen

        original = Screen._compositor_refresh
        log = self

        def refresh(screen: Any) -> None:
            original(screen)
            if screen is screen.app.screen:
                now = time.perf_counter(), time.process_time()
                log.frames.append((*now, log.probe(screen)))
                if log.on_frame is not None:
                    log.on_frame(log.frames[-1][2])

        Screen._compositor_refresh = refresh  # type: ignore[method-assign]


@dataclass
class Press:
    latency: float | None
    """Key posted → first frame showing the state the key led to (None: no such frame)."""
    cpu: float | None
    """Process CPU time over the same span (other processes on the machine do not count)."""
    round_trip: float
    """Pilot `press` + `pause`: mostly Pilot's own idle waits."""


class Presser:
    """Presses keys under Pilot and times each one from key to the frame showing its result."""

    def __init__(self, app: Any, pilot: Any, frames: FrameLog) -> None:
        self.app = app
        self.pilot = pilot
        self.frames = frames
        self.profiler: Any = None
        """When set, it samples the presses (only them: not the phase's own checks)."""

    async def press(
        self,
        key: str,
        *,
        profiled: bool = True,
        profile_until: Callable[[Hashable], bool] | None = None,
    ) -> Press:
        """Press `key`; with a profiler, sample until the frame `profile_until` accepts."""
        profiler = self.profiler if profiled else None
        if profiler is not None:
            profiler.start()  # sessions of successive starts are combined
            if profile_until is not None:

                def stop_at(shown: Hashable) -> None:
                    if profiler.is_running and profile_until(shown):
                        profiler.stop()

                self.frames.on_frame = stop_at
        mark_at = len(self.frames.frames)
        started, cpu_started = time.perf_counter(), time.process_time()
        await self.pilot.press(key)
        await self.pilot.pause()
        round_trip = time.perf_counter() - started
        self.frames.on_frame = None
        if profiler is not None and profiler.is_running:
            profiler.stop()
        for _ in range(3):  # the frame may still be on its way
            final = self.frames.probe(self.app.screen)
            frame = next((f for f in self.frames.frames[mark_at:] if f[2] == final), None)
            if frame is not None:
                return Press(frame[0] - started, frame[1] - cpu_started, round_trip)
            await self.pilot.pause()
        return Press(None, None, round_trip)


class Session(Presser):
    """The console under Pilot, with the helpers the phases share."""

    def __init__(self, app: Any, pilot: Any, frames: FrameLog) -> None:
        super().__init__(app, pilot, frames)
        self.queue = app.screen
        self.table = self.queue.table
        self.apply_times: list[float] = []
        self.reloads = 0

        original_apply = self.queue.apply
        original_reload = self.queue.reload

        def timed_apply(keep: Any = None) -> None:
            started = time.perf_counter()
            original_apply(keep=keep)
            self.apply_times.append(time.perf_counter() - started)

        def counted_reload() -> Any:
            self.reloads += 1
            return original_reload()

        self.queue.apply = timed_apply
        self.queue.reload = counted_reload


def queue_probe(app: Any) -> Callable[[Any], Hashable]:
    """What a frame shows, as far as the phases care: rows, cursor, filter, view, screen."""
    from textual.widgets import Input, Tabs

    from casedesk.tui.widgets.filter_bar import FilterBar

    queue = app.screen
    table = queue.table
    bar = queue.query_one(FilterBar)
    field = bar.query_one(Input)
    tabs = queue.query_one(Tabs)

    def probe(screen: Any) -> Hashable:
        if screen is not queue:
            return ("screen", id(screen))
        return (
            id(table.rows),
            table.cursor,
            round(table.scroll_y),
            field.value,
            bar.has_class("-invalid"),
            tabs.active,
        )

    return probe


class GcLog:
    """Every pause of the cyclic GC: its generation and how long it held the loop."""

    def __init__(self, watching: Callable[[], bool] = lambda: False) -> None:
        self.pauses: list[tuple[int, float]] = []
        self.watched = 0.0
        """Seconds of pauses while `watching()` said yes (a profiler was sampling)."""
        self._watching = watching
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        self.pauses.append((info["generation"], seconds))
        if self._watching():
            self.watched += seconds

    def since(self, count: int) -> dict[str, float]:
        pauses = self.pauses[count:]
        return {
            "count": len(pauses),
            "full": sum(generation == 2 for generation, _ in pauses),
            "total": sum(seconds for _, seconds in pauses),
            "longest": max((seconds for _, seconds in pauses), default=0.0),
        }


def interact_child(args: argparse.Namespace) -> None:
    tracing = args.profile == "memory"
    if tracing:
        import tracemalloc

        tracemalloc.start()
    import asyncio
    import gc
    import resource

    profilers: list[Any] = []
    gc_log = GcLog(lambda: any(profiler.is_running for profiler in profilers))
    gc.callbacks.append(gc_log)
    app = console_app(args.target, args.now)
    results: dict[str, Any] = {}
    phases = args.phases.split(",")

    async def run() -> None:
        async with app.run_test(size=SCREEN) as pilot:
            # The head paints first; the figures are of the queue over the open cache.
            while app.queue_screen() is None or app.queue_screen().snapshot is None:
                await asyncio.sleep(0.01)
            await app.workers.wait_for_complete()
            await pilot.pause()
            frames = FrameLog(queue_probe(app))
            frames.install()
            session = Session(app, pilot, frames)
            results["rows"] = len(session.queue.snapshot.rows)
            memory = results["memory"] = {"loaded": memory_now()}
            for phase in phases:
                session.profiler = new_profiler() if args.profile == phase else None
                profilers[:] = [session.profiler] if session.profiler else []
                collected = len(gc_log.pauses)
                results[phase] = await PHASE_RUNNERS[phase](session)
                results[phase]["gc"] = gc_log.since(collected)
                if session.profiler is not None:
                    write_profile(session.profiler, args.profile_out, gc_log.watched)
                memory[phase] = memory_now()
            results["reloads"] = session.reloads

    asyncio.run(run())
    results["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["hwm_mb"] = memory_now()[1]
    if tracing:
        write_memory_profile(args.profile_out)
    print("RESULT " + json.dumps(results))


def minimal_interact_child() -> None:
    """The floor of every key → frame figure: a one-`Static` app whose j/k change its text.

    Timed as the console's presses are, with its peak RSS: Textual's own cost.
    """
    import asyncio
    import resource

    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Counter(App[None]):
        BINDINGS: ClassVar = [("j", "step(1)", "Down"), ("k", "step(-1)", "Up")]
        count = 0

        def compose(self) -> ComposeResult:
            yield Static("0", markup=False)

        def action_step(self, by: int) -> None:
            self.count += by
            self.query_one(Static).update(str(self.count))

    app = Counter()
    results: dict[str, Any] = {}

    async def run() -> None:
        async with app.run_test(size=SCREEN) as pilot:
            await pilot.pause()
            frames = FrameLog(lambda _screen: app.count)
            frames.install()
            presser = Presser(app, pilot, frames)
            presses = [await presser.press(key) for key in CURSOR_KEYS[::2]]
            results["keys"] = summarize(presses, wrong=0)

    asyncio.run(run())
    results["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["hwm_mb"] = memory_now()[1]
    print("RESULT " + json.dumps(results))


def memory_now() -> tuple[float, float]:
    """This process's resident and peak resident memory now, in MB (Linux /proc)."""
    fields: dict[str, list[str]] = {}
    status = Path("/proc/self/status")
    for line in status.read_text().splitlines() if status.exists() else ():
        name, _, rest = line.partition(":")
        fields[name] = rest.split()

    def megabytes(key: str) -> float:
        return float(fields[key][0]) / 1024 if key in fields else math.nan

    return megabytes("VmRSS"), megabytes("VmHWM")


async def cursor_phase(session: Session) -> dict[str, Any]:
    """j/k through the rows of "All open" (scrolling past the first screenful)."""
    table = session.table
    table.set_cursor(0)
    await session.pilot.pause()
    presses, wrong = [], 0
    for key in CURSOR_KEYS:
        expected = table.cursor + (1 if key == "j" else -1)
        presses.append(await session.press(key))
        wrong += table.cursor != expected
    return summarize(presses, wrong=wrong)


async def open_case_phase(session: Session) -> dict[str, Any]:
    """Enter on a row (spread over the view) → the case screen's first frame; Esc back."""
    from casedesk.tui.screens.case import CaseScreen

    app, pilot, table = session.app, session.pilot, session.table
    presses, back, wrong = [], [], 0
    # Cases whose chat, escalations, overrides and log are cached (all rows if none are).
    # Looked for among my cases, which a sync prefetches: asking every row's shard would
    # parse a shard per row (minutes at 50k).
    cache = app.service.store.cache
    me = app.service.me()
    cached = [
        index
        for index, row in enumerate(table.rows)
        if me is not None
        and row.assignee_id == me.id
        and cache.fetched_revision(row.id) is not None
    ] or list(range(len(table.rows)))
    for number in range(OPEN_CASES):
        table.set_cursor(cached[(number * 7919) % len(cached)])
        await pilot.pause()
        wanted = table.current_id
        presses.append(await session.press("enter", profile_until=shows_another_screen))
        screen = app.screen
        wrong += not (isinstance(screen, CaseScreen) and screen.case_id == wanted)
        await app.workers.wait_for_complete()
        back.append(await session.press("escape", profiled=False))
        # Back on the queue it re-snapshots the cache: let that finish before the next case.
        await app.workers.wait_for_complete()
        await pilot.pause()
        wrong += app.screen is not session.queue
    return {
        **summarize(presses, wrong=wrong),
        "back": [p.latency for p in back if p.latency is not None],
        "back_cpu": [p.cpu for p in back if p.cpu is not None],
    }


def shows_another_screen(shown: Hashable) -> bool:
    return isinstance(shown, tuple) and shown[0] == "screen"


async def views_phase(session: Session) -> dict[str, Any]:
    """Keys 1…8, each view four times; each must show as many rows as its tab counts."""
    from casedesk.domain.views import VIEWS

    queue = session.queue
    presses, wrong = [], 0
    for key in VIEW_KEYS:
        presses.append(await session.press(key))
        view = VIEWS[int(key) - 1].key
        wrong += queue.view != view or len(session.table.rows) != queue.snapshot.counts[view]
    return summarize(presses, wrong=wrong)


async def filter_phase(session: Session) -> dict[str, Any]:
    """`/`, then each query typed a character at a time; Esc clears it between queries."""
    from casedesk.domain.query import QueryError, parse_query

    queue, pilot, table = session.queue, session.pilot, session.table
    presses, wrong, refilters = [], 0, 0
    work: list[float] = []
    select: list[float] = []
    for text in QUERIES:
        await pilot.press("slash")
        await pilot.pause()
        for typed_count in range(1, len(text) + 1):
            before = table.rows
            applied = len(session.apply_times)
            presses.append(await session.press(text[typed_count - 1]))
            work.extend(session.apply_times[applied:])
            snapshot = queue.snapshot
            try:
                query = parse_query(text[:typed_count], snapshot.context)
            except QueryError:
                expected = before  # a bad query keeps the last good result
            else:
                started = time.perf_counter()
                expected = snapshot.select(query, queue.view)
                select.append(time.perf_counter() - started)
                refilters += 1
            shown_ids = [row.id for row in table.rows]
            wrong += shown_ids != [row.id for row in expected]
        await pilot.press("escape")
        await pilot.pause()
    return {
        **summarize(presses, wrong=wrong),
        "refilters": refilters,
        "apply": work,
        "select": select,
    }


PHASE_RUNNERS: dict[str, Callable[[Session], Any]] = {
    "cursor": cursor_phase,
    "open_case": open_case_phase,
    "views": views_phase,
    "filter": filter_phase,
}


def summarize(presses: Sequence[Press], *, wrong: int) -> dict[str, Any]:
    return {
        "latency": [p.latency for p in presses if p.latency is not None],
        "cpu": [p.cpu for p in presses if p.cpu is not None],
        "no_frame": sum(p.latency is None for p in presses),
        "round_trip": [p.round_trip for p in presses],
        "wrong": int(wrong),
    }


# -- profiles ------------------------------------------------------------------------------

IDLE_FILES = ("selectors.py",)
"""Where the loop waits for something to do: not work."""


def write_profile(profiler: Any, path: str, gc_seconds: float) -> None:
    """Self time and (for casedesk code) inclusive time per function, as shares of busy time."""
    root = profiler.last_session.root_frame()
    own: dict[str, float] = {}
    inclusive: dict[str, float] = {}
    packages: dict[str, float] = {}
    idle = 0.0

    def walk(frame: Any, on_stack: frozenset[str], package: str) -> None:
        nonlocal idle
        if frame.is_synthetic:
            return
        if (frame.file_path or "").endswith(IDLE_FILES):
            idle += frame.time  # the loop's poll and what it waits in
            return
        short = frame.file_path_short or "<built-in>"
        if not short.startswith("<"):  # built-ins count for the code that called them
            package = short.split("/")[0].removesuffix(".py")
        name = f"{frame.function}  {short}:{frame.line_no}"
        own[name] = own.get(name, 0.0) + frame.total_self_time
        packages[package] = packages.get(package, 0.0) + frame.total_self_time
        if "casedesk/" in (frame.file_path or "") and name not in on_stack:
            inclusive[name] = inclusive.get(name, 0.0) + frame.time
        for sub in frame.children:
            walk(sub, on_stack | {name}, package)

    walk(root, frozenset(), "?")
    busy = max(root.time - idle, 1e-9)

    def top(table: dict[str, float]) -> list[tuple[str, float, float]]:
        ranked = sorted(table.items(), key=lambda item: item[1], reverse=True)[:12]
        return [(name, seconds, seconds / busy) for name, seconds in ranked]

    summary = {
        "wall": root.time,
        "busy": busy,
        "gc": gc_seconds,
        "packages": top(packages)[:8],
        "self": top(own),
        "casedesk": top(inclusive),
    }
    Path(path).write_text(json.dumps(summary))
    # The whole call tree too: `pyinstrument --load <path>.pyisession` shows it.
    profiler.last_session.save(f"{path}.pyisession")


def write_memory_profile(path: str) -> None:
    import tracemalloc

    snapshot = tracemalloc.take_snapshot()
    current, peak = tracemalloc.get_traced_memory()
    by_file = snapshot.statistics("filename")[:12]
    by_line = snapshot.statistics("lineno")[:12]
    summary = {
        "current_mb": current / 2**20,
        "peak_mb": peak / 2**20,
        "files": [(str(s.traceback), s.size / 2**20) for s in by_file],
        "lines": [(str(s.traceback), s.size / 2**20) for s in by_line],
    }
    Path(path).write_text(json.dumps(summary))


PROFILE_WINDOWS = {
    "cold": "spawn → first frame with queue rows",
    "open_case": "each Enter → the case screen's first frame",
    "cursor": "each key press + Pilot's pause",
    "views": "each key press + Pilot's pause",
    "filter": "each key press + Pilot's pause",
}


def print_profile(phase: str, path: Path) -> None:
    summary = json.loads(path.read_text())
    if phase == "memory":
        print(
            f"    tracemalloc at the end: {summary['current_mb']:.0f} MB held,"
            f" peak {summary['peak_mb']:.0f} MB; biggest holders by file:"
        )
        for where, megabytes in summary["files"]:
            print(f"      {megabytes:7.1f} MB  {where}")
        print("    by line:")
        for where, megabytes in summary["lines"][:8]:
            print(f"      {megabytes:7.1f} MB  {where}")
        return
    print(
        f"    pyinstrument over {PROFILE_WINDOWS[phase]}: {summary['wall']:.2f} s,"
        f" {summary['busy']:.2f} s of it busy (shares below are of busy time)"
    )
    print(
        f"    cyclic GC pauses inside it: {summary['gc'] * 1e3:,.0f} ms,"
        f" {summary['gc'] / summary['busy']:.0%} of busy (pyinstrument charges them to"
        " whichever frame was allocating when they struck)"
    )
    print(
        "    own time by package: "
        + ", ".join(f"{name} {share:.0%}" for name, _, share in summary["packages"])
    )
    print("    top frames by own time:")
    for name, seconds, share in summary["self"]:
        print(f"      {share:6.1%} {seconds * 1e3:8.1f} ms  {name}")
    print("    casedesk functions, time inside them:")
    for name, seconds, share in summary["casedesk"]:
        print(f"      {share:6.1%} {seconds * 1e3:8.1f} ms  {name}")


# -- the parent ----------------------------------------------------------------------------


def spawn(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-c", CHILD_BOOT, str(HERE), *args]


def child_env(root: Path) -> dict[str, str]:
    """Children read and write bytecode under `root`, as an installed console has its .pyc.

    (A checkout run with PYTHONDONTWRITEBYTECODE would compile casedesk on every start.)
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    return env


def cold_run(
    kind: str, data_dir: Path, now: str, profile_out: Path | None = None
) -> dict[str, tuple[float, float]]:
    """Spawn one cold start; ms from spawn to each milestone the child printed, and CPU ms."""
    command = [kind, "--data-dir", str(data_dir), "--now", now]
    if profile_out is not None:
        command += ["--profile", "cold", "--profile-out", str(profile_out)]
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            spawn(["cold", *command]),
            stdout=subprocess.PIPE,
            stderr=errors,
            env=child_env(data_dir.parent),
        )
        assert process.stdout is not None
        milestones = {}
        for line in process.stdout:
            label, cpu = line.decode().split()
            milestones[label] = ((time.perf_counter() - started) * 1000, float(cpu))
        if process.wait() != 0 or "painted" not in milestones:
            errors.seek(0)
            raise RuntimeError(f"cold {kind} child failed:\n{errors.read().decode()}")
    return milestones


def interact_run(
    data_dir: Path,
    now: str,
    *,
    phases: Sequence[str] = PHASES,
    profile: str | None = None,
    profile_out: Path | None = None,
) -> dict[str, Any]:
    command = ["interact", str(data_dir), "--now", now, "--phases", ",".join(phases)]
    if profile is not None:
        command += ["--profile", profile, "--profile-out", str(profile_out)]
    done = subprocess.run(
        spawn(command),
        capture_output=True,
        text=True,
        check=False,
        env=child_env(data_dir.parent),
    )
    result = next(
        (line[7:] for line in done.stdout.splitlines() if line.startswith("RESULT ")), None
    )
    if done.returncode != 0 or result is None:
        raise RuntimeError(f"interaction child failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(result))


def minimal_interact_run(root: Path) -> dict[str, Any]:
    """Key → frame latencies and peak RSS of the minimal app (the floors of those figures)."""
    done = subprocess.run(
        spawn(["interact-minimal", "-"]),
        capture_output=True,
        text=True,
        check=False,
        env=child_env(root),
    )
    result = next(
        (line[7:] for line in done.stdout.splitlines() if line.startswith("RESULT ")), None
    )
    if done.returncode != 0 or result is None:
        raise RuntimeError(f"minimal interaction child failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(result))


def ms(seconds: Sequence[float], q: int) -> float:
    """The `q`th percentile, in milliseconds."""
    if not seconds:
        return math.nan
    if len(seconds) == 1:
        return seconds[0] * 1000
    return statistics.quantiles(seconds, n=100, method="inclusive")[q - 1] * 1000


@dataclass
class Measured:
    figure: Figure
    value: float

    def goal(self, size: int) -> float | None:
        return nearest(size, self.figure.goal)

    def floor(self, size: int) -> float | None:
        return nearest(size, self.figure.floor)

    def verdict(self, size: int) -> str:
        goal = self.goal(size)
        if goal is None:
            return ""
        return "PASS" if self.value <= goal else "MISS"


ColdRun = dict[str, tuple[float, float]]
"""Milestone → (ms from spawn, CPU ms of the child by then)."""


def median(runs: list[ColdRun], label: str, *, cpu: bool = False) -> float:
    return statistics.median(run[label][cpu] for run in runs)


def bench_size(size: int, root: Path, runs: int) -> list[Measured]:
    data_dir, now, built = prepare_cache(root, size)
    how = "reused" if built is None else f"built in {built:.1f} s"
    print(f"\n## {size:,} cases (cache {data_dir}, {how}; clock frozen at {now})")

    for kind in ("minimal", "console"):  # warm-up: bytecode written, files in the page cache
        cold_run(kind, data_dir, now)
    console: list[ColdRun] = []
    minimal: list[ColdRun] = []
    for _ in range(runs):  # interleaved, so drift on a noisy machine hits both alike
        minimal.append(cold_run("minimal", data_dir, now))
        console.append(cold_run("console", data_dir, now))
    result = interact_run(data_dir, now)

    values = {
        "cold_start_ratio": median(console, "painted") / median(minimal, "painted"),
        "filter_p50_ms": ms(result["filter"]["latency"], 50),
        "filter_p95_ms": ms(result["filter"]["latency"], 95),
        "cursor_p95_ms": ms(result["cursor"]["latency"], 95),
        "open_case_p95_ms": ms(result["open_case"]["latency"], 95),
        "view_switch_p95_ms": ms(result["views"]["latency"], 95),
        "rss_mb": result["rss_mb"],
    }
    measured = [Measured(figure, values[figure.key]) for figure in FIGURES]
    print_table(size, measured)
    print_cold_start(console, minimal)
    print_interactions(result)
    return measured


def print_cold_start(console: list[ColdRun], minimal: list[ColdRun]) -> None:
    def milestones(runs: list[ColdRun]) -> str:
        return ", ".join(
            f"{label} {median(runs, label):,.0f} ms (CPU {median(runs, label, cpu=True):,.0f})"
            for label in runs[0]
        )

    cpu_ratio = median(console, "painted", cpu=True) / median(minimal, "painted", cpu=True)
    print(
        f"  cold start, median of {len(console)}, from spawn (measured with run_test in a"
        " fresh process: headless, no terminal write; painted = first frame with queue rows):"
        f"\n    console: {milestones(console)}\n    minimal app: {milestones(minimal)}"
        f"\n    CPU ratio {cpu_ratio:.2f}x (other processes on the machine inflate wall"
        " times, not CPU)"
    )


def print_interactions(result: dict[str, Any]) -> None:
    for phase, label in (
        ("filter", "filter keystrokes"),
        ("cursor", "cursor j/k"),
        ("open_case", "open case (Enter)"),
        ("views", "view switch 1…8"),
    ):
        data = result[phase]
        notes = [f"{data['wrong']} wrong"]
        if data["no_frame"]:
            notes.append(f"{data['no_frame']} without a frame")
        pauses = data["gc"]
        if pauses["count"]:
            notes.append(
                f"GC {pauses['count']:.0f} pauses, {pauses['full']:.0f} full, total"
                f" {pauses['total'] * 1000:.0f} ms, longest {pauses['longest'] * 1000:.0f} ms"
            )
        print(
            f"  {label}: {len(data['round_trip'])} presses ({', '.join(notes)});"
            f" key → frame p50 {ms(data['latency'], 50):.1f} / p95"
            f" {ms(data['latency'], 95):.1f} ms (CPU p50 {ms(data['cpu'], 50):.1f} / p95"
            f" {ms(data['cpu'], 95):.1f}); Pilot press+pause p50"
            f" {ms(data['round_trip'], 50):.0f} / p95 {ms(data['round_trip'], 95):.0f} ms"
        )
    data = result["filter"]
    print(
        "  filter work alone: QueueScreen.apply (select + set_rows) p50"
        f" {ms(data['apply'], 50):.1f} / p95 {ms(data['apply'], 95):.1f} ms over"
        f" {len(data['apply'])} calls; QueueSnapshot.select p50 {ms(data['select'], 50):.1f}"
        f" / p95 {ms(data['select'], 95):.1f} ms ({data['refilters']} of"
        f" {len(data['round_trip'])} keystrokes re-filter; the rest are incomplete terms)"
    )
    data = result["open_case"]
    print(
        "  back to the queue (Esc) → its rows re-snapshotted and shown: p50"
        f" {ms(data['back'], 50):.0f} / p95 {ms(data['back'], 95):.0f} ms"
        f" (CPU p50 {ms(data['back_cpu'], 50):.0f} / p95 {ms(data['back_cpu'], 95):.0f})"
    )
    print(
        "  memory, resident / peak MB: "
        + "; ".join(
            f"{stage} {now:,.0f} / {peak:,.0f}" for stage, (now, peak) in result["memory"].items()
        )
    )
    if abs(result["rss_mb"] - result["hwm_mb"]) > 0.1 * result["hwm_mb"]:
        print(
            f"  note: ru_maxrss {result['rss_mb']:,.0f} MB but VmHWM {result['hwm_mb']:,.0f} MB"
            " (ru_maxrss also counts what the process was before exec)"
        )
    if result["reloads"]:
        print(
            f"  note: the queue re-snapshotted the cache {result['reloads']} time(s) during"
            " the interactions (on each return from a case, and on the minute tick)"
        )


def print_table(size: int, measured: list[Measured]) -> None:
    print(f"  {'figure':<20} {'value':>10} {'goal':>10} {'floor':>10} {'/floor':>7}")
    for item in measured:
        unit = item.figure.unit
        goal, floor = item.goal(size), item.floor(size)
        ratio = item.value / floor if floor else None
        print(
            f"  {item.figure.key:<20} {fmt(item.value, unit):>10}"
            f" {('<= ' + fmt(goal, unit)) if goal is not None else '-':>10}"
            f" {fmt(floor, unit) if floor is not None else '-':>10}"
            f" {f'{ratio:.2f}' if ratio is not None else '-':>7}  {item.verdict(size)}"
        )


def fmt(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def profile_misses(size: int, root: Path, measured: list[Measured]) -> None:
    data_dir, now, _ = prepare_cache(root, size)
    phases = sorted(
        {PROFILED_PHASE[m.figure.key] for m in measured if m.verdict(size) == "MISS"},
        key=["cold", *PHASES, "memory"].index,
    )
    for phase in phases:
        keys = [k for k, p in PROFILED_PHASE.items() if p == phase]
        print(f"\n  profile of {phase} at {size:,} cases (for {', '.join(keys)}):")
        out = root / f"profile-{size}-{phase}.json"
        if phase == "cold":
            cold_run("console", data_dir, now, profile_out=out)
        elif phase == "memory":
            interact_run(data_dir, now, profile="memory", profile_out=out)
        else:
            interact_run(data_dir, now, phases=[phase], profile=phase, profile_out=out)
        print_profile(phase, out)


def records(size: int, measured: list[Measured]) -> list[dict[str, Any]]:
    rows = []
    for item in measured:
        floor = item.floor(size)
        rows.append(
            {
                "size": size,
                "figure": item.figure.key,
                "value": round(item.value, 3),
                "unit": item.figure.unit,
                "floor": floor,
                "ratio": round(item.value / floor, 3) if floor else None,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,50000", help="comma-separated case counts")
    parser.add_argument("--runs", type=int, default=5, help="cold starts of each app per size")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--keep", type=Path, help="build caches here and reuse them next time")
    parser.add_argument("--profile", action="store_true", help="profile every MISS")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]

    from importlib.metadata import version

    # The parent imports neither textual nor casedesk: it stays small (see prepare_cache).
    print(
        f"# casedesk console benchmark - python {sys.version.split()[0]},"
        f" textual {version('textual')}, {os.cpu_count()} cores"
    )
    print(
        f"headless: App.run_test(size={SCREEN}) in fresh processes (no terminal write);"
        " latencies are key posted → first frame showing the result."
    )
    all_records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="casedesk-console-bench-") as temp:
        root = args.keep or Path(temp)
        root.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            measured = bench_size(size, root, args.runs)
            all_records += records(size, measured)
            if args.profile:
                profile_misses(size, root, measured)
    print("\nfloors (research/perf-floors.md):")
    for figure in FIGURES:
        print(f"  {figure.key}: {figure.source}")
    if args.json:
        args.json.write_text(json.dumps(all_records, indent=2) + "\n")
        print(f"wrote {len(all_records)} records to {args.json}")


if __name__ == "__main__":
    main()
