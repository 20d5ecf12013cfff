"""Figures of the reliability scenarios: one record per scenario, merged into a JSON report."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True)
class Tier:
    """How hard each scenario pushes: `count(smoke, full)` picks one of the two."""

    full: bool
    seed: int = 20261123

    @property
    def name(self) -> str:
        return "full" if self.full else "smoke"

    def count(self, smoke: int, full: int) -> int:
        return full if self.full else smoke


@dataclass(frozen=True)
class ScaledTier(Tier):
    """A full tier cut down (`CASEDESK_RELIABILITY_SCALE=0.2`): the counts say what ran."""

    scale: float = 1.0

    @property
    def name(self) -> str:
        return "full" if self.scale == 1 else f"full*{self.scale:g}"

    def count(self, smoke: int, full: int) -> int:
        return max(smoke, round(full * self.scale))


@dataclass
class Record:
    """One scenario's figures, as the README quotes them."""

    id: str
    iterations: int = 0
    faults_injected: int = 0
    failures: int = 0
    parts: dict[str, str] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    mark: int = 0
    """`failures` when the running test started (see `counting`)."""

    @property
    def found(self) -> int:
        """Violations counted by the running test."""
        return self.failures - self.mark

    @property
    def figure(self) -> str:
        return "; ".join(self.parts.values())

    def note(self, part: str, text: str) -> None:
        """Set one part of the figure (a scenario with several tests has several parts)."""
        self.parts[part] = text

    def fail(self, what: str) -> None:
        """Count one violation, and keep a few of them to show when the test fails."""
        self.failures += 1
        if len(self.details) < 20:
            self.details.append(what)

    def check(self, ok: bool, what: str) -> bool:
        if not ok:
            self.fail(what)
        return ok

    def as_json(self, tier: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "iterations": self.iterations,
            "faults_injected": self.faults_injected,
            "failures": self.failures,
            "figure": self.figure,
            "tier": tier,
        }


class Recorder:
    """Collects records during the session; `save()` merges them by id into the report file."""

    def __init__(self, path: Path, tier: Tier) -> None:
        self.path = path
        self.tier = tier
        self.records: dict[str, Record] = {}

    def record(self, scenario: str) -> Record:
        if scenario not in self.records:
            self.records[scenario] = Record(scenario)
        return self.records[scenario]

    def save(self) -> None:
        if not self.records:
            return
        try:
            kept = {entry["id"]: entry for entry in orjson.loads(self.path.read_bytes())}
        except (FileNotFoundError, orjson.JSONDecodeError, TypeError, KeyError):
            kept = {}
        for scenario, record in self.records.items():
            kept[scenario] = record.as_json(self.tier.name)
        ordered = sorted(kept.values(), key=lambda entry: _order(entry["id"]))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = orjson.dumps(ordered, option=orjson.OPT_INDENT_2) + b"\n"
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, 0o644)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def _order(scenario: str) -> tuple[int, str]:
    digits = "".join(ch for ch in scenario if ch.isdigit())
    return (int(digits) if digits else 999, scenario)


@contextmanager
def counting(record: Record) -> Iterator[Record]:
    """Run one test of a scenario; it fails if it counted any violation (the details say which)."""
    before, shown = record.failures, len(record.details)
    record.mark = before
    yield record
    found = record.failures - before
    assert found == 0, f"{record.id}: {found} failures; {record.figure}\n" + "\n".join(
        record.details[shown:]
    )
