"""What an HTTP answer means for a URL: its body read and decoded under the caps, its status
and transport errors as FetchErrors, and which of those are worth another attempt.

Kept apart from the Fetcher (fetch.py), which decides when and how often to ask.
"""

from __future__ import annotations

import errno
import zlib
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import brotli
import httpx

from scraper.config import Network
from scraper.crawl.netpolicy import AddressRefused
from scraper.errors import (
    BlockedURL,
    BodyTooLarge,
    FetchError,
    FetchTimeout,
    HostUnreachable,
    HTTPStatusError,
    SkippedContent,
)
from scraper.models import FetchResult
from scraper.timeutil import parse_retry_after

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SLICE = 1024 * 1024  # decompressed bytes produced per decoder call


class BodyDecoder:
    """Content-Encoding decoding that never produces more than `limit` bytes."""

    def __init__(self, encoding: str, url: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        self.produced = 0
        self.encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self._zlib: Any = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        elif encoding == "br":
            self._brotli = brotli.Decompressor()
        elif encoding not in ("", "identity"):
            raise SkippedContent(url, f"unsupported Content-Encoding {encoding!r}")

    def _count(self, data: bytes) -> bytes:
        self.produced += len(data)
        if self.produced > self.limit:
            raise BodyTooLarge(self.url, f"decompressed body is over the cap of {self.limit:,} bytes"
                                         f" (Content-Encoding {self.encoding}; a compression bomb?)")
        return data

    def feed(self, data: bytes) -> list[bytes]:
        # Output comes in slices of at most _SLICE: a decoder asked for the whole room at
        # once builds it in its own buffer before Python copies it, which held twice the cap.
        out: list[bytes] = []
        if self.encoding in ("gzip", "x-gzip", "deflate"):
            while True:
                size = min(_SLICE, self.limit - self.produced + 1)
                piece = self._count(self._zlib.decompress(data, size))
                out.append(piece)
                data = self._zlib.unconsumed_tail
                if not data and len(piece) < size:  # a full slice may leave output pending
                    return out
        if self.encoding == "br":
            while True:
                size = min(_SLICE, self.limit - self.produced + 1)
                piece = self._count(self._brotli.process(data, output_buffer_limit=size))
                out.append(piece)
                data = b""
                # A slice that filled up may leave output inside, even when the decoder
                # says it can take more input.
                if len(piece) < size and self._brotli.can_accept_more_data():
                    return out
        return [self._count(data)]


class Retryable(Exception):
    """An attempt that may succeed if repeated (timeouts, resets, 429, 5xx)."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


async def read_answer(url: str, current: str, response: httpx.Response, network: Network,
                      accept: frozenset[str], fetched_at: datetime,
                      truncate_at: int | None = None) -> FetchResult:
    """One answer as a FetchResult (a 200, a 304 or a redirect): its body read and decoded
    under the caps, or the error it means for `url` (Retryable for 429 and 5xx)."""
    status = response.status_code
    raw_headers = tuple((k.decode("latin-1"), v.decode("latin-1"))
                        for k, v in response.headers.raw)
    # One pass over the headers; httpx's Headers.get scans and decodes them all per call.
    fields: dict[str, str] = {}
    for key, value in raw_headers:
        key = key.lower()
        fields[key] = f"{fields[key]}, {value}" if key in fields else value
    result_base: dict[str, Any] = {
        "url": url, "final_url": current, "status": status, "headers": raw_headers,
        "fetched_at": fetched_at, "elapsed_s": 0.0, "http_version": response.http_version}
    if status in REDIRECT_STATUSES or status == 304:
        return FetchResult(body=b"", **result_base)
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(fields.get("retry-after"))
        raise Retryable(HTTPStatusError(url, status, status_reason(status, current)),
                         retry_after)
    if status >= 400 or status < 200:
        raise HTTPStatusError(url, status, status_reason(status, current))
    content_type = fields.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in accept:
        raise SkippedContent(url, f"content type {content_type!r} is not archived")
    declared = fields.get("content-length")
    # With truncate_at the body is cut there, not refused for its size.
    capped = truncate_at is None
    if capped and declared and declared.isdigit() and int(declared) > network.max_body_bytes:
        raise BodyTooLarge(url, f"Content-Length {int(declared):,} is over the cap of "
                                f"{network.max_body_bytes:,} bytes (network.max_body_bytes)")
    decoder = BodyDecoder(fields.get("content-encoding", "").strip().lower(), url,
                       network.max_decompressed_bytes)
    chunks: list[bytes] = []
    received = decoded = 0
    # Chunks as they arrive: with a chunk size, httpx copies them into chunks of that size.
    async for raw in response.aiter_raw():
        received += len(raw)
        if capped and received > network.max_body_bytes:
            raise BodyTooLarge(url, f"body is over the cap of {network.max_body_bytes:,} bytes"
                                    " (network.max_body_bytes); download stopped")
        try:
            pieces = decoder.feed(raw)
        except (zlib.error, brotli.error) as exc:
            raise FetchError(url, f"body does not decode as {decoder.encoding}: {exc}") \
                from None
        chunks.extend(pieces)
        if truncate_at is not None:
            decoded += sum(map(len, pieces))
            if decoded >= truncate_at:
                break  # the rest is never read
    body = b"".join(chunks)
    return FetchResult(body=body if capped else body[:truncate_at], **result_base)


def status_reason(status: int, url: str) -> str:
    names = {404: "not found", 410: "gone", 403: "forbidden", 401: "needs authentication",
             429: "too many requests", 500: "server error", 502: "bad gateway",
             503: "service unavailable", 504: "gateway timeout"}
    return f"HTTP {status} {names.get(status, '')}".rstrip()


def transport_failure(url: str, current: str, exc: httpx.TransportError,
                       network: Network) -> FetchError | Retryable:
    """What a transport error means for the URL: a refused address (not retried), a host
    that cannot be reached, a timeout or another broken exchange (retried)."""
    host = urlsplit(current).netloc
    refused = _cause_of_type(exc, AddressRefused)
    if refused is not None:
        return BlockedURL(url, f"refused: {refused}")
    if isinstance(exc, httpx.TimeoutException) and _is_timeout(exc):
        if isinstance(exc, httpx.ConnectTimeout):
            return Retryable(HostUnreachable(
                url, f"cannot connect to {host}: no answer within {network.timeout:g} s",
                host=host))
        return Retryable(FetchTimeout(url, f"timed out ({type(exc).__name__}: "
                                            f"no data for {network.timeout:g} s)"))
    connect_failed = isinstance(exc.__cause__, aiohttp.ClientConnectorError) or (
        isinstance(exc, httpx.ConnectError) and not isinstance(
            exc.__cause__, aiohttp.ClientConnectionError))
    if connect_failed:
        return Retryable(HostUnreachable(url, _transport_reason(current, exc), host=host))
    return Retryable(FetchError(url, _transport_reason(current, exc)))


def _cause_of_type(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` among `exc` and what caused it (a few links deep:
    httpx wraps httpcore's or aiohttp's error, which wraps the OSError)."""
    link: BaseException | None = exc
    for _ in range(8):
        if link is None or isinstance(link, kind):
            return link
        os_error = getattr(link, "os_error", None)  # aiohttp's connector errors keep it here
        link = os_error if isinstance(os_error, BaseException) and os_error is not link \
            else link.__cause__ or link.__context__
    return None


def _is_timeout(exc: httpx.TimeoutException) -> bool:
    """False for the aiohttp errors httpx-aiohttp reports as ConnectTimeout although no time
    ran out (its map sends every ClientConnectionError there: a server that closed the
    connection, a reset)."""
    cause = exc.__cause__
    return not isinstance(cause, aiohttp.ClientConnectionError) or isinstance(cause, TimeoutError)


def _transport_reason(url: str, exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    cause = exc.__cause__
    # Most specific first: a reset mid-body also reads "payload is not completed", and
    # "ConnectionResetError" contains "connect".
    if "reset" in lowered:
        return f"connection reset mid-answer: {text}"
    if "payload" in lowered or "content-length" in lowered or "not enough data" in lowered:
        return f"body cut short (fewer bytes than Content-Length): {text}"
    if isinstance(cause, aiohttp.ServerDisconnectedError) or "disconnect" in lowered:
        return f"the server closed the connection without answering: {text}"
    if isinstance(cause, aiohttp.ClientConnectorError):
        refused = getattr(cause.os_error, "errno", None) == errno.ECONNREFUSED
        return f"cannot connect{' (connection refused)' if refused else ''}: {text}"
    if isinstance(exc, httpx.ConnectError) or "connect" in lowered:
        return f"cannot connect: {text}"
    if "closed" in lowered:
        return f"connection closed mid-answer: {text}"
    return f"{type(exc).__name__}: {text}"


def unreadable_answer_reason(exc: BaseException) -> str:
    """A sentence for an exception that an HTTP library raised on one URL's answer."""
    detail = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
    text = " ".join(w for w in str(detail).split() if w != "^") or type(exc).__name__
    if len(text) > 300:
        text = text[:300] + "..."
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"malformed HTTP answer: {text}"
    if isinstance(exc, httpx.InvalidURL):
        # httpx reads a redirect's Location before handing the answer over.
        return f"redirect to a URL that is never fetched (the Location is refused: {text})"
    return f"the answer could not be read ({type(exc).__name__}: {text})"
