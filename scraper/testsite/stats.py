"""What the built-in site saw: request counts, a request log, concurrency and injected faults."""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from itertools import pairwise
from typing import Any

from scraper.testsite.protocol import Request


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One answered request. Times are time.monotonic() of the server process (seconds, a
    nanosecond clock on Linux): comparable between records, whatever process made the requests."""

    method: str
    path: str  # percent-decoded
    target: str  # path?query as sent
    host: str  # the Host header
    address: str  # the site's address the request arrived on ("127.0.0.3")
    start: float  # when the request head was read
    end: float
    user_agent: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int  # 0: nothing was sent (stall, timeout, reset before the head)
    bytes_sent: int
    fault: str | None  # the injected fault, if any
    connection: int

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        """A record from its to_dict() (the JSON of /_control/stats)."""
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"request record without {', '.join(missing)}: {data!r}")
        return cls(**{n: data[n] for n in names})


@dataclass(frozen=True, slots=True)
class SiteStats:
    """A snapshot of the server-side counters (control requests are not counted)."""

    requests: int
    by_path: dict[str, int]  # decoded path
    by_target: dict[str, int]  # path?query as sent
    by_method_path: dict[str, int]  # "GET /related/NATO"
    by_status: dict[int, int]
    log: tuple[RequestRecord, ...]  # oldest first; at most `log_limit` records
    in_flight: int
    max_in_flight: int
    max_in_flight_per_host: dict[str, int]  # by Host header
    connections: int  # opened since the last reset
    open_connections: int
    faults_injected: dict[str, int]  # by kind
    bytes_sent: int

    @property
    def faults_total(self) -> int:
        return sum(self.faults_injected.values())

    def count(self, path: str, method: str | None = None) -> int:
        """Requests for a decoded path (with any query), optionally of one method only."""
        if method is not None:
            return self.by_method_path.get(f"{method} {path}", 0)
        return self.by_path.get(path, 0)

    def to_dict(self, *, log: bool = True) -> dict[str, Any]:
        return {
            "requests": self.requests, "by_path": self.by_path, "by_target": self.by_target,
            "by_method_path": self.by_method_path,
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "log": [r.to_dict() for r in self.log] if log else [],
            "in_flight": self.in_flight, "max_in_flight": self.max_in_flight,
            "max_in_flight_per_host": self.max_in_flight_per_host,
            "connections": self.connections, "open_connections": self.open_connections,
            "faults_injected": self.faults_injected, "faults_total": self.faults_total,
            "bytes_sent": self.bytes_sent,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SiteStats:
        """Stats from their to_dict() (the JSON of /_control/stats, for a site in another
        process)."""
        return cls(
            requests=data["requests"], by_path=dict(data["by_path"]),
            by_target=dict(data["by_target"]), by_method_path=dict(data["by_method_path"]),
            by_status={int(k): v for k, v in data["by_status"].items()},
            log=tuple(RequestRecord.from_dict(r) for r in data["log"]),
            in_flight=data["in_flight"], max_in_flight=data["max_in_flight"],
            max_in_flight_per_host=dict(data["max_in_flight_per_host"]),
            connections=data["connections"], open_connections=data["open_connections"],
            faults_injected=dict(data["faults_injected"]), bytes_sent=data["bytes_sent"])


def max_overlap_per_host(log: Iterable[RequestRecord]) -> dict[str, int]:
    """The most requests in progress at once on each address, from start to end.

    A request that starts when another ends does not overlap it. Per address, since each of
    the site's hosts is its own address (all on one port): a crawler's per-host concurrency
    limit must hold here.
    """
    # (time, order, step): at one instant ends go before starts, so that touching requests
    # do not overlap, except the end of a request that took no time, which follows its start.
    events: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
    for record in log:
        events[record.address] += [(record.start, 1, 1),
                                   (record.end, 0 if record.end > record.start else 2, -1)]
    most: dict[str, int] = {}
    for address, points in events.items():
        now = peak = 0
        for _, _, step in sorted(points):
            now += step
            peak = max(peak, now)
        most[address] = peak
    return most


def min_start_gap_per_host(log: Iterable[RequestRecord]) -> dict[str, float]:
    """The shortest time between two request starts on each address (math.inf for an
    address with one request): a crawler's per-host delay must hold here."""
    starts: dict[str, list[float]] = defaultdict(list)
    for record in log:
        starts[record.address].append(record.start)
    gaps: dict[str, float] = {}
    for address, times in starts.items():
        times.sort()
        gaps[address] = min((b - a for a, b in pairwise(times)),
                            default=math.inf)
    return gaps


@dataclass
class Recorder:
    """Mutable counters, touched only on the server's event loop."""

    log_limit: int = 100_000
    requests: int = 0
    by_path: Counter[str] = field(default_factory=Counter)
    by_target: Counter[str] = field(default_factory=Counter)
    by_method_path: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    log: deque[RequestRecord] = field(default_factory=deque)
    in_flight: int = 0
    max_in_flight: int = 0
    host_in_flight: Counter[str] = field(default_factory=Counter)
    max_host_in_flight: dict[str, int] = field(default_factory=dict)
    connections: int = 0
    open_connections: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    bytes_sent: int = 0

    def __post_init__(self) -> None:
        self.log = deque(maxlen=self.log_limit)

    def begin(self, req: Request) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        n = self.host_in_flight[req.host] = self.host_in_flight[req.host] + 1
        if n > self.max_host_in_flight.get(req.host, 0):
            self.max_host_in_flight[req.host] = n

    def end(self, req: Request, status: int, sent: int, fault: str | None, now: float) -> None:
        self.in_flight -= 1
        self.host_in_flight[req.host] -= 1
        self.requests += 1
        self.by_path[req.path] += 1
        self.by_target[req.target] += 1
        self.by_method_path[f"{req.method} {req.path}"] += 1
        self.by_status[status] += 1
        self.bytes_sent += sent
        if fault is not None:
            self.faults[fault] += 1
        h = req.headers
        self.log.append(RequestRecord(
            req.method, req.path, req.target, req.host, req.address, req.started, now,
            h.get("user-agent", ""), h.get("if-none-match"), h.get("if-modified-since"),
            status, sent, fault, req.conn_id))

    def reset(self) -> None:
        """Zero everything but what is in progress (open connections, requests in flight)."""
        keep_open, keep_flight = self.open_connections, self.in_flight
        keep_hosts = Counter({h: n for h, n in self.host_in_flight.items() if n})
        fresh = Recorder(self.log_limit)
        for name in ("requests", "by_path", "by_target", "by_method_path", "by_status", "log",
                     "max_in_flight", "max_host_in_flight", "connections", "faults",
                     "bytes_sent"):
            setattr(self, name, getattr(fresh, name))
        self.open_connections, self.in_flight = keep_open, keep_flight
        self.host_in_flight = keep_hosts

    def snapshot(self) -> SiteStats:
        return SiteStats(
            requests=self.requests, by_path=dict(self.by_path), by_target=dict(self.by_target),
            by_method_path=dict(self.by_method_path), by_status=dict(self.by_status),
            log=tuple(self.log), in_flight=self.in_flight, max_in_flight=self.max_in_flight,
            max_in_flight_per_host=dict(self.max_host_in_flight),
            connections=self.connections, open_connections=self.open_connections,
            faults_injected=dict(self.faults), bytes_sent=self.bytes_sent)
