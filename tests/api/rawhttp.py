"""A tiny HTTP/1.1 server on a real 127.0.0.1 socket that answers exactly the bytes a test gives.

For faults a real API server would not produce on purpose (echoed keys, cut
bodies, redirects elsewhere, silence), exercised through the real httpx and
httpcore stack rather than a mocked transport.
"""

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any


class Exchange:
    """One request the server received."""

    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"Exchange({self.method} {self.target})"


Responder = Callable[[Exchange], bytes | Awaitable[bytes]]


def response(
    status: int,
    body: bytes | str | Any = b"",
    *,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
) -> bytes:
    """Raw response bytes; `body` that is not bytes/str is JSON-encoded."""
    if isinstance(body, str):
        raw = body.encode()
    elif isinstance(body, bytes):
        raw = body
    else:
        raw = json.dumps(body).encode()
    lines = [f"HTTP/1.1 {status} X", "Connection: close"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    length = len(raw) if content_length is None else content_length
    lines.append(f"Content-Length: {length}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw


class RawServer:
    """Answers every request with `respond(exchange)`; records requests and connections."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.exchanges: list[Exchange] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self.base_url = ""

    def __repr__(self) -> str:
        return f"RawServer({self.base_url})"

    async def __aenter__(self) -> "RawServer":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            exchange = Exchange(method, target, headers, body)
            self.exchanges.append(exchange)
            answer = self.respond(exchange)
            if inspect.isawaitable(answer):
                answer = await answer
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
