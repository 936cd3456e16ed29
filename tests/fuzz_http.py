"""A loopback HTTP server that answers with randomly mutated responses (issue 16).

Each path `/f/<n>` gets an answer made from a seeded random generator, so a failing case can
be replayed by its number: a valid page, redirect or error, then a few mutations of the status
line, the headers, the framing (lengths, chunking), the encodings, the Location and the body,
or of the connection itself (closed, reset, stalled briefly). `/` lists every `/f/<n>` as a
link, so one crawl that follows internal links asks for all of them; `/robots.txt` is mutated
per listening port when asked, each port being an origin of its own.

Not a mock: it writes raw bytes on real sockets, as a broken or hostile server would.
"""

from __future__ import annotations

import gzip
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

PAGE = (b"<!DOCTYPE html><html><head><title>Fuzz page %d</title>"
        b'<meta name="description" content="Page %d of the fuzz site."></head>'
        b"<body><h1>Page %d</h1><p>Some text about page %d, long enough to be a summary of "
        b"it.</p>%s</body></html>")
LOCATIONS = [b"about:blank", b"mailto:someone@example.org", b"data:text/html,<p>hi</p>",
             b"javascript:alert(1)", b"http:no-slashes", b"http://user:pw@127.0.0.1/f/1",
             b"//user@127.0.0.1/x", b"http://[::1", b"http://127.0.0.1:99999/", b"",
             b"http://", b"ftp://127.0.0.1/file", b"/f/%d", b"../../f/%d?x=1#frag",
             b"http://127.0.0.1:%d/f/%d", b"/f/\xff\xfe%d", b"/f/ %d", b"\t/f/%d",
             b"https://127.0.0.1:1/", b"http://[fe80::1%25lo]/", b"http://0x7f.1/",
             b"/" + b"a" * 9000]
STATUS_LINES = [b"HTTP/1.1 abc Weird", b"HTTP/1.1 999 What", b"HTTP/1.1 -200 OK",
                b"HTTP/9.9 200 OK", b"HTTP/1.1 200", b"HTTP/1.1  200  OK", b"http/1.1 200 ok",
                b"HTTP/1.1 100 Continue", b"HTTP/1.1 204 No Content", b"ICY 200 OK",
                b"HTTP/1.1 2000 OK", b"HTTP/1.1 200 OK\x00", b"", b"HTTP/1.0 200 OK",
                b"HTTP/1.1 304 Not Modified", b"HTTP/1.1 401 Who", b"HTTP/1.1 429 Slow down",
                b"HTTP/1.1 503 Busy", b"HTTP/1.1 418 Teapot"]


@dataclass(slots=True)
class Answer:
    """One response as parts, mutated before it is written."""

    status: bytes = b"HTTP/1.1 200 OK"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    framing: str = "length"  # length | chunked | close
    line_end: bytes = b"\r\n"
    action: str = "send"  # send | close | reset | nothing | http09 | stall
    mutations: list[str] = field(default_factory=list)
    raw: bytes | None = None  # given: sent as it is instead of the parts above

    def header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def drop(self, name: bytes) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]

    def render(self) -> bytes:
        if self.raw is not None:
            return self.raw
        end = self.line_end
        headers = list(self.headers)
        body = self.body
        if self.framing == "length" and not any(k.lower() == b"content-length"
                                                for k, _ in headers):
            headers.append((b"Content-Length", str(len(body)).encode()))
        if self.framing == "chunked":
            if not any(k.lower() == b"transfer-encoding" for k, _ in headers):
                headers.append((b"Transfer-Encoding", b"chunked"))
            body = _chunked(body)
        head = self.status + end + b"".join(k + b": " + v + end for k, v in headers) + end
        return head + body


def _chunked(body: bytes, size: int = 700) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                   for i in range(0, len(body), size))
    return out + b"0\r\n\r\n"


# -- mutations ------------------------------------------------------------------------------

def _bad_status(a: Answer, rng: random.Random, n: int) -> None:
    a.status = rng.choice(STATUS_LINES)


def _lf_only(a: Answer, rng: random.Random, n: int) -> None:
    a.line_end = b"\n"


def _conflicting_lengths(a: Answer, rng: random.Random, n: int) -> None:
    a.drop(b"Content-Length")
    a.header(b"Content-Length", str(len(a.body)).encode())
    a.header(b"Content-Length", str(len(a.body) + rng.randint(1, 50)).encode())


def _bad_length(a: Answer, rng: random.Random, n: int) -> None:
    a.drop(b"Content-Length")
    value = rng.choice([b"-5", b"abc", b"1e3", b" 12", b"99999999999999999999999",
                        str(len(a.body) + 500).encode(), str(max(0, len(a.body) - 30)).encode(),
                        b"0x10", b"+7"])
    a.header(b"Content-Length", value)


