"""The notification outbox on every archive backend: changes queued with the write that makes
them, targets that start from when they were first seen, and one delivery row per target and
change (issue 19)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_archive import T0, URL, article, fetch, save, sql_rows

from scraper.archive import ArchiveBackend
from scraper.errors import ArchiveError
from scraper.models import CrawlStats


def _gone(archive: ArchiveBackend, run: int, url: str) -> None:
    archive.record_failure(run, "wiki", url, reason="HTTP 404", attempts=1, status=404,
                           now=T0 + timedelta(hours=1), next_due=T0 + timedelta(days=1),
                           gone=True)


def test_versions_gone_pages_and_breakage_are_queued_with_their_writes(
        any_archive: ArchiveBackend) -> None:
    archive = any_archive
    run = archive.start_run(["wiki"], {}, T0)
    save(archive, article(), b"v1", T0, run)
    save(archive, article(), b"v1 again", T0 + timedelta(minutes=1), run)  # no new version
    save(archive, article(summary="Mozilla is a foundation."), b"v2",
         T0 + timedelta(minutes=2), run)
    _gone(archive, run, URL)
    _gone(archive, run, URL)  # already gone: nothing more to tell
    alert = {"site": "wiki", "field": "summary", "examples": [URL],
             "message": "wiki: field 'summary' came out empty"}
    archive.finish_run(run, CrawlStats(), status="completed", ended_at=T0 + timedelta(hours=2),
                       alerts=[alert])
    rows = sql_rows(archive, "SELECT site, url, event, version, run_id, detail"
                             " FROM notify_outbox ORDER BY id")
    assert rows == [("wiki", URL, "version", 1, run, ""), ("wiki", URL, "version", 2, run, ""),
                    ("wiki", URL, "gone", 2, run, "HTTP 404"),
                    ("wiki", URL, "breakage", None, run, alert["message"])]


def test_a_new_target_gets_changes_from_then_on_and_each_once(
        any_archive: ArchiveBackend) -> None:
    archive = any_archive
    run = archive.start_run(["wiki"], {}, T0)
    save(archive, article(), b"v1", T0, run)  # before the target existed
    now = T0 + timedelta(hours=1)
    assert archive.register_notify_target("wiki", "t1", "webhook http://x/***", now) == 1
    assert archive.due_changes("wiki", "t1", now) == []
    save(archive, article(summary="Two."), b"v2", now, run)
    save(archive, article("http://wiki.test/wiki/Other"), b"o1", now, run)
    save(archive, article("http://other.test/"), b"x", now, run)
    due = archive.due_changes("wiki", "t1", now)
    assert [(c.url, c.event, c.version, c.attempts) for c in due] == [
        (URL, "version", 2, 0), ("http://wiki.test/wiki/Other", "version", 1, 0),
        ("http://other.test/", "version", 1, 0)]
    # Registering again keeps the start.
    assert archive.register_notify_target("wiki", "t1", "relabelled", now) == 1

    # A failure: retried from next_attempt on, with the attempts counted.
    first, second, third = (c.id for c in due)
    retry_at = now + timedelta(minutes=5)
    archive.record_deliveries("t1", [first, second], status="failed", now=now,
                              error="HTTP 500", next_attempt=retry_at)
    archive.record_deliveries("t1", [third], status="skipped", now=now)
    assert archive.due_changes("wiki", "t1", now) == []
    backlog = archive.notify_backlog("wiki")
    assert [(b.target, b.label, b.pending, b.sent, b.attempts, b.last_error) for b in backlog] \
        == [("t1", "relabelled", 2, 0, 1, "HTTP 500")]
    assert backlog[0].next_attempt == retry_at
    later = retry_at + timedelta(seconds=1)
    assert [(c.id, c.attempts) for c in archive.due_changes("wiki", "t1", later)] == [
        (first, 1), (second, 1)]
    archive.record_deliveries("t1", [first, second], status="sent", now=later)
    assert archive.due_changes("wiki", "t1", later + timedelta(days=1)) == []
    # Sent stays sent: a late failure report changes nothing.
    archive.record_deliveries("t1", [first], status="failed", now=later, error="late",
                              next_attempt=later)
    assert archive.due_changes("wiki", "t1", later + timedelta(days=1)) == []
    (row,) = archive.notify_backlog()
    assert (row.pending, row.sent, row.next_attempt, row.last_error) == (0, 2, None, None)

    # A second target registered now starts after everything queued so far.
    assert archive.register_notify_target("wiki", "t2", "apprise mailto://h", later) == \
        max(c.id for c in due)
    assert archive.due_changes("wiki", "t2", later) == []


def test_an_unregistered_target_and_an_unknown_status_are_refused(
        any_archive: ArchiveBackend) -> None:
    with pytest.raises(ArchiveError, match="never registered"):
        any_archive.due_changes("wiki", "nobody", T0)
    with pytest.raises(ArchiveError, match="unknown delivery status 'lost'"):
        any_archive.record_deliveries("t", [1], status="lost", now=T0)


def test_changes_no_target_will_get_are_pruned_and_the_others_kept(
        any_archive: ArchiveBackend) -> None:
    archive = any_archive
    run = archive.start_run(["wiki"], {}, T0)
    save(archive, article(), b"v1", T0, run)
    save(archive, article("http://other.test/"), b"x", T0, run)  # site "wiki" too
    other_run = archive.start_run(["list"], {}, T0)
    archive.save(other_run, "list", fetch("http://list.test/"), article("http://list.test/"),
                 next_due=T0)

    def queued(site: str) -> list[tuple[object, ...]]:
        return sql_rows(archive, "SELECT url, version FROM notify_outbox"
                                 f" WHERE site = '{site}' ORDER BY id")

    # No target: nobody will ever be sent these. Another site's changes stay.
    assert archive.prune_outbox("wiki") == 2
    assert queued("wiki") == [] and queued("list") == [("http://list.test/", 1)]
    assert archive.prune_outbox("wiki") == 0

    # With targets: what came before the earliest one's start goes, the rest stays, and
    # what was sent or waits for a retry is as it was.
    save(archive, article(summary="Two."), b"v2", T0, run)  # before any target
    now = T0 + timedelta(hours=1)
    archive.register_notify_target("wiki", "t1", "webhook x", now)
    save(archive, article(summary="Three."), b"v3", now, run)
    save(archive, article(summary="Four."), b"v4", now, run)
    archive.register_notify_target("wiki", "t2", "webhook y", now)
    save(archive, article(summary="Five."), b"v5", now, run)
    due = archive.due_changes("wiki", "t1", now)
    assert [c.version for c in due] == [3, 4, 5]
    archive.record_deliveries("t1", [due[0].id], status="sent", now=now)
    archive.record_deliveries("t1", [due[1].id], status="failed", now=now, error="HTTP 500",
                              next_attempt=now)
    before = (archive.notify_backlog(), archive.due_changes("wiki", "t1", now),
              archive.due_changes("wiki", "t2", now))
    assert archive.prune_outbox("wiki") == 1
    assert queued("wiki") == [(URL, 3), (URL, 4), (URL, 5)]
    assert (archive.notify_backlog(), archive.due_changes("wiki", "t1", now),
            archive.due_changes("wiki", "t2", now)) == before
