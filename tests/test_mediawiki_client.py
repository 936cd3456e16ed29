"""The MediaWiki API client over httpx.MockTransport: etiquette, errors, retries, continuation
and batching (the real-server tests are in tests/mediawiki/)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from scraper.errors import FetchError, HTTPStatusError
from scraper.mediawiki import (
    ApiError,
    BadAnswer,
    MaxLagError,
    MediaWikiClient,
    NoApiFound,
    PageMissing,
    Unsupported,
    discover_api_url,
)

API = "https://wiki.example/w/api.php"
UA = "scraper-tests/1.0 (mailto:tests@example.org)"
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def params_of(request: httpx.Request) -> dict[str, str]:
    if request.method == "POST":
        raw = request.content.decode()
    else:
        raw = request.url.query.decode()
    return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}


class Wiki:
    """Records requests and answers them with a function of the parameters."""

    def __init__(self, answer: Callable[[dict[str, str], int], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001)
            return self.answer(params_of(request), len(self.requests))
        finally:
            self.in_flight -= 1


def run(wiki: Wiki, body: Callable[[MediaWikiClient], Awaitable[Any]], *,
        sleeps: list[float] | None = None, **kwargs: Any) -> Any:
    async def main() -> Any:
        async def sleep(seconds: float) -> None:
            if sleeps is not None:
                sleeps.append(seconds)

        async with httpx.AsyncClient(transport=httpx.MockTransport(wiki)) as http:
            client = MediaWikiClient(http, API, user_agent=UA, sleep=sleep, **kwargs)
            return await body(client)

    return asyncio.run(main())


def ok(data: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.Response(200, json=data, headers=headers)


SITEINFO = {"query": {"general": {"server": "https://wiki.example", "articlepath": "/wiki/$1",
                                  "script": "/w/index.php", "scriptpath": "/w",
                                  "generator": "MediaWiki 1.39.17", "mainpage": "Main Page"},
                      "extensions": [{"name": "Cite"}]}}


def test_every_request_carries_user_agent_maxlag_and_json_format() -> None:
    wiki = Wiki(lambda p, n: ok({"batchcomplete": True, "query": {"allpages": []}}))
    run(wiki, lambda c: c.all_pages())
    (request,) = wiki.requests
    assert request.headers["user-agent"] == UA
    params = params_of(request)
    assert params["maxlag"] == "5" and params["format"] == "json"
    assert params["formatversion"] == "2"


def test_maxlag_refusal_waits_retry_after_then_succeeds() -> None:
    def answer(params: dict[str, str], n: int) -> httpx.Response:
        if n == 1:
            return ok({"error": {"code": "maxlag", "info": "Waiting for db2: 7 seconds lagged",
                                 "lag": 7}}, **{"Retry-After": "7",
                                                "MediaWiki-API-Error": "maxlag"})
        return ok({"query": {"allpages": [{"title": "A", "ns": 0, "pageid": 1}]}})

    sleeps: list[float] = []
    wiki = Wiki(answer)
    refs = run(wiki, lambda c: c.all_pages(), sleeps=sleeps)
    assert [r.title for r in refs] == ["A"]
    assert sleeps == [7.0]
    assert len(wiki.requests) == 2


def test_maxlag_as_503_is_read_as_an_api_error_not_retried_as_5xx() -> None:
    def answer(params: dict[str, str], n: int) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "maxlag", "info": "lagged"}},
                              headers={"Retry-After": "2", "MediaWiki-API-Error": "maxlag"})

    sleeps: list[float] = []
    wiki = Wiki(answer)
    with pytest.raises(MaxLagError) as info:
        run(wiki, lambda c: c.all_pages(), sleeps=sleeps, maxlag_retries=2)
    assert sleeps == [2.0, 4.0]  # Retry-After, then twice that: lag that stays backs off
    assert len(wiki.requests) == 3 and info.value.attempts == 3
    assert info.value.code == "maxlag" and info.value.retry_after == 2.0
    assert API in str(info.value) and "maxlag=5" in info.value.url


def test_retry_after_is_capped() -> None:
    def answer(params: dict[str, str], n: int) -> httpx.Response:
        if n == 1:
            return ok({"error": {"code": "maxlag", "info": "lagged"}}, **{"Retry-After": "900"})
        return ok({"query": {"allpages": []}})

    sleeps: list[float] = []
    run(Wiki(answer), lambda c: c.all_pages(), sleeps=sleeps, retry_after_max=30)
    assert sleeps == [30]


def test_api_error_names_the_url_and_code() -> None:
    wiki = Wiki(lambda p, n: ok({"error": {"code": "badvalue", "info": "Unrecognized value"}}))
    with pytest.raises(ApiError) as info:
        run(wiki, lambda c: c.all_pages(prefix="X"))
    assert info.value.code == "badvalue"
    assert info.value.url.startswith(API) and "apprefix=X" in info.value.url
    assert "badvalue" in str(info.value)
    assert isinstance(info.value, FetchError)


def test_non_json_answer_is_a_bad_answer() -> None:
    wiki = Wiki(lambda p, n: httpx.Response(200, text="<html>maintenance</html>",
                                            headers={"Content-Type": "text/html"}))
    with pytest.raises(BadAnswer, match="not JSON"):
        run(wiki, lambda c: c.siteinfo())


def test_server_errors_are_retried_with_backoff_then_raised() -> None:
    wiki = Wiki(lambda p, n: httpx.Response(502))
    sleeps: list[float] = []
    with pytest.raises(HTTPStatusError) as info:
        run(wiki, lambda c: c.siteinfo(), sleeps=sleeps, attempts=3, backoff=0.5)
    assert info.value.status == 502 and info.value.attempts == 3
    assert sleeps == [0.5, 1.0]
    assert len(wiki.requests) == 3


def test_429_honours_retry_after() -> None:
    def answer(params: dict[str, str], n: int) -> httpx.Response:
        if n == 1:
            return httpx.Response(429, headers={"Retry-After": "3"})
        return ok(SITEINFO)

    sleeps: list[float] = []
    site = run(Wiki(answer), lambda c: c.siteinfo(), sleeps=sleeps)
    assert sleeps == [3.0] and site.server == "https://wiki.example"


def test_client_errors_are_not_retried() -> None:
    wiki = Wiki(lambda p, n: httpx.Response(403))
    with pytest.raises(HTTPStatusError) as info:
        run(wiki, lambda c: c.siteinfo())
    assert info.value.status == 403 and len(wiki.requests) == 1


def test_continuation_is_followed_with_the_continue_parameters() -> None:
    chunks = [
        ({"allpages": [{"title": "A", "ns": 0}, {"title": "B", "ns": 0}]},
         {"apcontinue": "C", "continue": "-||"}),
        ({"allpages": [{"title": "C", "ns": 0}, {"title": "D", "ns": 0}]},
         {"apcontinue": "E", "continue": "-||"}),
        ({"allpages": [{"title": "E", "ns": 0}]}, None),
    ]

    def answer(params: dict[str, str], n: int) -> httpx.Response:
        query, more = chunks[n - 1]
        data: dict[str, Any] = {"query": query}
        if more:
            data["continue"] = more
        return ok(data)

    wiki = Wiki(answer)
    refs = run(wiki, lambda c: c.all_pages(), page_size=2)
    assert [r.title for r in refs] == ["A", "B", "C", "D", "E"]
    sent = [params_of(r) for r in wiki.requests]
    assert "apcontinue" not in sent[0]
    assert sent[1]["apcontinue"] == "C" and sent[2]["apcontinue"] == "E"
    assert all(p["aplimit"] == "2" for p in sent)


def test_titles_are_batched_fifty_per_query() -> None:
    def answer(params: dict[str, str], n: int) -> httpx.Response:
        pages = [{"pageid": int(t[1:]), "ns": 0, "title": t,
                  "revisions": [{"revid": 1000 + int(t[1:]), "timestamp": "2024-01-01T00:00:00Z",
                                 "user": "U", "comment": "c"}]}
                 for t in params["titles"].split("|")]
        return ok({"query": {"pages": pages}})

    wiki = Wiki(answer)
    titles = [f"T{i}" for i in range(120)] + ["T3"]  # a repeat is asked once
    lookup = run(wiki, lambda c: c.page_info(titles))
    sizes = [len(params_of(r)["titles"].split("|")) for r in wiki.requests]
    assert sizes == [50, 50, 20]
    assert len(lookup.pages) == 120
    assert lookup.get("T7") is not None and lookup.get("T7").revision_id == 1007  # type: ignore[union-attr]
    assert all(params_of(r)["redirects"] == "1" for r in wiki.requests)


def test_long_queries_are_posted() -> None:
    def answer(params: dict[str, str], n: int) -> httpx.Response:
        return ok({"query": {"pages": [{"title": t, "missing": True}
                                       for t in params["titles"].split("|")]}})

    wiki = Wiki(answer)
    titles = [f"Long title number {i} " * 8 for i in range(50)]
    lookup = run(wiki, lambda c: c.page_info(titles))
    assert [r.method for r in wiki.requests] == ["POST"]
    assert len(lookup.missing) == 50


def test_requests_are_made_in_series_even_when_gathered() -> None:
    wiki = Wiki(lambda p, n: ok({"query": {"allpages": []}}))

    async def body(client: MediaWikiClient) -> None:
        await asyncio.gather(*(client.all_pages(prefix=str(i)) for i in range(6)))

    run(wiki, body)
    assert len(wiki.requests) == 6 and wiki.max_in_flight == 1


def test_delay_spaces_request_starts() -> None:
    wiki = Wiki(lambda p, n: ok({"query": {"allpages": []}}))
    sleeps: list[float] = []

    async def body(client: MediaWikiClient) -> None:
        await client.all_pages()
        await client.all_pages()

    run(wiki, body, sleeps=sleeps, delay=5.0)
    assert len(sleeps) == 1 and 4.0 < sleeps[0] <= 5.0


def test_extracts_need_textextracts() -> None:
    wiki = Wiki(lambda p, n: ok(SITEINFO))

    async def body(client: MediaWikiClient) -> tuple[bool, Exception | None]:
        supported = await client.supports_extracts()
        try:
            await client.extracts(["A"])
        except Unsupported as exc:
            return supported, exc
        return supported, None

    supported, error = run(wiki, body)
    assert supported is False
    assert isinstance(error, Unsupported) and API in str(error)
    assert len(wiki.requests) == 1  # siteinfo is asked once and kept


def test_extracts_are_keyed_by_the_titles_asked_for() -> None:
    site = json.loads(json.dumps(SITEINFO))
    site["query"]["extensions"].append({"name": "TextExtracts"})

    def answer(params: dict[str, str], n: int) -> httpx.Response:
        if params.get("meta") == "siteinfo":
            return ok(site)
        assert params["exintro"] == "1" and params["explaintext"] == "1"
        return ok({"query": {
            "normalized": [{"from": "cold_war", "to": "Cold war"}],
            "redirects": [{"from": "NATO", "to": "North Atlantic Treaty Organization"}],
            "pages": [{"title": "Cold war", "pageid": 1, "extract": "Cold."},
                      {"title": "North Atlantic Treaty Organization", "pageid": 2,
                       "extract": "Alliance."},
                      {"title": "Gone", "missing": True}]}})

    texts = run(Wiki(answer), lambda c: c.extracts(["cold_war", "NATO", "Gone"]))
    assert texts == {"cold_war": "Cold.", "NATO": "Alliance."}


def test_history_of_a_missing_page() -> None:
    wiki = Wiki(lambda p, n: ok({"query": {"pages": [{"title": "Nope", "missing": True}]}}))
    with pytest.raises(PageMissing, match="Nope"):
        run(wiki, lambda c: c.history("Nope"))


def test_parse_of_a_missing_revision() -> None:
    wiki = Wiki(lambda p, n: ok({"error": {"code": "nosuchrevid", "info": "no rev 99"}}))
    with pytest.raises(PageMissing, match="99"):
        run(wiki, lambda c: c.parse_revision(99))


def test_discover_without_rsd_link() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html><head><title>x</title></head></html>")

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            await discover_api_url(http, "https://wiki.example/wiki/A")

    with pytest.raises(NoApiFound, match="https://wiki.example/wiki/A"):
        asyncio.run(main())


def test_discover_follows_redirects() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/":
            return httpx.Response(301, headers={"Location": "/wiki/Main_Page"})
        return httpx.Response(200, html='<link rel="EditURI" href="/w/api.php?action=rsd">')

    async def main() -> str:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            return await discover_api_url(http, "https://wiki.example/")

    assert asyncio.run(main()) == "https://wiki.example/w/api.php"
