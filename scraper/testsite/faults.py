"""Fault injection on the built-in site: rules that spoil normal pages, and the actions that do it.

A `FaultRule` matches pages by a regex on the decoded path (with ?query) and turns their
answer into a fault: an error status, a 429 with Retry-After, a slow, stalled, truncated or
reset body, no answer at all, added latency, a redirect or a closed connection. A rule fires
on every match, or with a probability (seeded RNG); `count` makes it transient and `burst`
makes a path keep failing for several requests once hit.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from email.utils import formatdate
from typing import Any

from scraper.testsite.protocol import Connection, FuncAction, Reply, Request, response_head

KINDS = ("status", "retry-after", "slow-body", "stall", "truncate", "reset", "timeout",
         "latency", "redirect", "close")


@dataclass(slots=True)
class FaultRule:
    """One fault switch. See docs/testsite.md for each kind and its parameters."""

    kind: str
    pattern: str = "."  # regex searched in the decoded path (plus ?query)
    count: int | None = None  # fire at most this many times; None: permanent
    probability: float = 1.0  # chance to fire on each matching request (seeded RNG)
    burst: int = 1  # once fired on a path, its next burst-1 requests get the fault too
    # "status": one picked per firing (seeded RNG), 503 if none; "retry-after": 429 or 503
    status: tuple[int, ...] = ()
    retry_after: float = 1.0  # "retry-after": seconds
    retry_after_date: bool = False  # "retry-after": send an HTTP-date instead of seconds
    bytes_per_s: int = 100  # "slow-body"
    delay_ms: int = 1000  # "latency"
    location: str = "/"  # "redirect"
    id: int = 0
    fired: int = 0
    regex: re.Pattern[str] = field(default=re.compile("."), repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}: expected one of "
                             f"{', '.join(KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be within 0..1, got {self.probability}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")
        if self.burst < 1:
            raise ValueError(f"burst must be >= 1, got {self.burst}")
        if self.bytes_per_s < 1:
            raise ValueError(f"bytes_per_s must be >= 1, got {self.bytes_per_s}")
        raw: object = self.status
        self.status = (int(raw),) if isinstance(raw, int | str) else tuple(
            int(s) for s in self.status)
        try:
            self.regex = re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"bad fault pattern {self.pattern!r}: {exc}") from None

    @property
    def active(self) -> bool:
        return self.count is None or self.fired < self.count

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self) if f.name != "regex"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        known = {f.name for f in fields(cls)} - {"id", "fired", "regex"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault rule keys: {', '.join(sorted(unknown))}")
        args = dict(data)
        if "status" in args:
            status = args["status"]
            args["status"] = tuple(status) if isinstance(status, list | tuple) else (status,)
        return cls(**args)


class FaultSet:
    """The active rules of one site, its fault RNG and the per-path burst counters."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rules: list[FaultRule] = []
        self.rng = random.Random(f"faults:{seed}")
        self._bursts: dict[tuple[int, str], int] = {}
        self._next_id = 1

    def add(self, rule: FaultRule) -> FaultRule:
        rule.id = self._next_id
        self._next_id += 1
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()
        self._bursts.clear()
        self.rng = random.Random(f"faults:{self.seed}")

    def match(self, where: str) -> FaultRule | None:
        """The rule that fires for this request, if any (and count it as fired)."""
        for rule in self.rules:
            if not rule.active or not rule.regex.search(where):
                continue
            key = (rule.id, where)
            left = self._bursts.get(key, 0)
            if left > 0:
                self._bursts[key] = left - 1
            elif rule.probability < 1.0 and self.rng.random() >= rule.probability:
                continue
            elif rule.burst > 1:
                self._bursts[key] = rule.burst - 1
            rule.fired += 1
            return rule
        return None

    def apply(self, rule: FaultRule, reply: Reply) -> Reply | FuncAction:
        """The faulty version of a page's normal answer."""
        kind = rule.kind
        if kind == "status":
            codes = rule.status or (503,)
            status = self.rng.choice(codes) if len(codes) > 1 else codes[0]
            return error_reply(status, fault=kind)
        if kind == "retry-after":
            return retry_after_reply(rule.retry_after, rule.retry_after_date,
                                     rule.status[0] if rule.status else 429)
        if kind == "redirect":
            return Reply(302, b"", b"Location: " + rule.location.encode() + b"\r\n", fault=kind)
        if kind == "slow-body":
            return slow_body(reply, rule.bytes_per_s, fault=kind)
        if kind == "stall":
            return stall(reply, fault=kind)
        if kind == "truncate":
            return truncate(reply, len(reply.body) // 2, fault=kind)
        if kind == "reset":
            return reset(reply, len(reply.body) // 2, fault=kind)
        if kind == "timeout":
            return no_answer(fault=kind)
        if kind == "close":
            return close_now(fault=kind)
        return delayed(reply, rule.delay_ms / 1000, fault=kind)


HTML = b"Content-Type: text/html; charset=utf-8\r\n"


def error_reply(status: int, fault: str | None = None, head: bytes = b"") -> Reply:
    body = (f"<!DOCTYPE html>\n<html><head><title>Error {status}</title></head><body>"
            f"<h1>Error {status}</h1><p>The server could not answer.</p></body></html>\n")
    return Reply(status, body.encode(), HTML + head, fault=fault)


def retry_after_reply(seconds: float, as_date: bool, status: int = 429) -> Reply:
    value = (formatdate(math.ceil(time.time() + seconds), usegmt=True) if as_date
             else str(int(seconds) if float(seconds).is_integer() else seconds))
    return error_reply(status, "retry-after", f"Retry-After: {value}\r\n".encode())


def _head(req: Request, reply: Reply, length: int | None = None) -> bytes:
    size = len(reply.body) if length is None else length
    return response_head(reply.status, reply.head, size, req.keep_alive)


def _body(req: Request, reply: Reply) -> bytes:
    return b"" if req.method == "HEAD" else reply.body


def slow_body(reply: Reply, bytes_per_s: int, fault: str | None = None) -> FuncAction:
    """The whole answer, its body trickled at `bytes_per_s`."""
    async def run(conn: Connection, req: Request) -> int:
        conn.write(_head(req, reply))
        body = _body(req, reply)
        tick = 0.1 if bytes_per_s >= 10 else 1.0 / bytes_per_s
        step = max(1, int(bytes_per_s * tick))
        for i in range(0, len(body), step):
            await asyncio.sleep(tick)
            conn.write(body[i:i + step])
            await conn.drain()
        return reply.status
    return FuncAction(run, fault)


def stall(reply: Reply, fault: str | None = None) -> FuncAction:
    """The head (with its Content-Length), then nothing until the client gives up."""
    async def run(conn: Connection, req: Request) -> int:
        conn.write(_head(req, reply, max(len(reply.body), 1)))
        await conn.wait_closed()
        return reply.status
    return FuncAction(run, fault)


def truncate(reply: Reply, keep: int, fault: str | None = None, length: int | None = None,
             ) -> FuncAction:
    """A Content-Length larger than the body: `keep` bytes are sent, then the connection closes."""
    async def run(conn: Connection, req: Request) -> int:
        size = max(len(reply.body), keep + 1) if length is None else length
        conn.write(_head(req, reply, size) + _body(req, reply)[:keep])
        await conn.drain()
        conn.close()
        return reply.status
    return FuncAction(run, fault)


def reset(reply: Reply, keep: int, fault: str | None = None, length: int | None = None,
          ) -> FuncAction:
    """`keep` bytes of the body, then a TCP reset (SO_LINGER 0)."""
    async def run(conn: Connection, req: Request) -> int:
        size = max(len(reply.body), keep + 1) if length is None else length
        conn.write(_head(req, reply, size) + _body(req, reply)[:keep])
        await conn.drain()
        await asyncio.sleep(0.05)  # let the partial body reach the client first
        conn.reset()
        return reply.status
    return FuncAction(run, fault)


def no_answer(fault: str | None = None) -> FuncAction:
    """Read the request, never answer."""
    async def run(conn: Connection, req: Request) -> int:
        await conn.wait_closed()
        return 0
    return FuncAction(run, fault)


def close_now(fault: str | None = None) -> FuncAction:
    """Close the connection without a byte of answer."""
    async def run(conn: Connection, req: Request) -> int:
        conn.close()
        return 0
    return FuncAction(run, fault)


def delayed(reply: Reply, seconds: float, fault: str | None = None) -> FuncAction:
    async def run(conn: Connection, req: Request) -> int:
        await asyncio.sleep(seconds)
        conn.write(_head(req, reply) + _body(req, reply))
        return reply.status
    return FuncAction(run, fault)


def stream(status: int, head: bytes, chunks: Iterable[bytes], length: int | None,
           fault: str | None = None) -> FuncAction:
    """An answer whose body is produced chunk by chunk and never held whole in memory.

    With `length` None the body is sent with chunked transfer encoding.
    """
    async def run(conn: Connection, req: Request) -> int:
        chunked = length is None
        extra = b"Transfer-Encoding: chunked\r\n" if chunked else b""
        conn.write(response_head(status, head + extra, length, req.keep_alive))
        if req.method == "HEAD":
            return status
        for n, chunk in enumerate(chunks):
            conn.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            await conn.drain()
            if n % 16 == 15:
                await asyncio.sleep(0)  # let other connections be served meanwhile
        if chunked:
            conn.write(b"0\r\n\r\n")
        return status
    return FuncAction(run, fault)
