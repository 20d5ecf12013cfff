"""The `casedesk` command, run as a user runs it: `python -m casedesk …` in a subprocess.

Reading commands run against the shared `live_server`; commands that change
cases run against this module's own server. Each home is a `CASEDESK_HOME`
with a `config.toml` naming one profile, `work`, so that `--url` can point
the same profile (and its cache) at a closed port to play offline.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "sync"))

from synckit import (
    DEMO_CASES,
    Server,
    action_log,
    all_pages,
    closed_port,
    entries_for,
    environ,
    server_case,
    server_cases,
    start,
    wire,
)

from casedesk.domain.case import Case
from casedesk.store.local import LocalStore

Json = dict[str, Any]
WRONG_KEY = "cdk_wrong_" + "k" * 30
OUTBOX_FIELDS = {
    "id", "case_id", "case_reference", "type", "body", "state", "attempts",
    "next_attempt_at", "last_error", "created_at",
}  # fmt: skip


@dataclass
class Home:
    """A CASEDESK_HOME whose config has one profile, `work`, for the API at `url`."""

    path: Path
    url: str
    key: str

    @property
    def data_dir(self) -> Path:
        return self.path / "data" / "work"

    def run(
        self, *args: str, key: str | None = None, url: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        options = ["--url", url] if url else []
        env = environ(CASEDESK_HOME=str(self.path), CASEDESK_API_KEY=key or self.key)
        return subprocess.run(
            [sys.executable, "-m", "casedesk", "--profile", "work", *options, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def offline(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The same profile and cache, the API out of reach."""
        return self.run(*args, url=f"http://127.0.0.1:{closed_port()}")

    def copy(self, to: Path) -> "Home":
        shutil.copytree(self.path, to)
        return Home(to, self.url, self.key)


