"""Talking to `_crashkid.py`: a worker forked per job, killed (or ending itself), heard."""

import os
import signal
import subprocess
import sys
from pathlib import Path

KID = Path(__file__).parent / "_crashkid.py"


class Zygote:
    """A `_crashkid.py` process: imports and test data are built once, each job is a fork."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(KID)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self.read()
        assert line == "ready", line

    def read(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().rstrip("\n")

    def start(self, job: str, directory: Path) -> int:
        """Fork a worker doing `job` in `directory`; its pid, once it says it is ready."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{job} {directory}\n")
        self.process.stdin.flush()
        pid = int(self.read().removeprefix("pid "))
        line = self.read()
        assert line == "ready", line
        return pid

    def wait(self) -> tuple[int, list[str]]:
        """The worker's exit code and what it printed after `ready`."""
        printed = []
        while not (line := self.read()).startswith("exit "):
            printed.append(line)
        return int(line.removeprefix("exit ")), printed

    def kill(self, pid: int) -> list[str]:
        """SIGKILL the worker; what it printed after `ready` (its acknowledgements)."""
        os.kill(pid, signal.SIGKILL)
        code, printed = self.wait()
        assert code == -signal.SIGKILL, code
        return printed

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