def _length_and_chunked(a: Answer, rng: random.Random, n: int) -> None:
    a.framing = "chunked"
    a.header(b"Content-Length", str(len(a.body)).encode())


def _bad_chunking(a: Answer, rng: random.Random, n: int) -> None:
    a.framing = "raw"
    a.header(b"Transfer-Encoding", rng.choice([b"chunked", b"chunked, gzip", b"gzip, chunked",
                                               b"identity", b"bogus"]))
    chunked = _chunked(a.body)
    kind = rng.randrange(4)
    if kind == 0:
        chunked = b"zz\r\n" + chunked
    elif kind == 1:
        chunked = chunked[: len(chunked) // 2]
    elif kind == 2:
        chunked = chunked.replace(b"\r\n", b"\n", 3)
    else:
        chunked = b"ffffffffffffffff\r\n" + a.body
    a.body = chunked


def _many_headers(a: Answer, rng: random.Random, n: int) -> None:
    for i in range(rng.choice([120, 300, 1000])):
        a.header(b"X-Filler-%d" % i, b"v" * rng.randint(1, 40))


def _huge_header(a: Answer, rng: random.Random, n: int) -> None:
    a.header(b"X-Huge", b"a" * rng.choice([9000, 70000, 300000]))


def _odd_header_bytes(a: Answer, rng: random.Random, n: int) -> None:
    a.header(rng.choice([b"X Bad Name", b"X-\xffName", b"", b":colon", b"X-Nul\x00"]),
             rng.choice([b"\xff\xfe\x00bytes", b"line\rbreak", b"\x1b[31mred", b"ok"]))
    if rng.random() < 0.5:
        a.headers.append((b" folded", b"continuation"))


def _bad_encoding(a: Answer, rng: random.Random, n: int) -> None:
    encoding = rng.choice([b"gzip", b"deflate", b"br", b"x-gzip", b"compress", b"zstd",
                           b"gzip, br", b"identity", b"GZIP"])
    a.drop(b"Content-Encoding")
    a.header(b"Content-Encoding", encoding)
    kind = rng.randrange(3)
    if kind == 0:  # not encoded at all
        return
    if kind == 1 and encoding in (b"gzip", b"x-gzip", b"GZIP"):  # encoded, then cut
        packed = gzip.compress(a.body)
        a.body = packed[: rng.randint(1, len(packed))]
        a.drop(b"Content-Length")
        return
    a.body = bytes(rng.randrange(256) for _ in range(rng.randint(1, 400)))
    a.drop(b"Content-Length")


def _content_type(a: Answer, rng: random.Random, n: int) -> None:
    a.drop(b"Content-Type")
    a.header(b"Content-Type", rng.choice([
        b"text/html; charset=utf-999", b"text/html; charset=", b"TEXT/HTML", b"text/plain",
        b"application/octet-stream", b"text/html;;;", b"\xff/\xfe", b"text/html; charset=utf-16",
        b"image/png"]))


def _redirect(a: Answer, rng: random.Random, n: int) -> None:
    a.status = b"HTTP/1.1 " + rng.choice([b"301 Moved", b"302 Found", b"303 See Other",
                                          b"307 Temporary", b"308 Permanent", b"300 Choices"])
    location = rng.choice(LOCATIONS)
    if location.count(b"%d") == 2:
        location = location % (rng.randint(0, 65535), rng.randint(0, n + 5))
    elif b"%d" in location:
        location = location % rng.randint(0, n + 5)
    a.drop(b"Location")
    if location or rng.random() < 0.5:
        a.header(b"Location", location)
    if rng.random() < 0.3:
        a.header(b"Location", b"/f/%d" % (n + 1))  # two Location headers


def _body_garbage(a: Answer, rng: random.Random, n: int) -> None:
    kind = rng.randrange(5)
    if kind == 0:
        a.body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 3000)))
    elif kind == 1:
        a.body = a.body[: rng.randint(0, len(a.body))]
    elif kind == 2:
        depth = rng.randint(100, 3000)
        a.body = b"<html><body>" + b"<div>" * depth + b"deep" + b"</div>" * depth
    elif kind == 3:
        a.body = a.body.replace(b"Page", b"\x00\xff\xfe\x1b]52;c;aGk=\x07")
    else:
        a.body = b"\xef\xbb\xbf" + a.body + b"<a href='http://user:pw@127.0.0.1/x'>x</a>" \
            b"<a href='javascript:1'>j</a><a href='http://[::1'>b</a>"
    a.drop(b"Content-Length")