def make_home(path: Path, url: str, key: str) -> Home:
    config = path / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'default_profile = "work"\n\n[profiles.work]\nurl = "{url}"\n')
    config.chmod(0o600)
    return Home(path, url, key)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def failed(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode != 0, f"exit 0\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def references(stdout: str) -> list[str]:
    return re.findall(r"^(CAS-\d{6,})\b", stdout, flags=re.MULTILINE)


# -- fixtures -----------------------------------------------------------------------


@dataclass
class Synced:
    home: Home
    first_sync: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def live(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Synced:
    """A home synced once with the shared live server (nothing here changes its cases)."""
    home = make_home(
        tmp_path_factory.mktemp("live") / "home", live_server.base_url, live_server.key("reviewer")
    )
    return Synced(home, home.run("sync"))


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's own server, for the commands that change cases."""
    server = start(tmp_path_factory.mktemp("cli-server"))
    yield server
    server.stop()


@pytest.fixture
def own_home(own: Server, tmp_path: Path) -> Home:
    home = make_home(tmp_path / "home", own.base_url, own.key("reviewer"))
    ok(home.run("sync"))
    return home


def open_reference(home: Home) -> str:
    listed = ok(home.run("cases", "status:open,in_progress", "--json"))
    return str(json.loads(listed.stdout)[0]["reference"])


# -- sync, cases, case --------------------------------------------------------------


def test_sync_prints_the_figures_and_exits_0(live: Synced, live_server: Any) -> None:
    first = ok(live.first_sync)
    # The session server is shared: other tests may have created cases before this one.
    figures = re.fullmatch(
        r"full sync: (\d+) cases in (\d+) pages, \d+ case details, \d+\.\d\d s; "
        r"sent 0, waiting 0, parked 0\n",
        first.stdout,
    )
    assert figures is not None, first.stdout
    cases, pages = int(figures[1]), int(figures[2])
    assert cases >= DEMO_CASES and pages == -(-cases // 200)
    again = ok(live.home.run("sync"))
    assert again.stdout.startswith("incremental sync: "), again.stdout


def test_cases_lists_every_cached_case_of_every_status(live: Synced, live_server: Any) -> None:
    result = ok(live.home.run("cases"))

    with live_server.client(live_server.key("reviewer")) as client:
        on_server = server_cases(client)
    listed = references(result.stdout)
    assert sorted(listed) == sorted(case["reference"] for case in on_server.values())
    statuses = {case["status"] for case in on_server.values()}
    assert {"open", "closed"} <= statuses
    assert f"{len(on_server)} of {len(on_server)} cases" in result.stderr


def test_cases_json_prints_one_array_of_wire_cases_and_notices_on_stderr(
    live: Synced, live_server: Any
) -> None:
    result = ok(live.home.run("cases", "status:open", "--json"))

    printed = json.loads(result.stdout)  # stdout is the JSON and nothing else
    assert isinstance(printed, list) and printed
    with live_server.client(live_server.key("reviewer")) as client:
        expected = server_cases(client, status="open")
    assert {case["id"] for case in printed} == set(expected)
    for case in printed:
        Case.model_validate(case)
        assert case["status"] == "open"
        assert wire(case) == wire(expected[case["id"]])


def test_cases_json_on_an_empty_cache_prints_an_empty_array_and_a_notice(
    live_server: Any, tmp_path: Path
) -> None:
    home = make_home(tmp_path / "home", live_server.base_url, live_server.key("reviewer"))

    result = ok(home.run("cases", "--json"))

    assert json.loads(result.stdout) == []
    assert "casedesk sync" in result.stderr


def test_case_json_prints_the_case_as_the_api_returns_it(live: Synced, live_server: Any) -> None:
    result = ok(live.home.run("case", "CAS-000001", "--json"))

    printed = json.loads(result.stdout)
    assert Case.model_validate(printed).reference == "CAS-000001"
    with live_server.client(live_server.key("reviewer")) as client:
        assert wire(printed) == wire(server_case(client, "CAS-000001"))


@pytest.mark.parametrize(
    ("query", "named"),
    [("frobnicate:1", "frobnicate"), ("risk:extreme", "extreme"), ("status:", "status")],
)
def test_a_bad_query_exits_non_zero_naming_the_term(live: Synced, query: str, named: str) -> None:
    result = failed(live.home.run("cases", query))

    assert named in result.stderr
    assert result.stdout == ""


# -- act and outbox -----------------------------------------------------------------


def test_act_comment_exits_0_and_says_sent(own: Server, own_home: Home) -> None:
    reference = open_reference(own_home)
    body = f"Checked the register at {time.time()}"

    result = ok(own_home.run("act", reference, "comment", "--body", body))

    assert result.stdout.startswith(f"sent: comment on {reference}"), result.stdout
    with own.client(own.key("reviewer")) as client:
        case = server_case(client, reference)
        sent = [e for e in action_log(client, case["id"]) if e["payload"].get("body") == body]
    assert len(sent) == 1 and sent[0]["type"] == "comment"
    assert json.loads(ok(own_home.run("outbox", "--json")).stdout) == []


def test_act_comment_with_files_uploads_them_and_a_missing_one_queues_nothing(
    own: Server, own_home: Home, tmp_path: Path
) -> None:
    reference = open_reference(own_home)
    letter = tmp_path / "letter, signed.pdf"
    letter.write_bytes(b"%PDF signed letter")
    body = f"Signed letter at {time.time()}"

    refused = failed(
        own_home.run("act", reference, "comment", "--body", body, "--file", str(tmp_path / "no"))
    )
    assert "--file" in refused.stderr and "no such file" in refused.stderr
    assert json.loads(ok(own_home.run("outbox", "--json")).stdout) == []

    result = ok(own_home.run("act", reference, "comment", "--body", body, "--file", str(letter)))

    assert result.stdout.startswith(f"sent: comment on {reference}"), result.stdout
    with own.client(own.key("reviewer")) as client:
        case = server_case(client, reference)
        [message] = [
            m for m in all_pages(client, f"/v1/cases/{case['id']}/messages") if m["body"] == body
        ]
        assert [d["name"] for d in message["documents"]] == ["letter, signed.pdf"]
        content = client.get(f"/v1/documents/{message['documents'][0]['id']}/content").content
    assert content == b"%PDF signed letter"


def test_act_with_an_empty_reason_exits_non_zero_naming_the_option_and_queues_nothing(
    own: Server, own_home: Home
) -> None:
    reference = open_reference(own_home)
    with own.client(own.key("reviewer")) as client:
        case_id = server_case(client, reference)["id"]
        before = len(action_log(client, case_id))

    result = failed(own_home.run("act", reference, "escalate", "--reason", ""))

    assert "--reason" in result.stderr
    assert json.loads(ok(own_home.run("outbox", "--json")).stdout) == []
    with own.client(own.key("reviewer")) as client:
        assert len(action_log(client, case_id)) == before


def test_offline_act_queues_says_not_sent_and_the_next_sync_sends_it_once(
    own: Server, own_home: Home
) -> None:
    reference = open_reference(own_home)

    acted = ok(own_home.offline("act", reference, "comment", "--body", "Written on the train"))

    assert "not sent" in acted.stdout, acted.stdout
    (item,) = json.loads(ok(own_home.offline("outbox", "--json")).stdout)
    assert set(item) == OUTBOX_FIELDS
    assert item["state"] == "pending" and item["type"] == "comment"
    assert item["case_reference"] == reference
    assert item["body"]["type"] == "comment" and item["body"]["body"] == "Written on the train"
    assert item["attempts"] == 1 and item["last_error"]["code"] == "unreachable"
    assert item["next_attempt_at"] is not None and item["created_at"]

    synced = ok(own_home.run("sync"))

    assert "sent 1" in synced.stdout, synced.stdout
    assert json.loads(ok(own_home.run("outbox", "--json")).stdout) == []
    with own.client(own.key("reviewer")) as client:
        applied = entries_for(client, item["case_id"], item["body"]["client_action_id"])
    assert len(applied) == 1


def test_offline_cases_and_case_answer_from_the_cache(live: Synced) -> None:
    online = ok(live.home.run("cases"))

    listed = ok(live.home.offline("cases"))
    shown = ok(live.home.offline("case", "CAS-000001"))

    assert references(listed.stdout) == references(online.stdout)
    assert shown.stdout.startswith("CAS-000001")
    assert "offline" in shown.stderr


class CuttingListener:
    """A port that accepts connections and closes them at once: the network cuts every request."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.1)
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


def test_act_makes_one_attempt_to_send_before_it_answers(live: Synced, tmp_path: Path) -> None:
    home = live.home.copy(tmp_path / "home")
    listener = CuttingListener()
    try:
        result = ok(
            home.run(
                "act",
                "CAS-000001",
                "comment",
                "--body",
                "cut",
                url=f"http://127.0.0.1:{listener.port}",
            )
        )
    finally:
        listener.close()

    assert "not sent" in result.stdout
    assert listener.accepted == 1


def test_case_fetches_a_case_created_since_the_last_sync(own: Server, own_home: Home) -> None:
    with own.client(own.key("reviewer")) as client:
        created = client.post(
            "/v1/cases",
            json={"name": "Opened after the sync"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    assert created.status_code == 201, created.text
    reference = created.json()["data"]["reference"]

    result = ok(own_home.run("case", reference, "--json"))

    assert json.loads(result.stdout)["reference"] == reference


# -- keys and locks -----------------------------------------------------------------

COMMANDS = [
    ["sync"],
    ["case", "CAS-000001"],
    ["act", "CAS-000001", "comment", "--body", "with a wrong key"],
    ["cases"],
    ["outbox"],
]


@pytest.mark.parametrize("command", [pytest.param(c, id=c[0]) for c in COMMANDS])
def test_a_wrong_key_exits_non_zero_saying_it_was_refused_without_echoing_it(
    live: Synced, tmp_path: Path, command: list[str]
) -> None:
    home = live.home.copy(tmp_path / "home")

    result = home.run(*command, key=WRONG_KEY)

    assert WRONG_KEY not in result.stdout + result.stderr
    assert WRONG_KEY[4:] not in result.stdout + result.stderr
    failed(result)
    assert "refused the key" in result.stderr


def test_a_missing_key_exits_non_zero_without_a_traceback(live_server: Any, tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", live_server.base_url, "")
    env = environ(CASEDESK_HOME=str(home.path))
    result = subprocess.run(
        [sys.executable, "-m", "casedesk", "sync"], env=env, capture_output=True, text=True
    )

    failed(result)
    assert "CASEDESK_API_KEY" in result.stderr


def test_a_second_process_on_the_same_data_dir_fails_at_once(live: Synced, tmp_path: Path) -> None:
    home = live.home.copy(tmp_path / "home")
    with LocalStore.open(home.data_dir):
        started = time.monotonic()
        result = home.run("cases", timeout=20)
        elapsed = time.monotonic() - started

    failed(result)
    assert f"another casedesk is running (pid {os.getpid()})" in result.stderr
    assert elapsed < 10
    assert result.stdout == ""
