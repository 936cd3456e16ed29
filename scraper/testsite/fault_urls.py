"""Fixed fault URLs under /fault/ that tests can link to; each answers with one documented fault."""

from __future__ import annotations

import asyncio
import functools
import random
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from html import escape
from urllib.parse import parse_qs, quote

import brotli

from scraper.testsite import faults
from scraper.testsite.faults import HTML, error_reply, retry_after_reply
from scraper.testsite.pages import TINY_PDF, tiny_jpeg
from scraper.testsite.protocol import Connection, FuncAction, Reply, Request, response_head

MAX_BOMB = 16 << 30
MAX_BUILT = 4_000_000  # links or nesting levels built in memory
CHUNK = 1 << 20
BOMB_PREFIX = b"<!DOCTYPE html><html><head><title>bomb</title></head><body><p>"

# (URL form, what it answers): the index page at /fault/ and docs/testsite.md show these.
FAULT_URLS: tuple[tuple[str, str], ...] = (
    ("/fault/status/<codes>[/<key>]",
     "the comma-separated statuses in turn per key, then the last one forever (503,503,200)"),
    ("/fault/retry-after/<s>[/<key>][?count=1&status=429]",
     "429 with Retry-After: <s> `count` times per key, then 200"),
    ("/fault/retry-after-date/<s>[/<key>]", "the same with Retry-After as an HTTP-date"),
    ("/fault/slow-body/<bytes_per_s>[?size=2048]", "a page trickled at that rate"),
    ("/fault/stall[?size=4096]", "headers with a Content-Length, then nothing"),
    ("/fault/truncated[?size=10000&sent=2000]", "Content-Length larger than the body, then close"),
    ("/fault/reset[?size=10000&sent=4096]", "part of the body, then a TCP reset (SO_LINGER 0)"),
    ("/fault/timeout", "reads the request and never answers"),
    ("/fault/empty", "closes the connection without answering"),
    ("/fault/redirect-loop/<n>", "a loop of n URLs redirecting to each other"),
    ("/fault/redirect-chain/<n>[?to=/related/NATO]", "n redirects, then the page `to`"),
    ("/fault/redirect-to?url=<url>[&status=302]", "a redirect to any URL"),
    ("/fault/huge/<bytes>[?chunked=1]", "an HTML body of that size, streamed"),
    ("/fault/non-html", "a PDF (application/pdf)"),
    ("/fault/image", "a JPEG image"),
    ("/fault/gzip-bomb[/<bytes>]", "Content-Encoding: gzip, ~1 MB expanding to <bytes> (1 GiB)"),
    ("/fault/brotli-bomb[/<bytes>]", "Content-Encoding: br, expanding to <bytes> (1 GiB)"),
    ("/fault/binary-as-html", "64 KiB of random bytes as text/html"),
    ("/fault/invalid-utf8", "a page declared UTF-8 with invalid byte sequences"),
    ("/fault/lying-charset", "declared UTF-8 in the header, encoded windows-1252"),
    ("/fault/lying-charset/meta", "no header charset; a meta charset windows-1252 on UTF-8"),
    ("/fault/many-links/<n>", "a page with n links"),
    ("/fault/deep-nesting/<depth>", "<div> nested depth times"),
    ("/fault/huge-attribute/<bytes>", "a link whose title attribute has that many bytes"),
    ("/fault/nul-bytes", "a page with NUL bytes in text, attributes and tag names"),
    ("/fault/private-links[?port=N]",
     "links to private, link-local and loopback hosts; file:, ftp:, javascript:, data: URLs"),
)


def _page(title: str, body: str) -> bytes:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"</head><body><h1>{escape(title)}</h1>\n{body}\n</body></html>\n").encode()


