"""Pages that need a cookie, a header or a login, and a record of the headers each request
carried (which host got which credentials).

    site.require_access("^/info/", basic=("archivist", "pw"))   # 401 without
    site.require_access("^/related/", cookie=("sid", "v"))      # 403 without
    site.received()   # [Received(address, target, headers), ...] once recording is on

A rule names one requirement or several (all must hold). 401 with a WWW-Authenticate
challenge when basic or bearer auth is missing or wrong, 403 when a cookie or a header is.
"""

from __future__ import annotations

import base64
import re
from collections import deque
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from scraper.testsite.faults import HTML
from scraper.testsite.pages import render_plain
from scraper.testsite.protocol import Reply, Request

MAX_RECEIVED = 10_000
# What `scraper testsite --require` protects: every page but robots.txt.
EVERY_PAGE = r"^/(?!robots\.txt$)"


@dataclass(frozen=True, slots=True)
class AccessRule:
    pattern: re.Pattern[str]  # searched in path?query
    cookie: tuple[str, str] | None = None
    header: tuple[str, str] | None = None  # name (any case), value
    basic: tuple[str, str] | None = None  # user, password
    bearer: str | None = None

    def __post_init__(self) -> None:
        if not (self.cookie or self.header or self.basic or self.bearer):
            raise ValueError("an access rule needs a cookie, a header, basic or bearer")
        if self.basic and self.bearer:
            raise ValueError("an access rule takes basic or bearer auth, not both")

    @classmethod
    def parse(cls, spec: str, pattern: str = EVERY_PAGE) -> AccessRule:
        """`basic=USER:PASSWORD`, `bearer=TOKEN`, `cookie=NAME=VALUE` or
        `header=NAME:VALUE` (the --require option). Raises ValueError."""
        kind, _, value = spec.partition("=")
        kind = kind.strip().lower()
        separator = {"basic": ":", "cookie": "=", "header": ":"}.get(kind)
        if kind == "bearer" and value:
            return cls(re.compile(pattern), bearer=value)
        if separator is not None:
            name, sep, secret = value.partition(separator)
            if sep and name and secret:
                pair = (name.strip(), secret.strip())
                compiled = re.compile(pattern)
                if kind == "basic":
                    return cls(compiled, basic=pair)
                return cls(compiled, cookie=pair) if kind == "cookie" else cls(compiled,
                                                                               header=pair)
        raise ValueError(f"cannot read the access rule {spec!r}: expected basic=USER:PASSWORD, "
                         "bearer=TOKEN, cookie=NAME=VALUE or header=NAME:VALUE")

    def refusal(self, req: Request) -> Reply | None:
        """The answer to a request that lacks what this rule asks for, or None."""
        if self.basic or self.bearer:
            expected = ("Basic " + base64.b64encode(":".join(self.basic).encode()).decode()
                        if self.basic else f"Bearer {self.bearer}")
            if req.headers.get("authorization", "") != expected:
                scheme = b"Basic" if self.basic else b"Bearer"
                return Reply(401, render_plain("Login needed", "This page needs a login."),
                             HTML + b"WWW-Authenticate: " + scheme + b' realm="testsite"\r\n',
                             fault="access")
        if self.header and req.headers.get(self.header[0].lower()) != self.header[1]:
            return _forbidden(f"This page needs the {self.header[0]} header.")
        if self.cookie and _cookies(req).get(self.cookie[0]) != self.cookie[1]:
            return _forbidden(f"This page needs the {self.cookie[0]} cookie.")
        return None


def _forbidden(why: str) -> Reply:
    return Reply(403, render_plain("Forbidden", why), HTML, fault="access")


def _cookies(req: Request) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(req.headers.get("cookie", ""))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


@dataclass(frozen=True, slots=True)
class Received:
    address: str  # the host (127.0.0.k) the request arrived on
    target: str  # path?query as sent
    headers: dict[str, str]  # lower-case names


class Access:
    """The access rules of one site and, once asked for, the headers each request carried."""

    def __init__(self) -> None:
        self.rules: list[AccessRule] = []
        self.recording = False
        self._received: deque[Received] = deque(maxlen=MAX_RECEIVED)

    def add(self, rule: AccessRule) -> AccessRule:
        self.rules.append(rule)
        self.recording = True
        return rule

    def clear(self) -> None:
        self.rules.clear()
        self._received.clear()
        self.recording = False

    def received(self) -> list[Received]:
        return list(self._received)

    def check(self, req: Request) -> Reply | None:
        """Record `req` (when recording) and return the refusal of the first rule that
        matches its path and is not met, or None."""
        if self.recording:
            self._received.append(Received(req.address, req.target, dict(req.headers)))
        target = req.path + ("?" + req.query if req.query else "")
        for rule in self.rules:
            if rule.pattern.search(target):
                refusal = rule.refusal(req)
                if refusal is not None:
                    return refusal
        return None
