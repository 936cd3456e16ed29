"""Notifications over real loopback receivers (issue 19): one message per run per target with
the right gists, retries with back-off until a failing receiver takes the message (once), a
crawl SIGKILLed while the receiver held its message open losing nothing and sending nothing
twice, and `scraper notify --test / --pending`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from notify_helpers import (
    EDITED,
    SECRET,
    UNEDITED,
    Receiver,
    notify_config,
    smtp_server,
    webhook_receiver,
)
from test_archive import sql_rows

from scraper.archive import Archive, ArchiveBackend
from scraper.cli import main
from scraper.config import CrawlConfig, NotifyTarget, load_config_text
from scraper.crawl import CrawlLimits, crawl
from scraper.testsite import TestSite
from scraper.timeutil import utcnow
from scraper.watch.notify import TargetReport, deliver_notifications, retry_delay
from scraper.watch.notify_message import Message
from scraper.watch.notify_send import SendResult, send_message

SCRAPER = [sys.executable, "-m", "scraper"]


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_TEST_SECRET", SECRET)


def _crawl(cfg: CrawlConfig, archive: ArchiveBackend) -> None:
    (result,) = asyncio.run(crawl([cfg], archive, limits=CrawlLimits()))
    assert result.stats.failed == 0


def _edit(site: TestSite) -> None:
    for slug in EDITED:
        site.edit(slug, summary=f"{slug.replace('_', ' ')} was edited by the notify test, "
                                "which checks that watchers are told.")


def _edited_urls_of(db: Path, site: TestSite) -> list[str]:
    with Archive.open(str(db), readonly=True) as archive:
        return list(_edited_urls(archive, site))


def _edited_urls(archive: ArchiveBackend, site: TestSite) -> dict[str, str]:
    """Each edited page's URL in the archive -> the gist of its latest version."""
    urls = [archive.find_page_url(site.url("/info/" + slug)) for slug in EDITED]
    return {url: archive.snapshot(url).change_gist for url in urls}


def test_three_edited_pages_make_one_message_per_target_with_their_gists(
        tmp_path: Path) -> None:
    with (TestSite(pages=12) as site, webhook_receiver() as hook, smtp_server() as mail,
          Archive.open(str(tmp_path / "a.db")) as archive):
        cfg = load_config_text(notify_config(site, hook, mail), str(tmp_path / "w.yaml"))
        _crawl(cfg, archive)
        # A target seen for the first time starts from now: the first crawl is not told.
        assert [r.sent for r in deliver_notifications(archive, cfg)] == [0, 0]
        _edit(site)
        _crawl(cfg, archive)
        reports = deliver_notifications(archive, cfg)
        assert [(r.sent, r.failed) for r in reports] == [(3, 0), (3, 0)]
        assert len(hook.received) == 1 and len(mail.messages) == 1

        gists = _edited_urls(archive, site)
        assert all(gists.values()) and len(set(gists.values())) >= 1
        (delivery,) = hook.received
        assert delivery.signature_ok
        assert delivery.headers["idempotency-key"] == reports[0].delivery_id
        data = delivery.data
        assert data["site"] == "watched" and data["more"] == 0
        assert {c["url"]: c["gist"] for c in data["changes"]} == gists
        for change in data["changes"]:
            assert change["event"] == "version" and change["version"] == 2
            assert {"changed", "summary"} <= set(change["kinds"])
            added = change["diff"]["summary"]["added"]
            assert "edited" in added and "notify test, which checks" in added

        message = mail.messages[0]
        assert message["Subject"] == "scraper: watched: 3 pages changed"
        text = mail.text(0)
        for url, gist in gists.items():
            assert url in text and gist in text
        assert "summary added:" in text and UNEDITED not in text

        # Nothing new: nothing sent, and nothing is sent twice.
        _crawl(cfg, archive)
        assert [r.sent for r in deliver_notifications(archive, cfg)] == [0, 0]
        assert len(hook.received) == 1 and len(mail.messages) == 1
        assert [(b.pending, b.sent) for b in archive.notify_backlog("watched")] == [(0, 3),
                                                                                   (0, 3)]