def _int(text: str, what: str, low: int = 0, high: int = MAX_BOMB) -> int:
    try:
        value = int(text)
    except ValueError:
        raise KeyError(f"{what} must be a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise KeyError(f"{what} must be within {low}..{high}, got {value}")
    return value


def filler(size: int) -> Iterator[bytes]:
    """`size` bytes of an HTML page in chunks of at most 64 KiB, without holding it whole."""
    head = b"<!DOCTYPE html><html><head><title>Huge page</title></head><body>\n"
    para = b"<p>" + b"This page goes on and on. " * 40 + b"</p>\n"
    block = para * (65536 // len(para) + 1)
    block = block[:65536]
    first = head[:size]
    if first:
        yield first
    left = size - len(first)
    while left > 0:
        part = block[:left]
        left -= len(part)
        yield part


@functools.lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """A gzip body that expands to `size` bytes of HTML (about 1 KB per MB).

    Each 1 MiB run is compressed once after a full flush, so its bytes can be repeated: the
    body is built in well under a second even for gigabytes.
    """
    def seg(data: bytes) -> bytes:
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        return comp.compress(data) + comp.flush(zlib.Z_FULL_FLUSH)

    prefix = BOMB_PREFIX[:size]
    full, last = divmod(size - len(prefix), CHUNK)
    chunk = b" " * CHUNK
    crc = zlib.crc32(prefix)
    for _ in range(full):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(b" " * last, crc)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return b"".join((b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff", seg(prefix), seg(chunk) * full,
                     seg(b" " * last) if last else b"", final,
                     struct.pack("<II", crc, size & 0xFFFFFFFF)))


@functools.lru_cache(maxsize=4)
def brotli_bomb(size: int) -> bytes:
    """A brotli body that expands to `size` bytes of HTML (about 190 KB per GB)."""
    comp = brotli.Compressor(quality=1)
    out = [comp.process(BOMB_PREFIX[:size])]
    left = size - min(size, len(BOMB_PREFIX))
    chunk = b" " * CHUNK
    while left > 0:
        out.append(comp.process(chunk[:left]))
        left -= min(left, CHUNK)
    out.append(comp.finish())
    return b"".join(out)


@functools.lru_cache(maxsize=1)
def binary_bytes() -> bytes:
    return random.Random(0).randbytes(65536)


def invalid_utf8() -> bytes:
    return (b'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Invalid UTF-8</title>'
            b"</head><body><h1>Invalid UTF-8</h1>\n<p>Lone byte \xff\xfe, cut sequence \xc3\x28, "
            b"truncated \xe2\x82, overlong \xc0\xaf, surrogate \xed\xa0\x80, and valid "
            b"caf\xc3\xa9.</p>\n</body></html>\n")


TRICKY_TEXT = "Café – “Résumé” naïve € Zürich Kraków"


def lying_charset(meta: bool) -> tuple[bytes, bytes]:
    """(Content-Type header line, body): the declared charset is not the one used."""
    if meta:  # meta says windows-1252, bytes are UTF-8; the header names no charset
        body = ('<!DOCTYPE html>\n<html><head><meta charset="windows-1252"><title>Lying meta'
                f"</title></head><body><h1>Lying meta</h1>\n<p>{TRICKY_TEXT}</p>\n</body></html>\n")
        return b"Content-Type: text/html\r\n", body.encode("utf-8")
    body = ('<!DOCTYPE html>\n<html><head><title>Lying charset</title></head><body>'
            f"<h1>Lying charset</h1>\n<p>{TRICKY_TEXT.replace(' Kraków', '')}</p>\n</body></html>\n")
    return HTML, body.encode("windows-1252")


@functools.lru_cache(maxsize=4)
def many_links(n: int) -> bytes:
    links = "".join(f'<a href="/fault/many-links/target/{i}">link {i}</a>\n' for i in range(n))
    return _page(f"{n} links", links)


@functools.lru_cache(maxsize=4)
def deep_nesting(depth: int) -> bytes:
    return _page(f"Nested {depth} deep", "<div>" * depth + "<p>The bottom.</p>" + "</div>" * depth)


def nul_bytes() -> bytes:
    return (b'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>NUL\x00bytes</title>'
            b"</head><body><h1>NUL\x00 bytes</h1>\n<p>Text with \x00 NUL \x00\x00 bytes.</p>\n"
            b'<a href="/info/NATO\x00x" title="a\x00b">link\x00</a><di\x00v>odd tag</di\x00v>\n'
            b"</body></html>\n")


def private_links(port: int) -> bytes:
    urls = ("http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/",
            "http://192.168.1.1/", f"http://[::1]:{port}/", f"http://localhost:{port}/",
            "http://0.0.0.0/", "http://172.16.0.1/", "file:///etc/passwd",
            "ftp://ftp.example.invalid/file.txt", "javascript:alert(1)",
            "data:text/html,<b>hello</b>", "mailto:someone@example.org")
    items = "".join(f'<li><a href="{escape(u)}">{escape(u)}</a></li>\n' for u in urls)
    return _page("Private and odd links", f"<ul>\n{items}</ul>")


class FaultURLs:
    """The /fault/ routes, with their per-key request counters."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()

    def reset(self) -> None:
        self.seen.clear()

    def handle(self, req: Request, port: int) -> Reply | FuncAction:
        """KeyError (a 404) for an unknown or malformed fault URL."""
        parts = req.path.split("/")[2:]
        name, args = (parts[0] if parts else ""), parts[1:]
        query = {k: v[-1] for k, v in parse_qs(req.query).items()}
        arg = args[0] if args else ""
        if name in ("", "index"):
            rows = "".join(f"<tr><td><code>{escape(u)}</code></td><td>{escape(d)}</td></tr>\n"
                           for u, d in FAULT_URLS)
            return Reply(200, _page("Fault URLs", f"<table>{rows}</table>"), HTML)
        if name == "status":
            codes = [_int(c, "status", 100, 599) for c in arg.split(",")] if arg else [500]
            n = self._next(name, "/".join(args))
            status = codes[min(n, len(codes) - 1)]
            if status < 400:
                head = HTML + (b"Location: /\r\n" if 300 <= status < 400 else b"")
                body = _page(f"Status {status}", f"<p>Request {n + 1} for this key.</p>")
                return Reply(status, body, head, fault=None if n >= len(codes) - 1 else "status")
            return error_reply(status, fault="status")
        if name in ("retry-after", "retry-after-date"):
            seconds = _int(arg or "1", "seconds", 0, 86400)
            times = _int(query.get("count", "1"), "count", 0, 1000)
            status = _int(query.get("status", "429"), "status", 400, 599)
            if self._next(name, "/".join(args)) < times:
                return retry_after_reply(seconds, name == "retry-after-date", status)
            return Reply(200, _page("Retry done", "<p>Thanks for waiting.</p>"), HTML)
        size = _int(query.get("size", "0"), "size") if "size" in query else None
        if name == "slow-body":
            rate = _int(arg or "100", "bytes_per_s", 1, 1 << 30)
            body = _page("Slow page", "<p>" + "slowly " * ((size or 2048) // 7) + "</p>")
            return faults.slow_body(Reply(200, body[:size] if size else body, HTML), rate,
                                    fault=name)
        if name == "stall":
            return faults.stall(Reply(200, b" " * (size or 4096), HTML), fault=name)
        if name in ("truncated", "reset"):
            length = size or 10000
            sent = _int(query.get("sent", "2000" if name == "truncated" else "4096"), "sent")
            body = b"".join(filler(length))
            build = faults.truncate if name == "truncated" else faults.reset
            return build(Reply(200, body, HTML), min(sent, length - 1), fault=name, length=length)
        if name == "timeout":
            return faults.no_answer(fault=name)
        if name == "empty":
            return faults.close_now(fault=name)
        if name == "redirect-loop":
            n = _int(arg or "2", "n", 1, 1000)
            i = _int(args[1], "i", 0, n - 1) if len(args) > 1 else 0
            return self._redirect(f"/fault/redirect-loop/{n}/{(i + 1) % n}", 302, name)
        if name == "redirect-chain":
            n = _int(arg or "3", "n", 0, 1000)
            to = query.get("to", "/related/NATO")
            if n <= 1:
                return self._redirect(to, 302, name)
            suffix = f"?to={quote(to, safe='/')}" if "to" in query else ""
            return self._redirect(f"/fault/redirect-chain/{n - 1}{suffix}", 302, name)
        if name == "redirect-to":
            if "url" not in query:
                raise KeyError("redirect-to needs ?url=")
            return self._redirect(query["url"], _int(query.get("status", "302"), "status",
                                                      300, 399), name)
        if name == "huge":
            total = _int(arg or str(1 << 30), "bytes")
            chunked = query.get("chunked", "0") not in ("0", "")
            return faults.stream(200, HTML, filler(total), None if chunked else total, name)
        if name == "non-html":
            return Reply(200, TINY_PDF, b"Content-Type: application/pdf\r\n", fault=name)
        if name == "image":
            return Reply(200, tiny_jpeg(), b"Content-Type: image/jpeg\r\n", fault=name)
        if name in ("gzip-bomb", "brotli-bomb"):
            return self._bomb(name, _int(arg or str(1 << 30), "bytes", 1))
        if name == "binary-as-html":
            return Reply(200, binary_bytes(), HTML, fault=name)
        if name == "invalid-utf8":
            return Reply(200, invalid_utf8(), HTML, fault=name)
        if name == "lying-charset":
            head, body = lying_charset(arg == "meta")
            return Reply(200, body, head, fault=name)
        if name == "many-links":
            if arg == "target":
                return Reply(200, _page("Link target", "<p>A link target.</p>"), HTML)
            return Reply(200, many_links(_int(arg or "100000", "n", 0, MAX_BUILT)), HTML,
                         fault=name)
        if name == "deep-nesting":
            return Reply(200, deep_nesting(_int(arg or "10000", "depth", 0, MAX_BUILT)), HTML,
                         fault=name)
        if name == "huge-attribute":
            return self._huge_attribute(_int(arg or str(1 << 20), "bytes", 0, 1 << 30))
        if name == "nul-bytes":
            return Reply(200, nul_bytes(), HTML, fault=name)
        if name == "private-links":
            return Reply(200, private_links(_int(query.get("port", str(port)), "port", 1, 65535)),
                         HTML, fault=name)
        raise KeyError(f"no fault URL /fault/{name}")

    def _next(self, name: str, key: str) -> int:
        n = self.seen[(name, key)]
        self.seen[(name, key)] = n + 1
        return n

    @staticmethod
    def _redirect(location: str, status: int, fault: str) -> Reply:
        head = b"Location: " + location.encode("utf-8", "replace") + b"\r\n" + HTML
        body = _page("Redirect", f'<p>Moved to <a href="{escape(location)}">here</a>.</p>')
        return Reply(status, body, head, fault=fault)

    @staticmethod
    def _bomb(name: str, size: int) -> FuncAction:
        build, coding = (gzip_bomb, b"gzip") if name == "gzip-bomb" else (brotli_bomb, b"br")

        async def run(conn: Connection, req: Request) -> int:
            # Building a bomb takes a moment the first time: keep the event loop serving.
            body = await asyncio.get_running_loop().run_in_executor(None, build, size)
            head = HTML + b"Content-Encoding: " + coding + b"\r\n"
            conn.write(response_head(200, head, len(body), req.keep_alive))
            if req.method != "HEAD":
                conn.write(body)
                await conn.drain()
            return 200
        return FuncAction(run, name)

    @staticmethod
    def _huge_attribute(size: int) -> FuncAction:
        start = b'<!DOCTYPE html>\n<html><head><title>Huge attribute</title></head><body>' \
                b'<a href="/info/NATO" title="'
        end = b'">NATO</a></body></html>\n'

        def chunks() -> Iterator[bytes]:
            yield start
            block = b"A" * 65536
            left = size
            while left > 0:
                yield block[:left]
                left -= min(left, 65536)
            yield end
        return faults.stream(200, HTML, chunks(), len(start) + size + len(end), "huge-attribute")
