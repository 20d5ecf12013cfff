"""The reliability suite: tiers, iteration counts, and the recorder of `reports/reliability.json`.

Every test here is marked `smoke` and runs seeded, with small counts, in CI
(`pytest tests/reliability -m smoke`); with `--full` (registered in
tests/conftest.py) the same tests run with the issue's counts and record into
`reports/reliability-full.json` instead. `CASEDESK_RELIABILITY_SCALE=0.2` with
`--full` runs a fifth of the full counts (the records say `full*0.2`);
`CASEDESK_RELIABILITY_REPORT=path` writes the records elsewhere. Records are
merged by scenario id, so running one scenario keeps the others' records.
"""

import asyncio
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TESTS = HERE.parent
ROOT = TESTS.parent
REPORTS = ROOT / "reports"

# The suites we build on keep their helpers beside their tests; import them as they do.
for folder in (HERE, TESTS / "sync", TESTS / "api", TESTS / "tui", TESTS / "store"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from figures import Recorder, ScaledTier, Tier  # noqa: E402
from kit import close_service, service_for  # noqa: E402
from synckit import Server, start  # noqa: E402
from zygote import Zygote  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every reliability scenario runs in the smoke tier (bigger counts with --full, where a
    scenario may take far longer than the suite's per-test timeout)."""
    full = bool(config.getoption("--full", default=False))
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.smoke)
            if full:
                item.add_marker(pytest.mark.timeout(0))


@pytest.fixture(scope="session")
def tier(request: pytest.FixtureRequest) -> Tier:
    full = bool(request.config.getoption("--full", default=False))
    scale = os.environ.get("CASEDESK_RELIABILITY_SCALE")
    return ScaledTier(full=full, scale=float(scale)) if scale and full else Tier(full=full)


@pytest.fixture(scope="session")
def recorder(tier: Tier) -> Iterator[Recorder]:
    name = "reliability-full.json" if tier.full else "reliability.json"
    path = Path(os.environ.get("CASEDESK_RELIABILITY_REPORT", REPORTS / name))
    kept = Recorder(path, tier)
    yield kept
    kept.save()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This suite's own demo server (its scenarios change cases: not the shared live_server)."""
    started = start(tmp_path_factory.mktemp("reliability-server"), cases=40)
    yield started
    started.stop()


@pytest.fixture(scope="session")
def synced_template(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir synced from `server` as its reviewer; tests copy it (`synced_dir`)."""
    data = tmp_path_factory.mktemp("synced") / "data"

    async def sync() -> None:
        service = service_for(data, server.base_url, server.key("reviewer"))
        try:
            await service.sync()
        finally:
            await close_service(service)

    asyncio.run(sync())
    return data


@pytest.fixture
def synced_dir(synced_template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "synced" / "data"
    shutil.copytree(synced_template, copy)
    return copy


@pytest.fixture(scope="session")
def zygote() -> Iterator[Zygote]:
    """One `_crashkid.py` for the session: its imports and test data are built once."""
    forker = Zygote()
    yield forker
    forker.close()
