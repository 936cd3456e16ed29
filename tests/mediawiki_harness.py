"""A throwaway real MediaWiki (Debian's 1.39, SQLite, `php -S`) on loopback, for tests.

How it works:

- `build_instance(dir, port)` runs MediaWiki's installer into `dir` (SQLite under `dir/data`),
  adds the test settings, writes a `router.php` that logs every request to `dir/requests.log`,
  and loads the sample wiki from tests/data/mediawiki/ (pages.json + pages/*.wiki imported as
  back-dated single revisions, history.xml with several revisions per page, Main Page saved
  with edit.php). It takes a few seconds, so the fixtures build one pristine instance per test
  session and give each test a copy (`clone_instance`), which takes a fraction of a second.
- `MediaWikiServer` starts `php -S 127.0.0.1:PORT router.php` in its own process group and
  stops exactly that group (the PID it started; PHP's workers are its children). Edits, moves,
  deletions and imports go through MediaWiki's maintenance scripts, so they never appear in
  the request log that tests count.

Pytest fixtures (re-exported by tests/mediawiki/conftest.py; use `pytest_plugins =
["mediawiki_harness"]` or import them elsewhere):

- `mediawiki_pristine` (session): the directory of the pristine instance.
- `mediawiki_shared` (session): one running copy for read-only tests. Do not edit it.
- `mediawiki` (function): a fresh running copy a test may edit.

When PHP or MediaWiki is missing the tests are skipped with the reason and the install
command; with CI=true (or SCRAPER_MW_INSTALL=1) the fixture runs .ci/mediawiki-setup.sh first,
and under CI a MediaWiki that is still missing fails the tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, quote, urlsplit
from xml.sax.saxutils import escape

import pytest

MW_DIR = Path(os.environ.get("SCRAPER_MW_DIR", "/usr/share/mediawiki"))
REPO = Path(__file__).resolve().parent.parent
SETUP_SCRIPT = REPO / ".ci" / "mediawiki-setup.sh"
DATA_DIR = REPO / "tests" / "data" / "mediawiki"
ADMIN_USER = "Admin"
ADMIN_PASSWORD = "scraper-test-admin-pw-1"  # a throwaway loopback wiki; not a secret
HARNESS_USER = "Harness"  # default author of edits made by tests
SITENAME = "Scraper Test Wiki"
PHP_MODULES = ("pdo_sqlite", "intl", "mbstring", "xml")
NAMESPACES = {"Talk": 1, "User": 2, "Project": 4, "File": 6, "MediaWiki": 8, "Template": 10,
              "Help": 12, "Category": 14}

ROUTER_PHP = r"""<?php
// Router for PHP's built-in server: log the request, then hand it to MediaWiki.
$docroot = %(docroot)s;
$uri = $_SERVER['REQUEST_URI'];
$path = rawurldecode(parse_url($uri, PHP_URL_PATH) ?? '/');
$entry = [
    't' => microtime(true),
    'method' => $_SERVER['REQUEST_METHOD'],
    'uri' => $uri,
    'ua' => $_SERVER['HTTP_USER_AGENT'] ?? null,
    'ims' => $_SERVER['HTTP_IF_MODIFIED_SINCE'] ?? null,
    'inm' => $_SERVER['HTTP_IF_NONE_MATCH'] ?? null,
];
// Logged before the answer is made, so a client that has its answer finds its line.
file_put_contents(__DIR__ . '/requests.log',
    json_encode($entry, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "\n",
    FILE_APPEND | LOCK_EX);
if ($path === '/' || str_starts_with($path, '/wiki/')) {
    $_SERVER['SCRIPT_NAME'] = '/index.php';
    $_SERVER['PHP_SELF'] = '/index.php';
    $_SERVER['SCRIPT_FILENAME'] = $docroot . '/index.php';
    chdir($docroot);
    require $docroot . '/index.php';
    return true;
}
foreach (['/index.php', '/api.php', '/rest.php', '/load.php', '/opensearch_desc.php'] as $ep) {
    if ($path === $ep || str_starts_with($path, $ep . '/')) {
        return false;  // the built-in server runs it, with PATH_INFO
    }
}
if (preg_match('#^/(resources|skins|extensions)/#', $path) && !str_contains($path, '..')
        && is_file($docroot . $path)) {
    return false;
}
http_response_code(404);
header('Content-Type: text/plain; charset=utf-8');
echo "Not Found\n";
return true;
"""

EXTRA_SETTINGS = """
# --- scraper test harness settings ---
$wgSitename = %(sitename)s;
$wgArticlePath = "/wiki/$1";
$wgEnableCanonicalServerLink = true;
$wgJobRunRate = 0;  # tests run maintenance/runJobs.php themselves
$wgRCMaxAge = 100 * 365 * 86400;  # keep the back-dated history in recentchanges
$wgShowExceptionDetails = true;
$wgEnableEmail = false;
$wgUseImageMagick = false;
%(extensions)s
"""
WANTED_EXTENSIONS = ("ParserFunctions", "Cite", "TextExtracts")


class HarnessError(RuntimeError):
    """A MediaWiki command or server start failed; the message carries its output."""


# --- availability -----------------------------------------------------------------------------

def missing_reason() -> str | None:
    """Why the real-MediaWiki tests cannot run here, or None when everything is present."""
    php = shutil.which("php")
    if php is None:
        return "PHP's command-line interpreter (`php`, package php-cli) is not installed"
    if not (MW_DIR / "maintenance" / "install.php").is_file():
        return f"MediaWiki is not installed ({MW_DIR}/maintenance/install.php is missing)"
    try:
        modules = subprocess.run([php, "-m"], capture_output=True, text=True, timeout=30,
                                 check=True).stdout.lower().split()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`php -m` failed: {exc}"
    absent = [m for m in PHP_MODULES if m not in modules]
    if absent:
        return f"PHP modules missing: {', '.join(absent)}"
    return None


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def in_ci() -> bool:
    return _truthy("CI")


def install_mediawiki() -> None:
    """Runs .ci/mediawiki-setup.sh (apt; needs root or password-less sudo)."""
    proc = subprocess.run(["bash", str(SETUP_SCRIPT)], capture_output=True, text=True,
                          timeout=1800, check=False)
    if proc.returncode != 0:
        raise HarnessError(f"{SETUP_SCRIPT} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def require_mediawiki() -> None:
    """Skips the calling test (or fails it under CI) when MediaWiki cannot run here."""
    reason = missing_reason()
    if reason is not None and (in_ci() or _truthy("SCRAPER_MW_INSTALL")):
        try:
            install_mediawiki()
        except HarnessError as exc:
            reason = f"{reason}; installing it failed: {exc}"
        else:
            reason = missing_reason()
    if reason is None:
        return
    message = (f"real-MediaWiki tests need Debian's MediaWiki 1.39 and PHP 8.2: {reason}. "
               f"Install them with `sudo bash .ci/mediawiki-setup.sh` (Debian 12), or run the "
               f"tests with SCRAPER_MW_INSTALL=1 to let the fixture install them.")
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- the server -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request the wiki's web server received (from router.php's log)."""

    time: float
    method: str
    uri: str
    user_agent: str | None = None
    if_modified_since: str | None = None
    if_none_match: str | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.uri).query, keep_blank_values=True))

    @property
    def is_api(self) -> bool:
        return self.path == "/api.php"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def live_group_members(pgid: int) -> list[int]:
    """PIDs of the processes of a process group that are still running (not zombies)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def split_title(title: str) -> tuple[int, str]:
    """(namespace number, db key) of a title, for the namespaces the sample wiki uses."""
    prefix, sep, rest = title.partition(":")
    if sep and prefix in NAMESPACES:
        return NAMESPACES[prefix], rest.strip().replace(" ", "_")
    return 0, title.strip().replace(" ", "_")


class MediaWikiServer:
    """One MediaWiki instance directory and the `php -S` process serving it."""

    def __init__(self, dirpath: Path | str, port: int, *, workers: int = 2) -> None:
        self.dir = Path(dirpath)
        self.port = port
        self.workers = workers
        self._proc: subprocess.Popen[bytes] | None = None
        self._last_edit = 0.0

    # addresses
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api.php"

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/index.php"

    @property
    def rest_url(self) -> str:
        return f"{self.base_url}/rest.php/v1"

    def page_url(self, title: str) -> str:
        # As MediaWiki's wfUrlencode() writes it.
        return f"{self.base_url}/wiki/{quote(title.replace(' ', '_'), safe='/:(),!*;@$~')}"

    @property
    def config_file(self) -> Path:
        return self.dir / "LocalSettings.php"

    @property
    def db_path(self) -> Path:
        return self.dir / "data" / "my_wiki.sqlite"

    @property
    def log_path(self) -> Path:
        return self.dir / "requests.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # process
    def start(self, timeout: float = 15.0) -> None:
        """Starts `php -S` and waits until it accepts connections (no request is made)."""
        if self._proc is not None:
            return
        (self.dir / "port").write_text(f"{self.port}\n")
        env = dict(os.environ, MW_CONFIG_FILE=str(self.config_file),
                   PHP_CLI_SERVER_WORKERS=str(self.workers))
        with open(self.dir / "server.log", "ab") as log:
            self._proc = subprocess.Popen(
                [_php(), "-S", f"127.0.0.1:{self.port}",
                 "-t", str(MW_DIR), str(self.dir / "router.php")],
                cwd=self.dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,  # its own process group: stop() ends exactly it
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                self._proc = None
                tail = (self.dir / "server.log").read_text(errors="replace")[-2000:]
                raise HarnessError(f"php -S on port {self.port} exited at start:\n{tail}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise HarnessError(f"php -S on port {self.port} did not accept "
                                       f"connections within {timeout} s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Stops the server this object started (its process group) and nothing else."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
        # The workers are in the same group. Once dead they are orphans that init reaps in
        # its own time, so wait only until none of the group is running any more.
        deadline = time.monotonic() + 5
        killed = False
        while live_group_members(proc.pid):
            if time.monotonic() > deadline:
                raise HarnessError(f"php -S group {proc.pid} did not stop")
            if not killed and time.monotonic() > deadline - 3:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    break
                killed = True
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # request log
    def request_log(self) -> list[LoggedRequest]:
        """Every request received since the start (or the last reset), oldest first."""
        try:
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            if not line.strip():
                continue
            d = json.loads(line)
            out.append(LoggedRequest(time=d["t"], method=d["method"], uri=d["uri"],
                                     user_agent=d.get("ua"), if_modified_since=d.get("ims"),
                                     if_none_match=d.get("inm")))
        return out

    def reset_request_log(self) -> None:
        self.log_path.write_bytes(b"")

    # maintenance scripts
    def maintenance(self, script: str, *args: str, input: str | None = None,
                    timeout: float = 120.0) -> str:
        """Runs maintenance/SCRIPT.php against this instance; returns stdout."""
        cmd = [_php(), str(MW_DIR / "maintenance" / f"{script}.php"),
               "--conf", str(self.config_file), *args]
        env = dict(os.environ, MW_CONFIG_FILE=str(self.config_file))
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, cwd=MW_DIR,
                              env=env, timeout=timeout, check=False)
        if proc.returncode != 0 or "Exception" in proc.stderr or "Fatal error" in proc.stdout:
            raise HarnessError(f"{script}.php {' '.join(args)} failed ({proc.returncode}):\n"
                               f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc.stdout

    def edit(self, title: str, text: str, *, summary: str = "", user: str = HARNESS_USER,
             minor: bool = False, bot: bool = False, distinct_second: bool = True) -> int:
        """Saves a revision dated now; returns the page's current revision id afterwards.

        Identical text makes no revision (a null edit): the returned id is then the old one.
        With distinct_second, waits so that no two edits of this object share a timestamp
        second (MediaWiki's timestamps have one-second resolution).
        """
        if distinct_second:
            # The previous edit's timestamp is at most the second it finished in; starting
            # in a later second guarantees a later timestamp.
            time.sleep(max(0.0, int(self._last_edit) + 1 - time.time()))
        args = ["-u", user, "-s", summary]
        if minor:
            args.append("-m")
        if bot:
            args.append("-b")
        self.maintenance("edit", *args, title, input=text)
        self._last_edit = time.time()
        latest = self.latest_revision(title)
        if latest is None:
            raise HarnessError(f"edit of {title!r} made no page")
        return latest

    def move(self, old: str, new: str, *, reason: str = "", user: str = HARNESS_USER,
             redirect: bool = True) -> None:
        """Renames a page (moveBatch.php); leaves a redirect at the old title unless told not."""
        args = ["-u", user, "-r", reason]
        if not redirect:
            args.append("--noredirects")
        self.maintenance("moveBatch", *args, input=f"{old}|{new}\n")

    def delete(self, title: str, *, reason: str = "", user: str = HARNESS_USER) -> None:
        self.maintenance("deleteBatch", "-u", user, "-r", reason, input=f"{title}\n")

    def import_xml(self, path: Path | str, *, rebuild_recentchanges: bool = True) -> None:
        """Imports an XML export keeping its timestamps and users (importDump.php).

        Users named in the dump are created first so the revisions carry their plain names
        (MediaWiki otherwise records unknown users as `imported>Name`).
        """
        self.create_users(_dump_users(Path(path).read_bytes()))
        self.maintenance("importDump", str(path))
        if rebuild_recentchanges:
            self.maintenance("rebuildrecentchanges")
        self.run_jobs()

    def create_users(self, names: Sequence[str]) -> None:
        if not names:
            return
        code = (f"foreach ({_php_array(names)} as $n) {{ $u = User::newFromName($n); "
                "if ($u && !$u->isRegistered()) { $u->addToDatabase(); } }")
        self.maintenance("eval", input=code + "\n")

    def run_jobs(self) -> None:
        self.maintenance("runJobs", "--quiet")

    # direct reads of the wiki's database (no HTTP, so nothing lands in the request log)
    def query_db(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return list(conn.execute(sql, tuple(params)))
        finally:
            conn.close()

    def latest_revision(self, title: str) -> int | None:
        ns, key = split_title(title)
        rows = self.query_db("SELECT page_latest FROM page WHERE page_namespace=? AND "
                             "page_title=?", (ns, key))
        return int(rows[0][0]) if rows else None


# --- building instances -----------------------------------------------------------------------

def _php() -> str:
    php = shutil.which("php")
    if php is None:
        raise HarnessError("php is not installed (run `bash .ci/mediawiki-setup.sh`)")
    return php


def _php_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _php_array(values: Sequence[str]) -> str:
    return "[" + ", ".join(_php_string(v) for v in values) + "]"


def _dump_users(xml: bytes) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    names = {el.text for el in root.iter() if el.tag.endswith("}username") or el.tag == "username"}
    return sorted(n for n in names if n)


def _dump_titles(xml: bytes) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    return [el.text for el in root.iter() if el.text and el.tag.rsplit("}", 1)[-1] == "title"]


def sample_dump(data_dir: Path = DATA_DIR) -> bytes:
    """pages.json and pages/*.wiki as a MediaWiki XML export (one revision per page)."""
    manifest = json.loads((data_dir / "pages.json").read_text(encoding="utf-8"))
    parts = [('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" '
              'xml:lang="en">')]
    for page in manifest["pages"]:
        if "file" in page:
            text = (data_dir / "pages" / page["file"]).read_text(encoding="utf-8")
        else:
            text = page["text"]
        ns, _ = split_title(page["title"])
        parts.append(
            "<page>"
            f"<title>{escape(page['title'])}</title><ns>{ns}</ns>"
            "<revision>"
            f"<timestamp>{escape(page['timestamp'])}</timestamp>"
            f"<contributor><username>{escape(page['user'])}</username></contributor>"
            f"<comment>{escape(page['summary'])}</comment>"
            "<model>wikitext</model><format>text/x-wiki</format>"
            f'<text xml:space="preserve">{escape(text.rstrip())}</text>'
            "</revision></page>"
        )
    parts.append("</mediawiki>\n")
    return "\n".join(parts).encode("utf-8")


def _patch_settings(dirpath: Path) -> None:
    settings = dirpath / "LocalSettings.php"
    lines = settings.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        # Make the instance relocatable: data and port relative to the settings file, so a
        # copied directory is a working wiki on another port.
        if line.startswith("$wgSQLiteDataDir ="):
            line = '$wgSQLiteDataDir = __DIR__ . "/data";'
        elif line.startswith("$wgServer ="):
            line = '$wgServer = "http://127.0.0.1:" . trim( file_get_contents( __DIR__ . "/port" ) );'
        out.append(line)
    loads = "\n".join(f"wfLoadExtension( '{name}' );" for name in WANTED_EXTENSIONS
                      if (MW_DIR / "extensions" / name / "extension.json").is_file())
    out.append(EXTRA_SETTINGS % {"sitename": _php_string(SITENAME), "extensions": loads})
    settings.write_text("\n".join(out) + "\n", encoding="utf-8")


def build_instance(dirpath: Path | str, port: int | None = None, *,
                   data_dir: Path = DATA_DIR, warm: bool = True) -> MediaWikiServer:
    """Installs a new wiki into `dirpath` (which must not exist or be empty) and loads the
    sample pages. Returns the (stopped) server object."""
    dirpath = Path(dirpath)
    dirpath.mkdir(parents=True, exist_ok=True)
    (dirpath / "data").mkdir(exist_ok=True)
    port = port or free_port()
    proc = subprocess.run(
        [_php(), "maintenance/install.php", "--dbtype", "sqlite", "--dbpath",
         str(dirpath / "data"), "--server", f"http://127.0.0.1:{port}", "--scriptpath", "",
         "--confpath", str(dirpath), "--pass", ADMIN_PASSWORD, SITENAME, ADMIN_USER],
        cwd=MW_DIR, capture_output=True, text=True, timeout=300, check=False,
    )
    if proc.returncode != 0 or not (dirpath / "LocalSettings.php").is_file():
        raise HarnessError(f"install.php failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    _patch_settings(dirpath)
    (dirpath / "port").write_text(f"{port}\n")
    (dirpath / "router.php").write_text(ROUTER_PHP % {"docroot": _php_string(str(MW_DIR))})
    wiki = MediaWikiServer(dirpath, port)

    dump = sample_dump(data_dir)
    (dirpath / "sample.xml").write_bytes(dump)
    manifest = json.loads((data_dir / "pages.json").read_text(encoding="utf-8"))
    users = set(_dump_users(dump)) | set(_dump_users((data_dir / "history.xml").read_bytes()))
    users.add(manifest["main_page"]["user"])
    users.add(HARNESS_USER)
    wiki.create_users(sorted(users))
    wiki.maintenance("importDump", str(dirpath / "sample.xml"))
    wiki.maintenance("importDump", str(data_dir / "history.xml"))
    main = manifest["main_page"]
    wiki.maintenance("edit", "-u", main["user"], "-s", main["summary"], "Main Page",
                     input=(data_dir / "pages" / main["file"]).read_text(encoding="utf-8"))
    wiki.maintenance("rebuildrecentchanges")
    wiki.maintenance("initSiteStats", "--update")
    wiki.run_jobs()
    if warm:
        # Viewing every article once fills the parser cache, which the copies inherit, so
        # that a crawl of a copy does not render each page again.
        import urllib.request

        titles = ["Main Page"] + [p["title"] for p in manifest["pages"]
                                  if "file" in p and split_title(p["title"])[0] == 0]
        titles += _dump_titles((data_dir / "history.xml").read_bytes())
        with wiki:
            urls = [wiki.page_url(t) for t in titles]
            urls.append(f"{wiki.api_url}?action=query&meta=siteinfo&format=json")
            for url in urls:
                with urllib.request.urlopen(url, timeout=60) as resp:
                    resp.read()
    wiki.reset_request_log()
    return wiki


def clone_instance(src: Path | str, dst: Path | str, port: int | None = None
                   ) -> MediaWikiServer:
    """Copies a (stopped) instance directory; returns a stopped server object for the copy."""
    src, dst = Path(src), Path(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("requests.log", "server.log"),
                    dirs_exist_ok=True)
    port = port or free_port()
    (dst / "port").write_text(f"{port}\n")
    return MediaWikiServer(dst, port)


def start_clone(src: Path | str, dst: Path | str, *, attempts: int = 3) -> MediaWikiServer:
    """A running copy of `src` on a free port (retrying if another process takes the port)."""
    last: HarnessError | None = None
    for _ in range(attempts):
        wiki = clone_instance(src, dst)
        try:
            wiki.start()
        except HarnessError as exc:
            last = exc
            continue
        return wiki
    assert last is not None
    raise last


# --- pytest fixtures --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def mediawiki_pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of a freshly built and loaded instance (stopped). Never modify it."""
    require_mediawiki()
    dirpath = tmp_path_factory.mktemp("mediawiki-pristine")
    started = time.monotonic()
    build_instance(dirpath)
    print(f"\nmediawiki harness: pristine instance built in {time.monotonic() - started:.1f} s",
          file=sys.stderr)
    return dirpath


@pytest.fixture(scope="session")
def mediawiki_shared(mediawiki_pristine: Path,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaWikiServer]:
    """One running copy for the whole session, for tests that only read. Do not edit it."""
    wiki = start_clone(mediawiki_pristine, tmp_path_factory.mktemp("mediawiki-shared"))
    try:
        yield wiki
    finally:
        wiki.stop()


@pytest.fixture
def mediawiki(mediawiki_pristine: Path, tmp_path: Path) -> Iterator[MediaWikiServer]:
    """A fresh running copy of the sample wiki that the test may edit."""
    wiki = start_clone(mediawiki_pristine, tmp_path / "wiki")
    try:
        yield wiki
    finally:
        wiki.stop()
