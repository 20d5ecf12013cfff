"""Running `casedesk serve` as a child process on a free 127.0.0.1 port (demo, tests, benches)."""

import json
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

START_TIMEOUT_S = 120.0


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServerProcess:
    """A `casedesk serve` child: its URL, data dir and the demo users it seeded."""

    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    port: int

    def demo_users(self) -> list[dict[str, Any]]:
        users: list[dict[str, Any]] = json.loads((self.data_dir / "demo-keys.json").read_text())[
            "users"
        ]
        return users

    def stop(self) -> None:
        """Ask it to stop (as Ctrl+C would), then insist."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    data_dir: Path,
    *extra: str,
    demo_cases: int | None = None,
    seed: int = 0,
    port: int | None = None,
    log: IO[bytes] | None = None,
    timeout: float = START_TIMEOUT_S,
) -> ServerProcess:
    """Start `casedesk serve` (with `--demo` when `demo_cases` is given); return once it answers."""
    chosen = port or free_port()
    command = [
        sys.executable, "-m", "casedesk", "serve",
        "--port", str(chosen), "--data-dir", str(data_dir), *extra,
    ]  # fmt: skip
    if demo_cases is not None:
        command += ["--demo", "--demo-cases", str(demo_cases), "--seed", str(seed)]
    process = subprocess.Popen(
        command, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT if log else None
    )
    base_url = f"http://127.0.0.1:{chosen}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"casedesk serve exited with code {process.returncode}")
        try:
            if httpx.get(f"{base_url}/openapi.json", timeout=1).status_code == 200:
                return ServerProcess(base_url, data_dir, process, chosen)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"casedesk serve did not answer within {timeout:.0f} s")
