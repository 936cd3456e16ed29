"""A loopback HTTP proxy in front of a real server that answers some requests itself.

For tests of what a client does when a server misbehaves now and then (a wiki that answers
maxlag, 503 or 429 a few times): every request is logged; a rule may answer it instead of the
server; the rest are forwarded, and the server's own address in answers (links, JSON, Location)
is rewritten to the proxy's, so that a client that follows them stays behind the proxy.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from local_http import serve

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
               "content-encoding", "host", "accept-encoding", "proxy-connection"}


@dataclass(frozen=True, slots=True)
class ProxiedRequest:
    time: float
    method: str
    uri: str
    params: dict[str, str]  # query string and form body together
    answered_by_proxy: bool

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


Rule = Callable[[str, str, dict[str, str]], "Reply | None"]  # method, path, params


@dataclass
class FaultProxy:
    upstream: str  # http://127.0.0.1:PORT
    rule: Rule = field(default=lambda method, path, params: None)
    base_url: str = ""
    log: list[ProxiedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, path: str | None = None) -> list[ProxiedRequest]:
        with self._lock:
            return [r for r in self.log if path is None or r.path == path]

    def reset(self) -> None:
        with self._lock:
            self.log.clear()

    def _record(self, request: ProxiedRequest) -> None:
        with self._lock:
            self.log.append(request)


@contextmanager
def fault_proxy(upstream: str, rule: Rule | None = None) -> Iterator[FaultProxy]:
    """A running proxy to `upstream`; set `.rule` to change what it answers itself."""
    proxy = FaultProxy(upstream)
    if rule is not None:
        proxy.rule = rule
    target = urlsplit(upstream)
    assert target.hostname is not None and target.port is not None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            if body and "form-urlencoded" in (self.headers.get("Content-Type") or ""):
                params.update(parse_qsl(body.decode(), keep_blank_values=True))
            reply = proxy.rule(self.command, parts.path, params)
            proxy._record(ProxiedRequest(time.monotonic(), self.command, self.path, params,
                                         reply is not None))
            if reply is None:
                reply = self._forward(body)
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def _forward(self, body: bytes) -> Reply:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Accept-Encoding"] = "identity"  # bodies are rewritten: no compression
            conn = http.client.HTTPConnection(target.hostname or "", target.port, timeout=60)
            try:
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
            finally:
                conn.close()
            theirs, mine = target.netloc, urlsplit(proxy.base_url).netloc
            kept = tuple((k, v.replace(theirs, mine)) for k, v in answer.getheaders()
                         if k.lower() not in _HOP_BY_HOP)
            return Reply(answer.status, data.replace(theirs.encode(), mine.encode()), kept)

        def log_message(self, *args: object) -> None:
            return None

    with serve(Handler) as base:
        proxy.base_url = base
        yield proxy
