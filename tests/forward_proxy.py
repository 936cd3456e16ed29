"""A small forward proxy on loopback for the tests: HTTP (absolute-form requests and
CONNECT tunnels) and SOCKS5 (no auth, or user/password), recording what it forwarded.

    with ForwardProxy() as proxy:            # or ForwardProxy(kind="socks5", auth=("u", "p"))
        ... network.proxy: proxy.url ...
        proxy.requests   # [Forwarded(method, target, headers), ...]

It only ever connects to loopback addresses (127.0.0.0/8, ::1): a target elsewhere is
answered 403 / SOCKS "not allowed", so a test that goes wrong sends nothing off this machine.
Each HTTP request is forwarded with `Connection: close` and its connection closed after the
answer: simple, and aiohttp opens a new one for the next request.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import struct
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class Forwarded:
    method: str  # GET, CONNECT, or SOCKS5
    target: str  # the absolute URL, or host:port for a tunnel
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


class ForwardProxy:
    __test__ = False

    def __init__(self, kind: str = "http", *, auth: tuple[str, str] | None = None,
                 host: str = "127.0.0.1") -> None:
        if kind not in ("http", "socks5"):
            raise ValueError(f"kind must be http or socks5, got {kind!r}")
        self.kind = kind
        self.auth = auth
        self.host = host
        self.port = 0
        self.requests: list[Forwarded] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        user = f"{self.auth[0]}:{self.auth[1]}@" if self.auth else ""
        return f"{self.kind}://{user}{self.host}:{self.port}"

    def forwarded(self) -> list[Forwarded]:
        with self._lock:
            return list(self.requests)

    def _record(self, item: Forwarded) -> None:
        with self._lock:
            self.requests.append(item)

    # -- life cycle ----------------------------------------------------------------------

    def __enter__(self) -> Self:
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, 0))
            self.port = int(self._server.sockets[0].getsockname()[1])
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="forward-proxy", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the forward proxy did not start")
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await (self._http if self.kind == "http" else self._socks)(reader, writer)
        finally:
            await _close(writer)
            self._writers.discard(writer)

    async def _shutdown(self) -> None:
        """Close the listener and every connection, and wait for their handlers to end."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    # -- HTTP ----------------------------------------------------------------------------

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        self._record(Forwarded(method, target, headers))
        if self.auth and not self._authorised(headers.get("proxy-authorization", "")):
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"proxy\"\r\n"
                         b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            await _close(writer)
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            if not await self._tunnel(host, int(port), reader, writer,
                                      b"HTTP/1.1 200 Connection established\r\n\r\n"):
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                await _close(writer)
            return
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname or not _loopback(parts.hostname):
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            await _close(writer)
            return
        upstream_reader, upstream = await asyncio.open_connection(parts.hostname,
                                                                  parts.port or 80)
        self._writers.add(upstream)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = [line for line in lines[1:] if line and not line.lower().startswith(
            ("proxy-", "connection:", "keep-alive:"))]
        upstream.write(f"{method} {path} {version}\r\n".encode("latin-1")
                       + "\r\n".join([*kept, "Connection: close", "", ""]).encode("latin-1"))
        await upstream.drain()
        try:
            await _pipe(upstream_reader, writer)
        finally:
            await _close(upstream)
            self._writers.discard(upstream)
        await _close(writer)

    def _authorised(self, value: str) -> bool:
        assert self.auth is not None
        expected = base64.b64encode(":".join(self.auth).encode()).decode()
        return value == f"Basic {expected}"

    async def _tunnel(self, host: str, port: int, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter, ok: bytes) -> bool:
        if not _loopback(host):
            return False
        try:
            upstream_reader, upstream = await asyncio.open_connection(host, port)
        except OSError:
            return False
        self._writers.add(upstream)
        try:
            writer.write(ok)
            await writer.drain()
            await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))
        finally:
            await _close(upstream)
            self._writers.discard(upstream)
        await _close(writer)
        return True

    # -- SOCKS5 (RFC 1928, RFC 1929) -------------------------------------------------------

    async def _socks(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            version, count = await reader.readexactly(2)
            methods = await reader.readexactly(count)
            want = 2 if self.auth else 0
            if version != 5 or want not in methods:
                writer.write(b"\x05\xff")
                await _close(writer)
                return
            writer.write(bytes([5, want]))
            if self.auth:
                _, ulen = await reader.readexactly(2)
                user = (await reader.readexactly(ulen)).decode()
                (plen,) = await reader.readexactly(1)
                password = (await reader.readexactly(plen)).decode()
                if (user, password) != self.auth:
                    writer.write(b"\x01\x01")
                    await _close(writer)
                    return
                writer.write(b"\x01\x00")
            _, command, _, kind = await reader.readexactly(4)
            if kind == 1:
                host = socket.inet_ntoa(await reader.readexactly(4))
            elif kind == 3:
                (length,) = await reader.readexactly(1)
                host = (await reader.readexactly(length)).decode()
            else:
                host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
            (port,) = struct.unpack("!H", await reader.readexactly(2))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            await _close(writer)
            return
        self._record(Forwarded("SOCKS5", f"{host}:{port}"))
        ok = b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0)
        if command != 1 or not await self._tunnel(host, port, reader, writer, ok):
            writer.write(b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00")  # not allowed
            await _close(writer)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (ConnectionError, OSError):
        pass


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass
