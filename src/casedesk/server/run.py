"""`casedesk serve`: open the database, seed the demo if asked, then listen."""

import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import uvicorn

from casedesk.domain.clock import Clock, frozen_clock, system_clock
from casedesk.server.app import create_app
from casedesk.server.database import Database
from casedesk.server.faults import FaultConfig


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("casedesk-data")
    demo: bool = False
    demo_cases: int = 2000
    seed: int = 0
    faults: FaultConfig = field(default_factory=FaultConfig)
    log_level: str = "warning"
    frozen_now: datetime | None = None
    """Tests and screenshots: seed and serve as if it were always this instant."""

    @property
    def clock(self) -> Clock:
        return system_clock if self.frozen_now is None else frozen_clock(self.frozen_now)


def prepare(options: ServeOptions) -> Database:
    """The database, seeded with demo data first when asked and still empty."""
    options.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    database = Database.in_directory(options.data_dir)
    keys = options.data_dir / "demo-keys.json"
    if options.demo and database.is_empty():
        from casedesk.server.demo import seed_demo

        print(f"seeding demo data: {options.demo_cases} cases per organization…", file=sys.stderr)  # noqa: T201
        keys = seed_demo(
            database,
            data_dir=options.data_dir,
            cases_per_org=options.demo_cases,
            seed=options.seed,
            now=options.clock(),
        )
    if options.demo:
        print(f"demo API keys: {keys}", file=sys.stderr)  # noqa: T201
    return database


def serve(options: ServeOptions) -> None:
    """Seed (when asked), then serve until interrupted."""
    database = prepare(options)
    app = create_app(
        database, data_dir=options.data_dir, faults=options.faults, clock=options.clock
    )
    print(f"casedesk API listening on http://{options.host}:{options.port}", file=sys.stderr)  # noqa: T201
    uvicorn.run(
        app,
        host=options.host,
        port=options.port,
        log_level=options.log_level,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