def test_a_receiver_that_fails_twice_gets_the_message_on_the_third_run_once(
        tmp_path: Path) -> None:
    with (TestSite(pages=12) as site, webhook_receiver() as hook,
          Archive.open(str(tmp_path / "a.db")) as archive):
        cfg = load_config_text(notify_config(site, hook, None), str(tmp_path / "w.yaml"))
        _crawl(cfg, archive)
        deliver_notifications(archive, cfg)
        hook.answers = [500, 500]
        _edit(site)
        start = utcnow()

        _crawl(cfg, archive)  # run 1: refused
        (first,) = deliver_notifications(archive, cfg, now=start)
        assert (first.failed, first.detail) == (3, "HTTP 500")
        assert first.next_attempt == start + retry_delay(1)
        # Back-off: a send before the retry time sends nothing.
        assert deliver_notifications(archive, cfg, now=start + timedelta(seconds=30))[0] \
            .failed == 0
        assert len(hook.received) == 1

        result = CliRunner().invoke(main, ["notify", "--pending", "--archive",
                                           str(tmp_path / "a.db")])
        assert result.exit_code == 0, result.output
        assert "3 waiting, 0 sent; 1 failed attempt(s)" in result.output
        assert "last error: HTTP 500" in result.output and SECRET not in result.output

        _crawl(cfg, archive)  # run 2: refused again, retried later still
        second_at = start + retry_delay(1)
        (second,) = deliver_notifications(archive, cfg, now=second_at)
        assert second.failed == 3 and second.next_attempt == second_at + retry_delay(2)

        _crawl(cfg, archive)  # run 3: taken
        third_at = second_at + retry_delay(2)
        (third,) = deliver_notifications(archive, cfg, now=third_at)
        assert (third.sent, third.failed) == (3, 0)

        _crawl(cfg, archive)  # run 4: nothing left
        assert deliver_notifications(archive, cfg, now=third_at + timedelta(hours=1))[0] \
            .sent == 0
        assert len(hook.received) == 3 and hook.accepted_count == 1
        # The same changes each time, so the same delivery id and the same records.
        assert len({d.headers["idempotency-key"] for d in hook.received}) == 1
        assert all(d.signature_ok for d in hook.received)
        assert {c["url"] for c in hook.received[-1].data["changes"]} == set(
            _edited_urls(archive, site))


def _run_crawl(config: Path, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SCRAPER, "crawl", str(config), "--archive", str(db), "-q"],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "NOTIFY_TEST_SECRET": SECRET})


def _sent_rows(db: Path) -> list[tuple[object, ...]]:
    with Archive.open(str(db), readonly=True) as archive:
        return [(b.pending, b.sent) for b in archive.notify_backlog()]


