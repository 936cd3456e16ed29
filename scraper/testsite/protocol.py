"""HTTP/1.1 for the built-in site on asyncio.Protocol: keep-alive, pipelining and flow control.

The handler (`App.handle`) answers a `Request` with a `Reply` (bytes already in memory,
written at once) or an `Action` (a coroutine that writes for itself: streams, stalls, resets).
Requests on one connection are answered strictly in order.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Protocol as TypingProtocol
from urllib.parse import unquote

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 4 * 1024 * 1024
SERVER = b"Server: scraper-testsite\r\n"


@dataclass(slots=True)
class Request:
    method: str
    target: str  # as sent: path?query
    path: str  # percent-decoded path
    query: str
    version: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    keep_alive: bool
    host: str  # the Host header
    address: str  # the local address the connection arrived on (one of the site's hosts)
    started: float  # time.monotonic() when the head was read
    conn_id: int


@dataclass(slots=True)
class Reply:
    """A complete answer. `head` holds extra header lines, each ending in CRLF."""

    status: int
    body: bytes = b""
    head: bytes = b""
    fault: str | None = None
    close: bool = False  # close the connection after this answer
    immediate: bool = False  # never delayed by the site's latency (control answers)


class Action(TypingProtocol):
    """An answer that writes for itself; returns the status it sent (0: none)."""

    fault: str | None

    def __call__(self, conn: Connection, req: Request) -> Awaitable[int]: ...


class App(TypingProtocol):
    latency: float  # seconds added before each answer

    def handle(self, req: Request) -> Reply | Action: ...
    def opened(self, conn: Connection) -> int: ...
    def closed(self, conn: Connection) -> None: ...
    def begin(self, req: Request) -> None: ...
    def end(self, req: Request, status: int, sent: int, fault: str | None) -> None: ...


_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_date_cache: tuple[int, bytes] = (0, b"")


def date_header() -> bytes:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\n")
    return _date_cache[1]


def status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))


def response_head(status: int, head: bytes, length: int | None, keep_alive: bool) -> bytes:
    """Status line and headers; `length` None leaves Content-Length out (the action adds its own)."""
    parts = [status_line(status), head]
    if length is not None:
        parts.append(b"Content-Length: %d\r\n" % length)
    parts += [date_header(), SERVER,
              b"Connection: keep-alive\r\n\r\n" if keep_alive else b"Connection: close\r\n\r\n"]
    return b"".join(parts)


def encode_reply(req: Request, reply: Reply) -> bytes:
    """`reply` to `req` as bytes: its head, and its body unless HEAD, 204 or 304."""
    keep = req.keep_alive and not reply.close
    body = b"" if req.method == "HEAD" or reply.status in (204, 304) else reply.body
    length = None if reply.status in (204, 304) else len(reply.body)
    return response_head(reply.status, reply.head, length, keep) + body


class Connection(asyncio.Protocol):
    """One client connection."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.transport: asyncio.Transport | None = None
        self.id = 0
        self.address = ""  # the site's address the client connected to
        self.sent = 0  # bytes of the current answer
        self._buf = bytearray()
        self._busy = False
        self._writable = asyncio.Event()
        self._writable.set()
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None
        self._refusal = b""  # the answer to a malformed request, sent before closing

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=256 * 1024)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sockname = transport.get_extra_info("sockname")
        if isinstance(sockname, tuple):
            self.address = str(sockname[0])
        self.id = self.app.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)
        self._writable.set()
        self.app.closed(self)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._process()

    # -- for actions ---------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self._closed.done()

    def write(self, data: bytes) -> None:
        if self.transport is None or self._closed.done():
            raise ConnectionResetError("the client closed the connection")
        self.sent += len(data)
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its high-water mark."""
        if not self._writable.is_set():
            await self._writable.wait()
        if self._closed.done():
            raise ConnectionResetError("the client closed the connection")

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                log.debug("conn %s: SO_LINGER failed", self.id)
        self.transport.abort()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.transport is not None:
            self.transport.abort()

    # -- request handling ----------------------------------------------------------------------

    def _process(self) -> None:
        # Answers to pipelined requests are written with one send, not one each.
        out: list[bytes] = []
        try:
            while not self._busy and self.transport is not None and not self._closed.done():
                req = self._parse()
                if req is None:
                    if self._refusal:
                        out.append(self._refusal)
                        self._flush(out)
                        self.close()
                    return
                self.app.begin(req)
                self.sent = 0
                try:
                    result = self.app.handle(req)
                except Exception:  # a bug in a handler must not kill the connection silently
                    log.exception("conn %s: handler failed on %s %s", self.id, req.method,
                                  req.target)
                    result = Reply(500, b"internal error\n",
                                   b"Content-Type: text/plain; charset=utf-8\r\n", close=True)
                if isinstance(result, Reply) and (self.app.latency <= 0 or result.immediate):
                    data = encode_reply(req, result)
                    out.append(data)
                    self.app.end(req, result.status, len(data), result.fault)
                    if result.close or not req.keep_alive:
                        self._flush(out)
                        self.close()
                        return
                else:
                    self._flush(out)
                    self._busy = True
                    self._task = asyncio.get_running_loop().create_task(self._run(req, result))
        finally:
            self._flush(out)

    def _flush(self, out: list[bytes]) -> None:
        if out and self.transport is not None and not self._closed.done():
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()

    async def _run(self, req: Request, result: Reply | Action) -> None:
        status, fault, close = 0, getattr(result, "fault", None), not req.keep_alive
        try:
            if self.app.latency > 0:
                await asyncio.sleep(self.app.latency)
            if isinstance(result, Reply):
                self.write(encode_reply(req, result))
                status, close = result.status, close or result.close
            else:
                status = await result(self, req)
        except (ConnectionError, OSError) as exc:
            log.debug("conn %s: %s %s: %s", self.id, req.method, req.target, exc)
            close = True
        except Exception:  # a bug in an action: count the request, drop the connection
            log.exception("conn %s: answering %s %s failed", self.id, req.method, req.target)
            close = True
        except asyncio.CancelledError:
            self.app.end(req, status, self.sent, fault)
            raise
        self.app.end(req, status, self.sent, fault)
        self._task = None
        if close or self._closed.done():
            self.close()
            return
        self._busy = False
        self._process()

    def _error(self, status: int, message: str) -> None:
        """Refuse a malformed request: the answer goes out after those before it, then close."""
        body = message.encode() + b"\n"
        head = b"Content-Type: text/plain; charset=utf-8\r\n"
        self._refusal = response_head(status, head, len(body), False) + body
        self._buf.clear()

    def _parse(self) -> Request | None:
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                self._error(431, "request head too large")
            return None
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            self._error(400, "bad request line")
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                self._error(400, "bad header line")
                return None
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._error(501, "chunked request bodies are not supported")
            return None
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            self._error(400, "bad Content-Length")
            return None
        if length < 0 or length > MAX_BODY:
            self._error(413, "request body too large")
            return None
        if len(buf) < end + 4 + length:
            return None  # wait for the rest of the body
        body = bytes(buf[end + 4:end + 4 + length])
        del buf[:end + 4 + length]
        conn_header = headers.get("connection", "").lower()
        if version == "HTTP/1.1":
            keep_alive = "close" not in conn_header
        else:
            keep_alive = "keep-alive" in conn_header
        if target.startswith(("http://", "https://")):  # absolute form, as proxies send it
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        raw_path, _, query = target.partition("?")
        return Request(method=method.upper(), target=target,
                       path=unquote(raw_path, errors="replace"), query=query, version=version,
                       headers=headers, body=body, keep_alive=keep_alive,
                       host=headers.get("host", ""), address=self.address,
                       started=time.monotonic(), conn_id=self.id)


ActionFunc = Callable[["Connection", Request], Awaitable[int]]


class FuncAction:
    """An Action made of a coroutine function."""

    def __init__(self, func: ActionFunc, fault: str | None = None) -> None:
        self.func = func
        self.fault = fault

    def __call__(self, conn: Connection, req: Request) -> Awaitable[int]:
        return self.func(conn, req)
