from collections.abc import Iterator
from pathlib import Path

import pytest

from casedesk.store import LocalStore

from .support import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "profile"


@pytest.fixture
def store(data_dir: Path, clock: Clock) -> Iterator[LocalStore]:
    opened = LocalStore.open(data_dir, clock=clock, freeze_gc=False)
    yield opened
    opened.close()