def _connection(a: Answer, rng: random.Random, n: int) -> None:
    a.action = rng.choice(["close", "reset", "nothing", "http09", "stall", "close_mid"])


MUTATIONS: list[tuple[str, Callable[[Answer, random.Random, int], None]]] = [
    ("status", _bad_status), ("lf-only", _lf_only), ("lengths", _conflicting_lengths),
    ("length", _bad_length), ("length+chunked", _length_and_chunked),
    ("chunking", _bad_chunking), ("many-headers", _many_headers),
    ("huge-header", _huge_header), ("header-bytes", _odd_header_bytes),
    ("encoding", _bad_encoding), ("content-type", _content_type), ("redirect", _redirect),
    ("body", _body_garbage), ("connection", _connection),
]


def answer_for(seed: int, n: int, links: bytes = b"") -> Answer:
    """The answer to `/f/<n>`: a page, then 0-3 mutations (a tenth of the pages are left
    valid so that the crawl has pages to store)."""
    rng = random.Random(seed * 1_000_003 + n)
    a = Answer(headers=[(b"Content-Type", b"text/html; charset=utf-8"),
                        (b"Connection", rng.choice([b"keep-alive", b"close"]))],
               body=PAGE % (n, n, n, n, links))
    if rng.random() < 0.1:
        return a
    for _ in range(rng.choice([1, 1, 2, 3])):
        name, mutate = rng.choice(MUTATIONS)
        a.mutations.append(name)
        mutate(a, rng, n)
    return a


def robots_for(seed: int, port_index: int) -> Answer:
    """A robots.txt answer for one origin: valid, huge, missing, erroring or mutated."""
    rng = random.Random(seed * 7919 + port_index)
    text = b"User-agent: *\nDisallow: /f/1\nCrawl-delay: 0\n"
    a = Answer(headers=[(b"Content-Type", b"text/plain")], body=text)
    kind = rng.randrange(6)
    if kind == 1:
        a.body = text + b"# " + b"x" * 700_000 + b"\nDisallow: /\n"  # over Google's 500 KiB
    elif kind == 2:
        a.status = rng.choice([b"HTTP/1.1 404 Not Found", b"HTTP/1.1 500 Oops",
                               b"HTTP/1.1 403 Forbidden"])
    elif kind >= 3:
        name, mutate = rng.choice(MUTATIONS)
        a.mutations.append(name)
        mutate(a, rng, 0)
    return a


# -- the server -----------------------------------------------------------------------------

