"""R4 and R8: the client killed between the server's commit and its own acknowledgement, and
connection resets (plus latency and hangs) during replay, through the in-repo fault proxy.

Effects are counted on the server, over plain HTTP: the action log entries of each
`client_action_id` must number exactly one.
"""

import asyncio
import os
import signal
from pathlib import Path

import httpx
from fault_proxy import FaultProxy, Plan
from figures import Recorder, Tier, counting
from kit import close_service, comment, effects, service_for, write_target
from synckit import Server
from zygote import Zygote

from casedesk.api.retry import RetryPolicy
from casedesk.store.outbox_item import OutboxState


def open_rows(service: object) -> list[object]:
    rows = service.queue("")  # type: ignore[attr-defined]
    return [row for row in rows if row.status.value != "closed"]


# -- R4 -------------------------------------------------------------------------------------


async def test_r4_a_client_killed_after_the_server_committed_replays_to_one_effect(
    server: Server, synced_dir: Path, zygote: Zygote, tier: Tier, recorder: Recorder
) -> None:
    cycles = tier.count(20, 500)
    record = recorder.record("R4")
    work = synced_dir.parent
    key = server.key("reviewer")
    victim: list[int] = []
    killed: list[bytes] = []

    def kill_on_commit(request: bytes) -> None:
        # The server answers only after its transaction committed: kill before the client hears.
        if request.startswith(b"POST ") and victim:
            os.kill(victim.pop(), signal.SIGKILL)
            killed.append(request[:60])

    with FaultProxy("127.0.0.1", server.port, on_response=kill_on_commit) as proxy:
        write_target(work, proxy.base_url, key)
        http = server.client(key)
        case_ids: list[str] = []
        action_ids: list[str] = []
        with counting(record), http:
            for cycle in range(cycles):
                service = service_for(synced_dir, server.base_url, key)
                try:
                    row = open_rows(service)[cycle % 10]
                    queued = await service.act(
                        row.reference, comment(f"R4 cycle {cycle}"), send=False
                    )
                finally:
                    await close_service(service)
                (work / "go").unlink(missing_ok=True)
                pid = await asyncio.to_thread(zygote.start, "push", work)
                victim[:] = [pid]
                (work / "go").touch()
                code, printed = await asyncio.to_thread(zygote.wait)
                if not record.check(
                    code == -signal.SIGKILL, f"cycle {cycle}: not killed ({code} {printed})"
                ):
                    continue
                # The next start: the item caught `sending` is queued again and replayed.
                service = service_for(synced_dir, server.base_url, key)
                try:
                    item = service.store.outbox.get(queued.item.id)
                    record.check(
                        item.state is OutboxState.QUEUED, f"cycle {cycle}: {item.state} at restart"
                    )
                    await service.push(ignore_backoff=True)
                    item = service.store.outbox.get(queued.item.id)
                    record.check(
                        item.state is OutboxState.DONE, f"cycle {cycle}: {item.state} after replay"
                    )
                finally:
                    await close_service(service)
                case_ids.append(str(row.id))
                action_ids.append(str(queued.item.client_action_id))
            counted = effects(http, case_ids)
            for cycle, action_id in enumerate(action_ids):
                record.check(
                    counted.get(action_id) == 1,
                    f"cycle {cycle}: {counted.get(action_id, 0)} effects",
                )
        record.iterations += cycles
        record.faults_injected += len(killed)
        total = sum(counted.get(action_id, 0) for action_id in action_ids)
        record.note(
            "commit-kill",
            f"{cycles} clients killed between the server's commit and their acknowledgement, "
            f"then restarted: {total} effects for {len(action_ids)} actions "
            f"({record.found} lost or doubled)",
        )


# -- R8 -------------------------------------------------------------------------------------


async def test_r8_resets_latency_and_hangs_during_replay_give_exactly_one_effect_per_action(
    server: Server, synced_dir: Path, tier: Tier, recorder: Recorder
) -> None:
    wanted_resets = tier.count(30, 1000)
    record = recorder.record("R8")
    key = server.key("reviewer")
    plan = Plan(latency=0.1, reset_request=0.2, reset_response=0.2, hang=0.02, seed=tier.seed)
    retry = RetryPolicy(attempts=3, wait_initial=0.01, wait_max=0.05)
    with FaultProxy("127.0.0.1", server.port, plan=plan) as proxy:
        service = service_for(synced_dir, proxy.base_url, key, retry=retry, timeout=1.0)
        queued = []
        rounds = 0
        try:
            rows = open_rows(service)[10:20]
            with counting(record):
                while proxy.tally.resets < wanted_resets and rounds < 200:
                    rounds += 1
                    for number in range(10):
                        row = rows[number % len(rows)]
                        action = comment(f"R8 round {rounds} item {number}")
                        queued.append(
                            (row.id, await service.act(row.reference, action, send=False))
                        )
                    for _ in range(100):  # replay until nothing is left to send
                        await service.push(ignore_backoff=True)
                        if not service.store.outbox.pending_count():
                            break
                left = service.store.outbox.pending_count()
                record.check(left == 0, f"{left} items still pending after replay")
                parked = service.store.outbox.items([OutboxState.PARKED])
                record.check(not parked, f"{len(parked)} items parked: {parked[:1]}")
                with httpx.Client(
                    base_url=server.base_url, headers={"X-API-KEY": key}, timeout=30
                ) as http:
                    counted = effects(http, [case_id for case_id, _ in queued])
                for _, item in queued:
                    action_id = str(item.item.client_action_id)
                    record.check(
                        counted.get(action_id) == 1,
                        f"{action_id}: {counted.get(action_id, 0)} effects",
                    )
        finally:
            await close_service(service)
        faults = proxy.tally.faults
        record.iterations += len(queued)
        record.faults_injected += proxy.tally.injected
        applied = sum(counted.get(str(item.item.client_action_id), 0) for _, item in queued)
        record.note(
            "resets",
            f"{proxy.tally.resets} connection resets at random byte offsets "
            f"({faults['reset_request']} in requests, {faults['reset_response']} in responses), "
            f"{faults['latency']} delayed and {faults['hang']} hung requests during the replay "
            f"of {len(queued)} actions: {applied / max(1, len(queued)):.3f} effects per action",
        )