def test_a_crawl_killed_while_the_receiver_holds_its_message_loses_nothing_and_sends_once(
        tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    config = tmp_path / "w.yaml"
    with TestSite(pages=12) as site, webhook_receiver() as hook:
        config.write_text(notify_config(site, hook, None))
        assert _run_crawl(config, db).returncode == 0
        assert hook.received == []
        _edit(site)
        hook.answers = ["hang"]
        proc = subprocess.Popen([*SCRAPER, "crawl", str(config), "--archive", str(db), "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "NOTIFY_TEST_SECRET": SECRET})
        try:
            assert hook.hanging.wait(90), "the crawl never sent its message"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        hook.release.set()
        # The versions were written and their changes wait: none was marked sent.
        with Archive.open(str(db), readonly=True) as archive:
            assert all(archive.snapshot(url).version == 2
                       for url in _edited_urls(archive, site))
        assert _sent_rows(db) == [(3, 0)]
        (held,) = hook.received

        assert _run_crawl(config, db).returncode == 0  # sends again, the same delivery
        assert _run_crawl(config, db).returncode == 0  # nothing more
        assert len(hook.received) == 2 and hook.accepted_count == 1
        resent = hook.received[1]
        assert resent.headers["idempotency-key"] == held.headers["idempotency-key"]
        assert resent.signature_ok
        assert [c["id"] for c in resent.data["changes"]] == [c["id"] for c in held.data["changes"]]
        assert len(resent.data["changes"]) == 3
        assert _sent_rows(db) == [(0, 3)]


def _receiver_answering(hook: Receiver, *answers: int | str) -> None:
    hook.answers = list(answers)


def test_notify_test_sends_to_every_target_and_reports_each(tmp_path: Path) -> None:
    with TestSite(pages=4) as site, webhook_receiver() as hook, smtp_server() as mail:
        config = tmp_path / "w.yaml"
        config.write_text(notify_config(site, hook, mail))
        result = CliRunner().invoke(main, ["notify", "--test", str(config)])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert len(lines) == 2 and all(line.startswith("ok") for line in lines)
        assert "webhook http://127.0.0.1:" in lines[0] and "apprise mailto://127.0.0.1" in lines[1]
        assert len(hook.received) == 1 and hook.received[0].data["test"] is True
        assert hook.received[0].signature_ok
        assert len(mail.messages) == 1 and "test message" in mail.messages[0]["Subject"]

        _receiver_answering(hook, 503)
        result = CliRunner().invoke(main, ["notify", "--test", str(config), "--format", "json"])
        assert result.exit_code == 1
        assert '"detail": "HTTP 503"' in result.output and '"ok": false' in result.output


def test_notify_needs_one_of_its_modes(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["notify"])
    assert result.exit_code == 2 and "--test CONFIG or --pending" in result.output


def test_workers_sharing_a_postgresql_archive_take_turns_sending_to_a_target(
        tmp_path: Path, postgres_url: str) -> None:
    """Crawl workers end their runs at about the same time and each sends after its own:
    the second waits while the first sends, then finds the changes sent (without the turn,
    both read the same due changes and the receiver got two messages)."""
    with (TestSite(pages=12) as site, webhook_receiver() as hook,
          Archive.open(postgres_url) as first, Archive.open(postgres_url) as second):
        cfg = load_config_text(notify_config(site, hook, None), str(tmp_path / "w.yaml"))
        _crawl(cfg, first)
        deliver_notifications(first, cfg)
        _edit(site)
        _crawl(cfg, first)

        sending = threading.Event()
        go_on = threading.Event()

        def slow_send(target: NotifyTarget, message: Message) -> SendResult:
            sending.set()
            assert go_on.wait(30)
            return send_message(target, message)

        reports: dict[str, list[TargetReport]] = {}
        one = threading.Thread(target=lambda: reports.setdefault(
            "first", deliver_notifications(first, cfg, send=slow_send)))
        one.start()
        assert sending.wait(30)
        two = threading.Thread(target=lambda: reports.setdefault(
            "second", deliver_notifications(second, cfg)))
        two.start()
        two.join(1.0)
        assert two.is_alive()  # waiting for its turn while the first sends
        go_on.set()
        one.join(30)
        two.join(30)
        assert [r.sent for r in reports["first"]] == [3]
        assert [r.sent for r in reports["second"]] == [0]
        assert len(hook.received) == 1


def _queued(db: Path, site: str) -> list[tuple[object, ...]]:
    with Archive.open(str(db), readonly=True) as archive:
        return sql_rows(archive, "SELECT url, version FROM notify_outbox"
                                 f" WHERE site = '{site}' ORDER BY id")


def test_a_crawl_keeps_only_the_queued_changes_a_target_will_get(tmp_path: Path) -> None:
    """Every version queues a change for watchers: `scraper crawl` drops those that no
    target of its config will be sent, so that an archive without watchers keeps none."""
    db, plain_db = tmp_path / "a.db", tmp_path / "plain.db"
    with TestSite(pages=12) as site, webhook_receiver() as hook:
        watched = tmp_path / "watched.yaml"
        watched.write_text(notify_config(site, hook, None), encoding="utf-8")
        unwatched = tmp_path / "plain.yaml"
        unwatched.write_text(notify_config(site, hook, None).split("notify:")[0],
                             encoding="utf-8")
        for config, archive in ((unwatched, plain_db), (watched, db)):
            assert _run_crawl(config, archive).returncode == 0
        # The target starts after the first crawl's changes: none of them is kept.
        assert _queued(plain_db, "watched") == [] and _queued(db, "watched") == []
        hook.answers = [500]
        _edit(site)
        for config, archive in ((unwatched, plain_db), (watched, db)):
            assert _run_crawl(config, archive).returncode == 0
        assert _queued(plain_db, "watched") == []
        # Refused: the three changes wait for their retry, through the runs before it.
        waiting = sorted((url, 2) for url in _edited_urls_of(db, site))
        assert sorted(_queued(db, "watched")) == waiting
        assert _sent_rows(db) == [(3, 0)]
        assert _run_crawl(watched, db).returncode == 0
        assert sorted(_queued(db, "watched")) == waiting and _sent_rows(db) == [(3, 0)]