class FuzzServer:
    """Listens on `ports` loopback ports (each its own origin) and answers every request from
    answer_for/robots_for. `requests` counts what was asked, by port and path."""

    def __init__(self, *, seed: int, pages: int, ports: int = 1, mutate_robots: bool = False,
                 stall_s: float = 0.3) -> None:
        self.seed = seed
        self.pages = pages
        self.mutate_robots = mutate_robots
        self.stall_s = stall_s
        self.requests: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        for _ in range(ports):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(256)
            sock.settimeout(0.1)
            self._socks.append(sock)
        self.ports = [s.getsockname()[1] for s in self._socks]
        self._threads = [threading.Thread(target=self._accept, args=(i, s), daemon=True)
                         for i, s in enumerate(self._socks)]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        for sock in self._socks:
            sock.close()

    def base(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def index_page(self) -> bytes:
        links = b"".join(b'<li><a href="/f/%d">page %d</a></li>' % (n, n)
                         for n in range(self.pages))
        return (b"<!DOCTYPE html><html><head><title>Fuzz index</title></head><body>"
                b"<h1>Index</h1><p>Every page of the fuzz site.</p><ul>" + links +
                b"</ul></body></html>")

    def _accept(self, index: int, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(index, conn), daemon=True).start()

    def _serve(self, index: int, conn: socket.socket) -> None:
        conn.settimeout(5)
        buffer = b""
        try:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                parts = head.split(b"\r\n", 1)[0].split(b" ")
                path = parts[1].decode("latin-1") if len(parts) > 1 else "/"
                with self._lock:
                    self.requests.append((index, path))
                answer = self._answer(index, path)
                if not self._write(conn, answer):
                    return
                if any(k.lower() == b"connection" and v == b"close" for k, v in answer.headers) \
                        or answer.framing != "length" or answer.action != "send":
                    return
        except OSError:
            return
        finally:
            conn.close()

    def _answer(self, index: int, path: str) -> Answer:
        if path == "/robots.txt":
            if self.mutate_robots:
                return robots_for(self.seed, index)
            return Answer(status=b"HTTP/1.1 404 Not Found", body=b"",
                          headers=[(b"Content-Type", b"text/plain")])
        if path == "/":
            return Answer(headers=[(b"Content-Type", b"text/html")], body=self.index_page())
        number = path.removeprefix("/f/").split("?")[0]
        n = int(number) if number.isdigit() else self.pages + 1
        return answer_for(self.seed, n, b'<a href="/f/%d">next</a>' % ((n + 7) % self.pages))

    def _write(self, conn: socket.socket, answer: Answer) -> bool:
        """Write the answer as its action says; False when the connection is done."""
        action = answer.action
        if action == "nothing":
            return False
        if action == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if action == "http09":
            conn.sendall(answer.body)
            return False
        raw = answer.render()
        if action == "close":
            conn.sendall(raw[: len(raw) // 3])
            return False
        if action == "close_mid":
            conn.sendall(raw[: max(1, len(raw) - 40)])
            return False
        if action == "stall":
            conn.sendall(raw[: len(raw) // 2])
            time.sleep(self.stall_s)
            conn.sendall(raw[len(raw) // 2:])
            return False
        conn.sendall(raw)
        return True


# -- named malformed answers (the cases that once ended a run) --------------------------------

_HTML = b"Content-Type: text/html\r\n"


def _ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + _HTML + b"Content-Length: %d\r\n\r\n" % len(body) + body


MALFORMED_ANSWERS: dict[str, bytes] = {
    "status line that is not one": b"HTTP/1.1 abc Weird\r\n\r\nhello",
    "HTTP/0.9 bytes (no status line)": b"<html><body>hello</body></html>",
    "redirect to about:blank": b"HTTP/1.1 302 Found\r\nLocation: about:blank\r\n"
                               b"Content-Length: 0\r\n\r\n",
    "redirect to mailto:": b"HTTP/1.1 302 Found\r\nLocation: mailto:x@example.org\r\n"
                           b"Content-Length: 0\r\n\r\n",
    "redirect to data:": b"HTTP/1.1 301 Moved\r\nLocation: data:text/html,hi\r\n"
                         b"Content-Length: 0\r\n\r\n",
    "redirect without //": b"HTTP/1.1 302 Found\r\nLocation: http:elsewhere\r\n"
                           b"Content-Length: 0\r\n\r\n",
    "redirect with credentials": b"HTTP/1.1 302 Found\r\nLocation: http://user:pw@127.0.0.1/x"
                                 b"\r\nContent-Length: 0\r\n\r\n",
    "negative Content-Length": b"HTTP/1.1 200 OK\r\n" + _HTML + b"Content-Length: -5\r\n\r\nhello",
    "conflicting Content-Lengths": b"HTTP/1.1 200 OK\r\n" + _HTML +
                                   b"Content-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
    "bad chunk size": b"HTTP/1.1 200 OK\r\n" + _HTML + b"Transfer-Encoding: chunked\r\n\r\n"
                      b"zz\r\nhello\r\n0\r\n\r\n",
    "header line over 8 KiB": b"HTTP/1.1 200 OK\r\n" + _HTML + b"X-Big: " + b"a" * 100_000 +
                              b"\r\nContent-Length: 5\r\n\r\nhello",
    "200 headers": b"HTTP/1.1 200 OK\r\n" + _HTML +
                   b"".join(b"X-H%d: v\r\n" % i for i in range(200)) +
                   b"Content-Length: 5\r\n\r\nhello",
    "gzip that is not": b"HTTP/1.1 200 OK\r\n" + _HTML + b"Content-Encoding: gzip\r\n"
                        b"Content-Length: 9\r\n\r\nnot gzip!",
    "400,000 nested <div>s": _ok(b"<html><body>" + b"<div>" * 400_000),
    "one tag with 200,000 attributes": _ok(
        b"<html><div " + b" ".join(b"a%d=1" % i for i in range(200_000)) + b">x</div>"),
}


class MalformedServer(FuzzServer):
    """Answers `/m/<i>` with the i-th of MALFORMED_ANSWERS, as raw bytes, then closes."""

    def __init__(self) -> None:
        super().__init__(seed=0, pages=0)
        self.cases = list(MALFORMED_ANSWERS.items())

    def url(self, index: int) -> str:
        return f"{self.base()}/m/{index}"

    def _answer(self, index: int, path: str) -> Answer:
        number = path.removeprefix("/m/")
        if number.isdigit() and int(number) < len(self.cases):
            return Answer(raw=self.cases[int(number)][1], framing="close")
        return Answer(status=b"HTTP/1.1 404 Not Found", framing="close")
