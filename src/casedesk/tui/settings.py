"""What the console needs to know about its profile (built by cli.py from the config)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsoleSettings:
    profile: str
    sync_interval_seconds: float = 60.0
    theme: str = "dark"
    start_view: str = "all_open"
    sync_on_start: bool = True
