"""An asyncio TCP proxy between a client and a server that injects network faults, seeded.

    with FaultProxy("127.0.0.1", port, plan=Plan(reset_request=0.2, seed=1)) as proxy:
        client = CaseApiClient(proxy.base_url, key)

Each request draws one fault from the plan (one seeded generator for the proxy):
- `pass`: bytes go through untouched;
- `latency`: every chunk is held back `latency_s` in each direction;
- `reset_request`: the request is cut with a TCP RST after a random number of its
  bytes (the server never sees it whole);
- `reset_response`: the request goes through, the response is cut with an RST after
  a random number of its bytes (the server has committed, the client never hears it);
- `hang`: the request is read, nothing ever comes back (until the client gives up).

The proxy runs its own event loop in a thread, so sync, async and child-process
clients can all go through it. `on_response(request_bytes)` is called when the
first byte of the server's answer to a request arrives, before it is forwarded (the
server has committed): R4 kills the client there.
"""

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

CHUNK = 64 * 1024


@dataclass
class Plan:
    """The chance of each fault per connection (the rest pass); reset offsets are uniform."""

    latency: float = 0.0
    reset_request: float = 0.0
    reset_response: float = 0.0
    hang: float = 0.0
    latency_s: float = 0.05
    request_bytes: int = 900
    """Reset offsets in a request are drawn in [0, request_bytes) (counted only if reached)."""
    response_bytes: int = 2000
    seed: int = 0

    def draw(self, rng: random.Random) -> str:
        roll = rng.random()
        for name in ("latency", "reset_request", "reset_response", "hang"):
            chance: float = getattr(self, name)
            if roll < chance:
                return name
            roll -= chance
        return "pass"


@dataclass
class Tally:
    """What the proxy did: connections, and the faults that took effect, by kind."""

    connections: int = 0
    faults: Counter[str] = field(default_factory=Counter)

    @property
    def injected(self) -> int:
        return sum(self.faults.values())

    @property
    def resets(self) -> int:
        return self.faults["reset_request"] + self.faults["reset_response"]


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), as a dropped connection looks to the peer."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Exchange:
    """One connection's state: which request it carries now and the fault drawn for it.

    httpx never pipelines, so on a connection requests and answers alternate: the
    first byte from the client after an answer starts a new request (and a new draw).
    """

    def __init__(self) -> None:
        self.phase = "idle"
        self.fault = "pass"
        self.request = b""
        self.request_cut = 0
        self.response_cut = 0
        self.sent_up = 0
        self.sent_down = 0


class FaultProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to `host:port` with faults."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        plan: Plan | None = None,
        on_response: Callable[[bytes], None] | None = None,
    ) -> None:
        self.upstream = (host, port)
        self.plan = plan or Plan()
        self.on_response = on_response
        self.tally = Tally()
        self._rng = random.Random(self.plan.seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._lock = threading.Lock()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_plan(self, plan: Plan) -> None:
        with self._lock:
            self.plan = plan
            self._rng = random.Random(plan.seed)

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(client_w)
            return
        with self._lock:
            self.tally.connections += 1
        exchange = _Exchange()
        up = asyncio.ensure_future(self._upstream(client_r, server_w, client_w, exchange))
        down = asyncio.ensure_future(self._downstream(server_r, client_w, server_w, exchange))
        done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        if up in done:  # the client is done sending: let the answer finish
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(down, 30)
        else:  # the server hung up: nothing more can be answered on this connection
            up.cancel()
        for writer in (client_w, server_w):
            with contextlib.suppress(Exception):
                writer.close()

    def _begin_request(self, exchange: _Exchange, data: bytes) -> None:
        with self._lock:
            plan = self.plan
            exchange.fault = plan.draw(self._rng)
            exchange.request_cut = self._rng.randrange(plan.request_bytes)
            exchange.response_cut = self._rng.randrange(plan.response_bytes)
        exchange.phase, exchange.request = "request", data
        exchange.sent_up = exchange.sent_down = 0
        if exchange.fault in ("latency", "hang"):
            self._count(exchange.fault)

    def _count(self, fault: str) -> None:
        with self._lock:
            self.tally.faults[fault] += 1

    async def _upstream(
        self,
        client_r: asyncio.StreamReader,
        server_w: asyncio.StreamWriter,
        client_w: asyncio.StreamWriter,
        exchange: _Exchange,
    ) -> None:
        try:
            while data := await client_r.read(CHUNK):
                if exchange.phase != "request":
                    self._begin_request(exchange, data)
                if exchange.fault == "hang":
                    continue  # swallowed: the server never hears it, the client waits
                if not await self._forward(data, server_w, client_w, exchange, up=True):
                    return
            with contextlib.suppress(Exception):
                server_w.write_eof()
        except (ConnectionError, OSError):
            _reset(server_w)
            _reset(client_w)

    async def _downstream(
        self,
        server_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        server_w: asyncio.StreamWriter,
        exchange: _Exchange,
    ) -> None:
        try:
            while data := await server_r.read(CHUNK):
                if exchange.phase == "request":
                    exchange.phase = "response"
                    if self.on_response is not None:
                        self.on_response(exchange.request)
                if not await self._forward(data, client_w, server_w, exchange, up=False):
                    return
        except (ConnectionError, OSError):
            _reset(client_w)
            _reset(server_w)

    async def _forward(
        self,
        data: bytes,
        sink: asyncio.StreamWriter,
        other: asyncio.StreamWriter,
        exchange: _Exchange,
        *,
        up: bool,
    ) -> bool:
        """Pass `data` on (late, with latency); at the drawn cut, pass its first part and reset
        both sides instead: False once the connection is cut."""
        if exchange.fault == "latency":
            await asyncio.sleep(self.plan.latency_s)
        fault = "reset_request" if up else "reset_response"
        sent = exchange.sent_up if up else exchange.sent_down
        cut = exchange.request_cut if up else exchange.response_cut
        if exchange.fault == fault and cut - sent < len(data):
            sink.write(data[: cut - sent])
            with contextlib.suppress(Exception):
                await sink.drain()
            self._count(fault)
            _reset(sink)
            _reset(other)
            return False
        sink.write(data)
        await sink.drain()
        if up:
            exchange.sent_up += len(data)
        else:
            exchange.sent_down += len(data)
        return True
