"""The shared client's own behaviour, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from scraper.config import Network
from scraper.crawl.client import make_client
from scraper.crawl.netpolicy import AddressPolicy
from tests.local_http import serve


class CookieHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        if self.path == "/set":
            self.send_header("Set-Cookie", "session=abc; Path=/")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def server() -> Iterator[str]:
    with serve(CookieHandler) as url:
        yield url


@pytest.mark.parametrize("http2", [False, True], ids=["aiohttp", "httpx"])
def test_cookies_are_read_only_from_responses_that_set_some(server: str, http2: bool) -> None:
    network = Network(allow_loopback=True, http2=http2)

    async def main() -> tuple[list[int], str | None]:
        client = make_client(network, {"127.0.0.1": AddressPolicy.from_network(network)})
        reads: list[int] = []
        jar_extract = client.cookies.jar.extract_cookies

        def counted(*args: Any) -> None:
            reads.append(1)
            jar_extract(*args)

        client.cookies.jar.extract_cookies = counted  # type: ignore[method-assign,assignment]
        async with client:
            await client.get(server + "/plain")
            reads_after_plain = len(reads)
            await client.get(server + "/set")
            return [reads_after_plain, len(reads)], client.cookies.get("session")

    counts, session = asyncio.run(main())
    assert counts == [0, 1]
    assert session == "abc"
