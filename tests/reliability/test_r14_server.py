"""R14: the server. Schemathesis against `/openapi.json`, hostile JSON, one key sent by 50 callers
at once, kill -9 under write load (`PRAGMA integrity_check`, keys against effects), and one
caller's key never replaying another caller's response.

Built on tests/server/test_openapi.py (its Schemathesis command line and false positives) and
on synckit's restartable servers.
"""

import json
import random
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from figures import Recorder, Tier, counting
from synckit import Server, action_log, server_cases, start

SCHEMATHESIS_SEED = 20261123
FALSE_POSITIVES = {("ST201", "POST /v1/documents")}  # as tests/server/test_openapi.py


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own: fuzzed, hammered and killed."""
    started = start(tmp_path_factory.mktemp("r14"), cases=5)
    yield started
    started.stop()


def open_case(server: Server, key: str) -> str:
    with server.client(key) as http:
        cases = server_cases(http, status="open,in_progress")
    return str(next(iter(cases)))


def post(http: httpx.Client, path: str, body: Any, key: str | None = None) -> httpx.Response:
    return http.post(path, json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())})


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# -- Schemathesis -------------------------------------------------------------------------


def test_r14_schemathesis_finds_no_failure(
    own: Server, tmp_path: Path, tier: Tier, recorder: Recorder
) -> None:
    examples = tier.count(3, 100)
    record = recorder.record("R14")
    report = tmp_path / "schemathesis.json"
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{own.base_url}/openapi.json",
        "--header", f"X-API-KEY: {own.key('reviewer')}",
        "--exclude-checks", "positive_data_acceptance",
        "--max-examples", str(examples), "--seed", str(SCHEMATHESIS_SEED),
        "--workers", "1", "--generation-database", "none", "--no-color",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    with counting(record):
        if not record.check(report.exists(), f"no report: {run.stdout[-500:]}{run.stderr[-500:]}"):
            return
        result = json.loads(report.read_text())
        for error in result["errors"]:
            record.fail(f"schemathesis error: {str(error)[:200]}")
        found = {
            (failure["code"], operation)
            for failure in result["failures"]
            for operation in failure["operations"]
        }
        for code, operation in sorted(found - FALSE_POSITIVES):
            record.fail(f"schemathesis {code} on {operation}")
        cases = result.get("statistic", result.get("statistics", {}))
        generated = cases.get("total", {}).get("cases", 0) if isinstance(cases, dict) else 0
    record.iterations += examples
    record.note(
        "schemathesis",
        f"schemathesis, every check but positive_data_acceptance, {examples} examples per "
        f"operation{f' ({generated} cases)' if generated else ''}: "
        f"{len(found - FALSE_POSITIVES)} unique failures",
    )


# -- hostile JSON ---------------------------------------------------------------------------


def hostile_requests(case_id: str) -> list[tuple[str, str, bytes, dict[str, str]]]:
    """(name, path, body, headers): what a hostile or broken caller may send."""
    actions, cases = f"/v1/cases/{case_id}/actions", "/v1/cases"
    json_type = {"Content-Type": "application/json"}

    comment_of = b'{"type":"comment","body":%s}'
    deep = b"[" * 10_000 + b"]" * 10_000
    score_of = b'{"name":"x","custom_properties":{"score":%s}}'
    text = {"Content-Type": "text/plain"}
    items = [
        ("10 MB string", actions, comment_of % (b'"' + b"x" * 10_000_000 + b'"'), json_type),
        ("10,000-deep nesting", actions, comment_of % deep, json_type),
        ("NaN", actions, comment_of % b"NaN", json_type),
        ("Infinity", cases, score_of % b"Infinity", json_type),
        ("5,000-digit integer", cases, score_of % (b"9" * 5000), json_type),
        ("duplicate keys", actions, b'{"type":"comment","body":"one","body":"two"}', json_type),
        ("lone surrogate", actions, comment_of % rb'"a\ud800b"', json_type),
        ("invalid UTF-8", actions, comment_of % b'"\xff\xfe"', json_type),
        ("empty body", actions, b"", json_type),
        ("not JSON", actions, b"type=comment&body=x", json_type),
        ("wrong Content-Type", actions, comment_of % b'"x"', text),
        ("unknown field", actions, b'{"type":"comment","body":"x","admin":true}', json_type),
        ("array body", cases, b"[1, 2, 3]", json_type),
    ]
    keyed = [
        (name, path, data, {**headers, "Idempotency-Key": str(uuid.uuid4())})
        for name, path, data, headers in items
    ]
    good = b'{"type":"comment","body":"bad key"}'
    for name, key in (
        ("empty Idempotency-Key", ""),
        ("256-character Idempotency-Key", "k" * 256),
        ("Idempotency-Key with a control character", "key\x01value"),
        ("non-ASCII Idempotency-Key", "clé"),
    ):
        raw = key.encode("utf-8")  # as bytes: httpx sends them as they are
        headers = {**json_type, "Idempotency-Key": raw}
        keyed.append((name, actions, good, headers))  # type: ignore[arg-type]
    return keyed


def test_r14_hostile_json_is_answered_4xx_never_5xx(
    own: Server, tier: Tier, recorder: Recorder
) -> None:
    rounds = tier.count(1, 10)
    record = recorder.record("R14")
    key = own.key("reviewer")
    case_id = open_case(own, key)
    assert own.process is not None
    pid = own.process.pid
    before = rss_kb(pid)
    statuses: Counter[int] = Counter()
    sent = 0
    with counting(record), own.client(key) as http:
        for _ in range(rounds):
            for name, path, data, headers in hostile_requests(case_id):
                sent += 1
                try:
                    answer = http.post(path, content=data, headers=headers)
                except httpx.HTTPError as error:  # a header httpx itself refuses to send
                    if "Idempotency-Key" in name:
                        statuses[0] += 1
                        continue
                    record.fail(f"{name}: {error!r}")
                    continue
                statuses[answer.status_code] += 1
                record.check(400 <= answer.status_code < 500, f"{name}: {answer.status_code}")
                record.check(own.running, f"{name}: the server died")
                record.check(http.get("/v1/me").status_code == 200, f"{name}: no answer after")
        grown = (rss_kb(pid) - before) / 1024
        record.check(grown < 200, f"the server grew {grown:.0f} MB")
    record.iterations += sent
    record.faults_injected += sent
    shown = ", ".join(f"{status or 'not sent'}: {n}" for status, n in sorted(statuses.items()))
    errors = sum(n for status, n in statuses.items() if status >= 500)
    record.note(
        "hostile",
        f"{sent} hostile bodies and headers ({shown}): {errors} 5xx, the server alive after "
        f"each, RSS +{grown:.0f} MB",
    )


# -- one key, fifty callers ----------------------------------------------------------------


def test_r14_fifty_concurrent_requests_with_one_key_apply_once(
    own: Server, tier: Tier, recorder: Recorder
) -> None:
    trials = tier.count(3, 1000)
    record = recorder.record("R14")
    key = own.key("reviewer")
    case_id = open_case(own, key)
    once = 0
    clients = [own.client(key) for _ in range(50)]
    try:
        with counting(record), ThreadPoolExecutor(50) as pool:
            for trial in range(trials):
                idem = str(uuid.uuid4())
                body = {
                    "type": "comment",
                    "body": f"fifty at once {trial}",
                    "client_action_id": idem,
                }
                gate = threading.Barrier(50)

                def send(
                    client: httpx.Client,
                    body: dict[str, Any] = body,
                    idem: str = idem,
                    gate: threading.Barrier = gate,
                ) -> int:
                    gate.wait()
                    return post(client, f"/v1/cases/{case_id}/actions", body, idem).status_code

                codes = Counter(pool.map(send, clients))
                record.check(set(codes) <= {201, 409}, f"trial {trial}: {dict(codes)}")
                with own.client(key) as http:
                    applied = [
                        e for e in action_log(http, case_id) if e["client_action_id"] == idem
                    ]
                once += record.check(len(applied) == 1, f"trial {trial}: {len(applied)} effects")
    finally:
        for client in clients:
            client.close()
    record.iterations += trials
    record.faults_injected += trials * 49
    record.note(
        "one-key",
        f"{trials} trials of 50 concurrent requests with one key: {once}/{trials} with "
        "exactly one effect",
    )


# -- kill -9 under write load ------------------------------------------------------------


@pytest.fixture(scope="module")
def victim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = start(tmp_path_factory.mktemp("r14-kill"), cases=3)
    yield started
    started.stop()


def test_r14_kill_9_under_write_load_leaves_a_sound_database_and_keys_matching_effects(
    victim: Server, tier: Tier, recorder: Recorder
) -> None:
    kills = tier.count(3, 500)
    rng = random.Random(tier.seed + 14)
    record = recorder.record("R14")
    key = victim.key("reviewer")
    with victim.client(key) as http:
        me = http.get("/v1/me").json()["data"]["id"]
    case_id = open_case(victim, key)
    database = victim.data_dir / "casedesk.db"
    acknowledged: set[str] = set()
    sent_keys: set[str] = set()
    sound = 0
    with counting(record):
        for kill in range(kills):
            stop = threading.Event()

            def load(stop: threading.Event = stop) -> None:
                with victim.client(key) as client:
                    while not stop.is_set():
                        idem = str(uuid.uuid4())
                        sent_keys.add(idem)
                        body = {"type": "comment", "body": "load", "client_action_id": idem}
                        try:
                            if (
                                post(client, f"/v1/cases/{case_id}/actions", body, idem).status_code
                                == 201
                            ):
                                acknowledged.add(idem)
                        except httpx.HTTPError:
                            return

            writers = [threading.Thread(target=load) for _ in range(4)]
            for writer in writers:
                writer.start()
            time.sleep(rng.uniform(0.2, 0.8))
            assert victim.process is not None
            victim.process.kill()
            victim.process.wait()
            victim.process = None
            stop.set()
            for writer in writers:
                writer.join()
            with sqlite3.connect(database) as db:
                (check,) = db.execute("PRAGMA integrity_check").fetchone()
                stored = {
                    row[0]
                    for row in db.execute(
                        "SELECT key FROM idempotency_keys WHERE user_id = ?", (me,)
                    )
                }
            sound += record.check(check == "ok", f"kill {kill}: integrity_check {check}")
            victim.start()
            with victim.client(key) as http:
                effects = Counter(
                    e["client_action_id"]
                    for e in action_log(http, case_id)
                    if e["client_action_id"] in sent_keys
                )
            ours = stored & sent_keys
            record.check(
                not (acknowledged - set(effects)), f"kill {kill}: acknowledged actions lost"
            )
            record.check(
                all(effects[k] == 1 for k in ours), f"kill {kill}: a stored key without one effect"
            )
            record.check(set(effects) <= ours, f"kill {kill}: effects without their key")
    record.iterations += kills
    record.faults_injected += kills
    record.note(
        "kill-9",
        f"{kills} kill -9 of the server under 4 writers: {sound}/{kills} integrity_check ok, "
        f"{len(acknowledged)} acknowledged writes all kept, every stored key with exactly one "
        f"effect and every effect with its key ({record.found} violations)",
    )


# -- one caller's key is not another's ----------------------------------------------------


def test_r14_one_callers_key_never_replays_another_callers_response(
    own: Server, tier: Tier, recorder: Recorder
) -> None:
    trials = tier.count(10, 100)
    record = recorder.record("R14")
    first, second = own.key("reviewer"), own.key("both")
    case_id = open_case(own, first)
    crossed = 0
    with counting(record), own.client(first) as a, own.client(second) as b:
        b_id = b.get("/v1/me").json()["data"]["id"]
        for trial in range(trials):
            idem = str(uuid.uuid4())
            body = {"type": "comment", "body": f"same key, two callers {trial}"}
            answer_a = post(a, f"/v1/cases/{case_id}/actions", body, idem)
            answer_b = post(b, f"/v1/cases/{case_id}/actions", body, idem)
            ok = (
                answer_a.status_code == 201
                and answer_b.status_code == 201
                and answer_b.headers.get("Idempotent-Replayed") is None
                and answer_b.json()["data"]["action"]["actor_id"] == b_id
            )
            crossed += not ok
            record.check(ok, f"trial {trial}: {answer_b.status_code} {answer_b.text[:200]}")
    record.iterations += trials
    record.faults_injected += trials
    record.note(
        "cross-caller",
        f"{trials} keys reused by a second caller: {crossed} answered with the first "
        "caller's response",
    )
