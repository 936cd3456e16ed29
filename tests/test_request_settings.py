"""The `request:` block (headers, cookies, cookies_file, basic and bearer auth): config
checks, real loopback crawls of pages that need them, credentials kept to the config's hosts
and secrets kept out of the archive, logs, `config show`, exports and the HTML diff."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from scraper.archive import Archive
from scraper.config import CrawlConfig, config_to_dict, config_to_yaml, load_config
from scraper.config import load_config_text as _load_config_text
from scraper.crawl import CrawlLimits, RunResult, crawl
from scraper.crawl.client import make_client
from scraper.crawl.credentials import SiteCredentials
from scraper.crawl.fetch import Fetcher
from scraper.crawl.netpolicy import AddressPolicy
from scraper.errors import ConfigError, FetchError
from scraper.mediawiki import MediaWikiClient
from scraper.testsite import TestSite

SECRET = "s3cr3t-Xy9Q-never-stored"
COOKIES_TXT = "# Netscape HTTP Cookie File\n# exported\n\n{lines}"


def load_config_text(text: str, path: str = "test.yaml") -> CrawlConfig:
    return _load_config_text(textwrap.dedent(text), path)


def site_config(site: TestSite, request: str = "", *, start: str = "/related/NATO",
                extra: str = "") -> CrawlConfig:
    text = textwrap.dedent(f"""\
        name: test
        start_urls: ["{site.url(start)}"]
        follow: [related, more_info]
        max_depth: 1
        scope: {{domains: [127.0.0.1]}}
        politeness: {{delay: 0, concurrency: 4}}
        network: {{allow_loopback: true, attempts: 1}}
        """) + textwrap.dedent(request) + textwrap.dedent(extra)
    return _load_config_text(text, "test.yaml")


def run(config: CrawlConfig, archive: Archive) -> RunResult:
    return asyncio.run(crawl([config], archive, limits=CrawlLimits()))[0]


# -- config ------------------------------------------------------------------------------

def test_request_values_expand_env_and_show_as_stars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITE_TOKEN", SECRET)
    cfg = load_config_text("""\
        name: x
        start_urls: [https://example.org/]
        request:
          headers: {X-Api-Key: "${SITE_TOKEN}", Accept-Language: en}
          cookies: {sid: "${SITE_TOKEN}"}
          auth: {basic: {user: archivist, password: "pw-${SITE_TOKEN}"}}
        """)
    assert dict(cfg.request.headers)["X-Api-Key"].reveal() == SECRET
    assert cfg.request.basic is not None
    assert cfg.request.basic.password.reveal() == "pw-" + SECRET
    shown = config_to_yaml(cfg) + repr(cfg) + str(config_to_dict(cfg))
    assert SECRET not in shown
    assert config_to_dict(cfg)["request"] == {
        "headers": {"X-Api-Key": "***", "Accept-Language": "***"},
        "cookies": {"sid": "***"},
        "auth": {"basic": {"user": "archivist", "password": "***"}}}


def test_bearer_token_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(SECRET + "\n")
    (tmp_path / "site.yaml").write_text(textwrap.dedent("""\
        name: x
        start_urls: [https://example.org/]
        request: {auth: {bearer: "${file:token}"}}
        """))
    cfg = load_config(tmp_path / "site.yaml")
    assert cfg.request.bearer is not None and cfg.request.bearer.reveal() == SECRET
    assert config_to_dict(cfg)["request"] == {"auth": {"bearer": "***"}}


@pytest.mark.parametrize(("block", "message"), [
    ("request: {headers: {X-Key: '${NOT_SET_ANYWHERE_42}'}}",
     ("test.yaml:3: request.headers.X-Key: refers to the environment variable "
      "NOT_SET_ANYWHERE_42, which is not set")),
    ("request: {headers: {'Bad Name': x}}", "request.headers.Bad Name: not a valid header"),
    ("request: {headers: {Cookie: a=b}}", "use request.cookies"),
    ("request: {cookies: {sid: 'a;b'}}", "request.cookies.sid: must expand to a cookie value"),
    ("request: {auth: {basic: {user: a}}}", "request.auth.basic.password: missing"),
    ("request: {auth: {basic: {user: a, password: b}, bearer: c}}", "exactly one of"),
    ("request: {auth: {token: x}}", "request.auth.token: unknown key"),
    ("request: {auth: {bearer: abc123}}",
     "test.yaml:3: request.auth.bearer: must come from the environment or a file"),
    ("request: {auth: {basic: {user: a, password: hunter2}}}",
     "request.auth.basic.password: must come from the environment or a file"),
    ("request: {cookies: {a: b}, cookies_file: c.txt}", "either cookies or cookies_file"),
    ("request: {headers: {X-Key: \"a\\nb\"}}", "request.headers.X-Key: must expand to one line"),
])
def test_bad_request_blocks_are_refused(block: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config_text(f"name: x\nstart_urls: [https://example.org/]\n{block}\n")
    assert message in str(err.value)


def test_a_header_value_is_never_quoted_in_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITE_TOKEN", SECRET + "\x01")
    with pytest.raises(ConfigError) as err:
        load_config_text("name: x\nstart_urls: [https://example.org/]\n"
                         "request: {headers: {X-Key: '${SITE_TOKEN}'}}\n")
    assert SECRET not in str(err.value)


def cookies_file(tmp_path: Path, lines: str) -> Path:
    path = tmp_path / "cookies.txt"
    path.write_text(COOKIES_TXT.format(lines=lines))
    return path


@pytest.mark.parametrize(("lines", "line", "message"), [
    ("127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\n", 4, "has 7 fields separated by tabs"),
    ("127.0.0.1\tMAYBE\t/\tFALSE\t0\tsid\tv\n", 4, "subdomains field must be TRUE or FALSE"),
    ("ok.test\tFALSE\t/\tFALSE\t0\ta\tb\n127.0.0.1\tFALSE\t/\tFALSE\tsoon\tsid\tv\n", 5,
     "expiry field must be a Unix time"),
    ("127.0.0.1\tFALSE\tx\tFALSE\t0\tsid\tv\n", 4, "path field must start with '/'"),
])
def test_bad_cookies_files_are_refused_with_file_and_line(tmp_path: Path, lines: str,
                                                         line: int, message: str) -> None:
    path = cookies_file(tmp_path, lines)
    (tmp_path / "site.yaml").write_text(
        "name: x\nstart_urls: [https://example.org/]\nrequest: {cookies_file: cookies.txt}\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "site.yaml")
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert message in str(err.value)


def test_a_cookies_file_without_its_header_or_live_cookies_is_refused(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tv\n")
    (tmp_path / "old.txt").write_text(COOKIES_TXT.format(
        lines="127.0.0.1\tFALSE\t/\tFALSE\t1000\tsid\tv\n"))
    for name, message in (("c.txt", ":1: not a Netscape cookies.txt"),
                          ("old.txt", ": holds no cookie that has not expired"),
                          ("none.txt", ": cannot read the cookies file")):
        (tmp_path / "site.yaml").write_text(
            f"name: x\nstart_urls: [https://example.org/]\nrequest: {{cookies_file: {name}}}\n")
        with pytest.raises(ConfigError) as err:
            load_config(tmp_path / "site.yaml")
        assert str(err.value).startswith(str(tmp_path / name))
        assert message in str(err.value)


# -- which hosts get them ----------------------------------------------------------------

def test_credentials_go_to_the_config_hosts_and_their_subdomains_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN", "t")
    cfg = load_config_text("""\
        name: x
        start_urls: [https://example.org/]
        request: {headers: {X-Key: k}, auth: {bearer: "${TOKEN}"}, cookies: {sid: v}}
        """)
    creds = SiteCredentials.of(cfg)
    assert creds is not None
    assert creds.headers_for("https://example.org/a") == {
        "X-Key": "k", "Authorization": "Bearer t", "Cookie": "sid=v"}
    assert creds.headers_for("https://www.example.org/robots.txt")["X-Key"] == "k"
    assert creds.headers_for("https://example.org.evil.test/") == {}
    assert creds.headers_for("https://notexample.org/") == {}
    plain = load_config_text("name: x\nstart_urls: [https://example.org/]\n")
    assert SiteCredentials.of(plain) is None


def test_file_cookies_follow_their_domain_path_and_secure_flag(tmp_path: Path) -> None:
    cookies_file(tmp_path, "".join(f"{line}\n" for line in (
        "example.org\tFALSE\t/\tFALSE\t0\tplain\t1",
        ".example.org\tTRUE\t/wiki\tFALSE\t0\twiki\t2",
        "#HttpOnly_example.org\tFALSE\t/\tTRUE\t0\tsecure\t3",
        f"other.test\tFALSE\t/\tFALSE\t{int(time.time()) + 3600}\tother\t4",
    )))
    (tmp_path / "site.yaml").write_text(
        "name: x\nstart_urls: [https://example.org/]\nrequest: {cookies_file: cookies.txt}\n"
        "scope: {domains: [example.org, other.test]}\n")
    creds = SiteCredentials.of(load_config(tmp_path / "site.yaml"))
    assert creds is not None
    assert creds.headers_for("http://example.org/x") == {"Cookie": "plain=1"}
    assert set(creds.headers_for("https://example.org/wiki/A")["Cookie"].split("; ")) == {
        "plain=1", "wiki=2", "secure=3"}
    assert creds.headers_for("https://en.example.org/wiki") == {"Cookie": "wiki=2"}
    assert creds.headers_for("https://other.test/") == {"Cookie": "other=4"}
    assert config_to_dict(load_config(tmp_path / "site.yaml"))["request"] == {
        "cookies_file": "cookies.txt"}


# -- crawls of the built-in site ---------------------------------------------------------

@pytest.fixture
def site() -> Any:
    with TestSite(pages=12, hosts=2) as running:
        yield running


@pytest.mark.parametrize(("rule", "request_block", "refused"), [
    ({"basic": ("archivist", SECRET)},
     "request: {auth: {basic: {user: archivist, password: '${SITE_SECRET}'}}}", 401),
    ({"bearer": SECRET}, "request: {auth: {bearer: '${SITE_SECRET}'}}", 401),
    ({"header": ("X-Api-Key", SECRET)}, "request: {headers: {X-Api-Key: '${SITE_SECRET}'}}",
     403),
    ({"cookie": ("sid", SECRET)}, "request: {cookies: {sid: '${SITE_SECRET}'}}", 403),
])
def test_protected_pages_are_crawled_with_the_settings_and_fail_without(
        site: TestSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        rule: dict[str, Any], request_block: str, refused: int) -> None:
    monkeypatch.setenv("SITE_SECRET", SECRET)
    site.require_access("^/info/", **rule)
    with Archive.open(str(tmp_path / "without.db")) as archive:
        without = run(site_config(site), archive)
        failures = archive.conn.execute("SELECT url, status FROM failures").fetchall()
        stored = {snap.url for _, snap, _ in archive.iter_versions()}
    assert without.status == "completed"
    # Each protected page is a failure of its own, recorded with the status; the run goes on.
    assert failures and all("/info/" in url and status == refused for url, status in failures)
    assert without.stats.failed == len(failures)
    assert stored and not any("/info/" in url for url in stored)
    with Archive.open(str(tmp_path / "with.db")) as archive:
        with_settings = run(site_config(site, request_block), archive)
        urls = {snap.url for _, snap, _ in archive.iter_versions()}
    assert with_settings.stats.failed == 0
    assert any("/info/" in url for url in urls)


def test_a_cookie_set_by_the_site_is_sent_with_the_configured_ones(site: TestSite) -> None:
    cfg = site_config(site, "request: {cookies: {sid: abc}}")
    site.record_requests()

    async def fetch() -> None:
        policies: dict[str, Any] = {}
        async with make_client(cfg.network, policies) as client:
            client.cookies.set("theme", "dark", domain="127.0.0.1")
            fetcher = Fetcher(client, policies=policies)
            await fetcher.fetch(site.url("/related/NATO"), politeness=cfg.politeness,
                                network=cfg.network, credentials=SiteCredentials.of(cfg))

    asyncio.run(fetch())
    page = [r for r in site.received() if r.target == "/related/NATO"]
    assert page[0].headers["cookie"] == "sid=abc; theme=dark"


def test_credentials_are_not_sent_on_a_redirect_to_another_host(
        site: TestSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.1 redirects to 127.0.0.2 (the same site on a second address): the fetch that
    follows it (no scope check, as `scraper parse URL` and the API discovery fetch) sends
    127.0.0.2 and its robots.txt none of the settings."""
    monkeypatch.setenv("TOKEN", "token-value")
    cfg = site_config(site, """\
        request:
          headers: {X-Api-Key: key-value}
          cookies: {sid: cookie-value}
          auth: {bearer: "${TOKEN}"}
        """)
    site.record_requests()
    other = site.base_urls[1] + "/offsite/landing"
    target = site.url(f"/fault/redirect-to?url={other}")

    async def fetch() -> str:
        policies: dict[str, Any] = {}
        async with make_client(cfg.network, policies) as client:
            fetcher = Fetcher(client, policies=policies)
            result = await fetcher.fetch(target, politeness=cfg.politeness,
                                         network=cfg.network,
                                         credentials=SiteCredentials.of(cfg))
            return result.final_url

    assert asyncio.run(fetch()) == other
    received = site.received()
    first = [r for r in received if r.address == "127.0.0.1"]
    second = [r for r in received if r.address == "127.0.0.2"]
    assert {r.target.split("?")[0] for r in first} == {"/robots.txt", "/fault/redirect-to"}
    assert {r.target for r in second} == {"/robots.txt", "/offsite/landing"}
    for r in first:
        assert r.headers["x-api-key"] == "key-value"
        assert r.headers["authorization"] == "Bearer token-value"
        assert r.headers["cookie"] == "sid=cookie-value"
    for r in second:
        assert not {"x-api-key", "authorization", "cookie"} & set(r.headers), r


def test_a_crawl_does_not_follow_a_redirect_out_of_scope_with_credentials(
        site: TestSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSWORD", "p")
    other = site.base_urls[1] + "/offsite/landing"
    cfg = site_config(site, "request: {auth: {basic: {user: u, password: '${PASSWORD}'}}}",
                      start=f"/fault/redirect-to?url={other}")
    site.record_requests()
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run(cfg, archive)
    basic = "Basic " + base64.b64encode(b"u:p").decode()
    assert all(r.headers.get("authorization") == basic for r in site.received()
               if r.address == "127.0.0.1")
    assert [r for r in site.received() if r.address == "127.0.0.2"] == []


def test_testsite_require_option_protects_every_page_but_robots_txt() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "scraper", "testsite", "--port", "0", "--pages", "5",
         "--require", "basic=archivist:pw 1", "--require", "header=X-Api-Key:k"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        login = "Basic " + base64.b64encode(b"archivist:pw 1").decode()
        with httpx.Client(base_url=base, trust_env=False) as client:
            assert client.get("/related/NATO").status_code == 401
            assert client.get("/related/NATO",
                              headers={"Authorization": login}).status_code == 403
            assert client.get("/related/NATO", headers={
                "Authorization": login, "X-Api-Key": "k"}).status_code == 200
            assert client.get("/robots.txt").status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    bad = subprocess.run([sys.executable, "-m", "scraper", "testsite", "--require", "oauth=x"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "cannot read the access rule 'oauth=x'" in bad.stderr


def test_the_mediawiki_api_client_sends_them_to_the_config_hosts_only(
        site: TestSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API client (source: mediawiki) talks to the shared client itself: its requests
    carry the settings to the config's hosts, and not to an api.php on another host."""
    monkeypatch.setenv("PASSWORD", "api-pw")
    cfg = site_config(site, """\
        request:
          cookies: {sid: c}
          auth: {basic: {user: u, password: "${PASSWORD}"}}
        """)
    site.require_access("^/w/", basic=("u", "api-pw"))

    async def ask(api: str) -> None:
        loopback = AddressPolicy(allow_loopback=True)
        async with make_client(cfg.network, dict.fromkeys(site.hosts, loopback)) as client:
            client.cookies.set("session", "s", domain="127.0.0.1")
            mw = MediaWikiClient(client, api, attempts=1, credentials=SiteCredentials.of(cfg))
            with pytest.raises(FetchError):  # the test site serves no API: not JSON
                await mw.siteinfo()

    asyncio.run(ask(site.url("/w/api.php")))
    asyncio.run(ask(site.base_urls[1] + "/w/api.php"))
    first, second = (r for r in site.received() if r.target.startswith("/w/api.php"))
    basic = "Basic " + base64.b64encode(b"u:api-pw").decode()
    assert (first.address, first.headers["authorization"]) == ("127.0.0.1", basic)
    assert first.headers["cookie"] == "sid=c; session=s"
    assert second.address == "127.0.0.2"
    assert not {"authorization", "cookie"} & set(second.headers)
