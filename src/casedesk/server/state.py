"""What the app holds for its lifetime: the database, the data dir, the clock, limits."""

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from casedesk.domain import limits
from casedesk.domain.clock import Clock, system_clock
from casedesk.server.database import Database
from casedesk.server.faults import FaultConfig
from casedesk.server.idempotency import InFlight


@dataclass
class ServerState:
    database: Database
    data_dir: Path
    clock: Clock = system_clock
    document_max_bytes: int = limits.DOCUMENT_MAX_BYTES
    faults: FaultConfig = field(default_factory=FaultConfig)
    in_flight: InFlight = field(default_factory=InFlight)


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.casedesk
    return state
