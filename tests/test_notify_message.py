"""What a notification says (pure: kinds, filters, the size cap, delivery ids, redaction), and
filters, gone pages and breakage through deliver_notifications on every archive backend."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from notify_helpers import SECRET, webhook_receiver
from test_archive import T0, URL, article, save

from scraper.archive import ArchiveBackend
from scraper.config import NotifyTarget, load_config_text
from scraper.config._notify import redact_target_url
from scraper.config.secrets import Secret
from scraper.models import CrawlStats
from scraper.watch.notify import deliver_notifications, retry_delay, target_key
from scraper.watch.notify_items import ChangeDiff, FieldEdit, NotifyItem, kinds_of, wanted
from scraper.watch.notify_message import compose, delivery_id

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _item(n: int, **changes: object) -> NotifyItem:
    fields: dict[str, object] = {
        "change_id": n, "site": "wiki", "url": f"http://wiki.test/wiki/P{n}", "event": "version",
        "kinds": frozenset({"changed", "summary"}), "version": 2, "title": f"Page {n}",
        "gist": f"summary edited ({n})", "at": AT,
        "diff": ChangeDiff(summary_removed="old words", summary_added="new words",
                           links_added=(("http://wiki.test/wiki/X", "X"),),
                           infobox=(FieldEdit("Members", "31", "32"),)),
    }
    fields.update(changes)
    return NotifyItem(**fields)  # type: ignore[arg-type]


def _target(**changes: object) -> NotifyTarget:
    fields: dict[str, object] = {"kind": "webhook", "url": "http://h/", "url_value": Secret("x")}
    fields.update(changes)
    return NotifyTarget(**fields)  # type: ignore[arg-type]


def test_a_message_groups_the_changes_and_caps_them_with_and_n_more() -> None:
    items = [_item(n) for n in range(1, 26)]
    message = compose("wiki", "k", items, sent_at=AT)
    assert message.title == "scraper: wiki: 25 pages changed"
    lines = message.body.splitlines()
    assert lines[0] == "* Page 1 (v2): summary edited (1)"
    assert lines[1] == "  http://wiki.test/wiki/P1"
    assert "  summary removed: old words" in lines and "  summary added: new words" in lines
    assert "  related added: X" in lines and "  infobox Members: 31 → 32" in lines
    assert lines[-1] == "and 5 more" and "summary edited (20)" in message.body
    assert "summary edited (21)" not in message.body
    # The character cap leaves out whole changes, counted too.
    small = compose("wiki", "k", items, sent_at=AT, max_body_chars=400)
    assert small.body.endswith(f"and {25 - small.body.count('* Page')} more")
    assert len(small.body) < 600
    # The webhook body carries every record up to its own cap.
    capped = compose("wiki", "k", items, sent_at=AT, max_records=10)
    assert b'"more":15' in capped.payload and capped.payload.count(b'"gist"') == 10


def test_the_delivery_id_is_fixed_by_the_target_and_the_changes() -> None:
    items = [_item(1), _item(2)]
    one = compose("wiki", "k", items, sent_at=AT)
    again = compose("wiki", "k", list(reversed(items)), sent_at=AT + timedelta(hours=1))
    assert one.delivery_id == again.delivery_id == delivery_id("k", [2, 1])
    assert compose("wiki", "other", items, sent_at=AT).delivery_id != one.delivery_id
    assert compose("wiki", "k", items[:1], sent_at=AT).delivery_id != one.delivery_id


def test_kinds_and_filters() -> None:
    diff = ChangeDiff(links_removed=(("u", "t"),))
    assert kinds_of("version", 1, None) == {"new"}
    assert kinds_of("version", 3, diff) == {"changed", "links"}
    assert kinds_of("version", 3, ChangeDiff()) == {"changed"}
    assert kinds_of("gone", 3, None) == {"gone"}
    edit = _item(1)
    assert wanted(_target(), edit) and not wanted(_target(on=("links",)), edit)
    assert wanted(_target(on=("summary",), match=re.compile("/P1$")), edit)
    assert not wanted(_target(match=re.compile("/P2$")), edit)
    breakage = _item(2, event="breakage", kinds=frozenset({"breakage"}))
    assert wanted(_target(match=re.compile("nothing")), breakage)  # site-wide
    assert not wanted(_target(), _item(3, kinds=frozenset({"new"})))  # `new` is opt-in


def test_retry_delays_double_up_to_six_hours() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(50) == timedelta(hours=6)


@pytest.mark.parametrize(("url", "shown"), [
    ("mailto://me:pw@mail.example.org:587?to=a@b.org", "mailto://***@mail.example.org:587?***"),
    ("slack://T0KEN/B1/C2", "slack://***/***"),
    ("tgram://123456789:AAbbCC/4242", "tgram://***/***"),
    ("json://127.0.0.1:8000", "json://127.0.0.1:8000"),
    ("json://[::1]:8000/", "json://[::1]:8000"),
    ("https://discord.com/api/webhooks/1/tok", "https://discord.com/***"),
    ("ntfy://127.0.0.1/topic", "ntfy://127.0.0.1/***"),
])
def test_target_urls_are_shown_without_their_credentials(url: str, shown: str) -> None:
    assert redact_target_url(url) == shown


def test_filters_gone_pages_and_breakage_reach_the_webhook_on_every_backend(
        any_archive: ArchiveBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_TEST_SECRET", SECRET)
    archive = any_archive
    other = "http://wiki.test/wiki/Other"
    with webhook_receiver() as hook:
        cfg = load_config_text(
            "name: wiki\nstart_urls: [http://wiki.test/wiki/Mozilla]\n"
            f"notify:\n  - webhook: \"{hook.url}\"\n    secret: \"${{NOTIFY_TEST_SECRET}}\"\n"
            f"    on: [summary, gone, breakage]\n    match: \"/Mozilla$\"\n"
            f"  - webhook: \"{hook.url}?all\"\n    on: [new, changed]\n")
        deliver_notifications(archive, cfg, now=T0)  # both targets start here
        run = archive.start_run(["wiki"], {}, T0)
        save(archive, article(), b"v1", T0, run)
        save(archive, article(other), b"o1", T0, run)
        save(archive, article(summary="Mozilla is a foundation now."), b"v2",
             T0 + timedelta(minutes=1), run)
        save(archive, article(other, title="Renamed"), b"o2", T0 + timedelta(minutes=1), run)
        archive.record_failure(run, "wiki", URL, reason="HTTP 410", attempts=1, status=410,
                               now=T0 + timedelta(minutes=2), next_due=T0 + timedelta(days=1),
                               gone=True)
        archive.finish_run(run, CrawlStats(), status="completed",
                           ended_at=T0 + timedelta(minutes=3),
                           alerts=[{"site": "wiki", "examples": [other],
                                    "message": "wiki: field 'summary' came out empty"}])
        filtered, everything = deliver_notifications(archive, cfg, now=T0 + timedelta(hours=1))
    # The first target: Mozilla's summary edit and its going, and the breakage; not the new
    # pages nor Other's retitling (match), which it records as skipped.
    assert (filtered.sent, filtered.skipped) == (3, 3)
    assert (everything.sent, everything.skipped) == (4, 2)
    first, second = hook.received
    assert first.signature_ok and "x-scraper-signature" not in second.headers
    records = first.data["changes"]
    assert [(c["url"], c["event"], c["version"]) for c in records] == [
        (URL, "version", 2), (URL, "gone", 2), (other, "breakage", None)]
    assert records[1]["gist"] == "page gone (HTTP 410)"
    assert records[2]["gist"] == "wiki: field 'summary' came out empty"
    assert records[0]["diff"]["summary"]["added"]
    assert [(c["url"], c["version"], c["kinds"]) for c in second.data["changes"]] == [
        (URL, 1, ["new"]), (other, 1, ["new"]), (URL, 2, ["changed", "summary"]),
        (other, 2, ["changed"])]
    assert {b.target for b in archive.notify_backlog("wiki")} == {
        target_key(t) for t in cfg.notify}
