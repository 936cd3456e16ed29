"""The built-in site's overload mode: a server with a capacity, which slows down as more
requests are in flight than it has workers for, and refuses with 503 past a limit.

A request that arrives while `n` requests are in flight (itself included) takes
`latency_ms * max(1, n / capacity)`: up to `capacity` at once each gets a worker; past it
they share the workers, as a saturated server's do. When `n` would be over `reject_above`
the answer is a 503 at once (with Retry-After when set), as a server's front with a
bounded queue gives. Answers that are not pages (control requests, fault URLs' actions)
are not touched.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from scraper.testsite.protocol import Connection, FuncAction, Reply, Request, encode_reply

FAULT = "overload"  # the fault kind the site's stats count the 503s under
_TEXT = b"Content-Type: text/plain; charset=utf-8\r\n"


@dataclass(slots=True)
class Overload:
    """The overload switch and its state (used from the site's event loop only)."""

    capacity: int = 4  # requests in flight served at full speed
    latency_ms: float = 50.0  # each answer's time at or under capacity
    reject_above: int | None = None  # None: 2 * capacity
    retry_after: float | None = None  # seconds in the 503's Retry-After; None: no header
    in_flight: int = 0
    max_in_flight: int = 0
    served: int = 0
    rejected: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.capacity, bool) or not isinstance(self.capacity, int) \
                or self.capacity < 1:
            raise ValueError(f"overload capacity must be an integer >= 1, got {self.capacity!r}")
        if self.latency_ms < 0:
            raise ValueError(f"overload latency_ms must be >= 0, got {self.latency_ms}")
        if self.reject_above is None:
            self.reject_above = 2 * self.capacity
        if self.reject_above < self.capacity:
            raise ValueError(f"overload reject_above must be >= capacity ({self.capacity}), "
                             f"got {self.reject_above}")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"overload retry_after must be >= 0, got {self.retry_after}")

    @classmethod
    def parse(cls, spec: str) -> Overload:
        """From `capacity=4,latency_ms=50,reject_above=8,retry_after=1` (any of the keys;
        a bare number is the capacity), as `scraper testsite --overload` takes it."""
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            if not sep:
                key, value = "capacity", part
            key = key.strip()
            try:
                if key in ("capacity", "reject_above"):
                    values[key] = int(value)
                elif key in ("latency_ms", "retry_after"):
                    values[key] = float(value)
                else:
                    raise ValueError(f"unknown key {key!r} (capacity, latency_ms, "
                                     "reject_above, retry_after)")
            except ValueError as exc:
                raise ValueError(f"overload {spec!r}: {exc}") from None
        return cls(**values)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Overload:
        unknown = set(data) - {"capacity", "latency_ms", "reject_above", "retry_after"}
        if unknown:
            raise ValueError(f"unknown overload keys: {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "latency_ms": self.latency_ms,
                "reject_above": self.reject_above, "retry_after": self.retry_after,
                "in_flight": self.in_flight, "max_in_flight": self.max_in_flight,
                "served": self.served, "rejected": self.rejected}

    def service_time(self, in_flight: int) -> float:
        """Seconds an answer takes with `in_flight` requests in the server (itself included)."""
        return self.latency_ms / 1000 * max(1.0, in_flight / self.capacity)

    def admit(self, reply: Reply) -> Reply | FuncAction:
        """The page answer `reply` as this server gives it: refused, or after its time."""
        assert self.reject_above is not None
        if self.in_flight + 1 > self.reject_above:
            self.rejected += 1
            head = _TEXT
            if self.retry_after is not None:
                head += f"Retry-After: {self.retry_after:g}\r\n".encode()
            return Reply(503, b"overloaded: too many requests at once\n", head, fault=FAULT)
        # Counted now, not when the answer's task starts: requests read meanwhile on other
        # connections must see this one.
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        wait = self.service_time(self.in_flight)

        async def run(conn: Connection, req: Request) -> int:
            try:
                await asyncio.sleep(wait)
                conn.write(encode_reply(req, reply))
                self.served += 1
                return reply.status
            finally:
                self.in_flight -= 1
        return FuncAction(run, reply.fault)
