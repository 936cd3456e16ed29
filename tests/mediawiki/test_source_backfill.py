"""History backfill of `source: mediawiki` against a real MediaWiki: the back-dated history of
tests/data/mediawiki/history.xml imported in order with the wiki's timestamps, and `scraper
diff` between backfilled versions checked against MediaWiki's own action=compare."""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mediawiki_harness import DATA_DIR, MediaWikiServer
from test_source_support import (
    HISTORY_TITLES,
    api_kinds,
    run_crawl,
    viewed_titles,
    wiki_config,
    with_client,
)

from scraper.archive import Archive
from scraper.cli import main
from scraper.mediawiki import Comparison, MediaWikiClient
from scraper.models import RevisionMeta

pytestmark = pytest.mark.mediawiki

NS = {"mw": "http://www.mediawiki.org/xml/export-0.11/"}
BACKFILL = f"{{titles: [{', '.join(HISTORY_TITLES)}], backfill: 10}}"


def history_xml() -> dict[str, list[tuple[str, str, str]]]:
    """title -> (timestamp, user, comment) of each revision in history.xml, oldest first."""
    root = ET.parse(DATA_DIR / "history.xml").getroot()
    return {page.findtext("mw:title", namespaces=NS) or "": [
        (r.findtext("mw:timestamp", namespaces=NS) or "",
         r.findtext("mw:contributor/mw:username", namespaces=NS) or "",
         r.findtext("mw:comment", namespaces=NS) or "")
        for r in page.findall("mw:revision", NS)] for page in root.findall("mw:page", NS)}


def wiki_history(wiki: MediaWikiServer, title: str) -> tuple[RevisionMeta, ...]:
    async def ask(client: MediaWikiClient) -> tuple[RevisionMeta, ...]:
        return await client.history(title, limit=50)

    result: tuple[RevisionMeta, ...] = with_client(wiki, ask)
    return result


def test_backfill_imports_the_history_in_order_with_the_wikis_timestamps(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    expected = history_xml()
    assert sorted(expected) == sorted(HISTORY_TITLES)
    with Archive.open(str(tmp_path / "a.db")) as archive:
        result = run_crawl(wiki_config(mediawiki, BACKFILL, start=HISTORY_TITLES[0]), archive)
        assert result.status == "completed"
        for title, revisions in expected.items():
            versions = archive.history(mediawiki.page_url(title))
            assert [s.version for s in versions] == list(range(1, len(revisions) + 1))
            assert [(s.revision_timestamp, s.revision_user, s.revision_comment)
                    for s in versions] == revisions
            wiki = wiki_history(mediawiki, title)
            assert [s.revision_id for s in versions] == [r.revision_id for r in wiki]
            for snap in versions:
                page = archive.page(snap.url, snap.version)
                assert page.revision_id == snap.revision_id  # the view of that revision
        assert result.stats.new_versions == sum(len(r) for r in expected.values())


def test_backfill_is_bounded_and_later_runs_fill_only_what_is_newer(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    title = "Helsinki Final Act"
    url = mediawiki.page_url(title)
    wiki = wiki_history(mediawiki, title)
    config = wiki_config(mediawiki, "{titles: [Helsinki Final Act], backfill: 2}", start=title)
    with Archive.open(str(tmp_path / "a.db")) as archive:
        run_crawl(config, archive)
        assert [s.revision_id for s in archive.history(url)] == \
            [r.revision_id for r in wiki[-3:]]  # two past revisions and the current one
        text = wiki_text(mediawiki, wiki[-1].revision_id)
        first = mediawiki.edit(title, text + "\nOne more sentence.", summary="first")
        second = mediawiki.edit(title, text + "\nOne more sentence. And another.",
                                summary="second")
        mediawiki.reset_request_log()
        run_crawl(config, archive)
        # Both revisions made since, in order: the one in between is backfilled too.
        assert [s.revision_id for s in archive.history(url)][-2:] == [first, second]
        assert viewed_titles(mediawiki.request_log()) == [title, title]
        # A larger backfill later cannot put versions before the first archived one.
        mediawiki.reset_request_log()
        larger = wiki_config(mediawiki, "{titles: [Helsinki Final Act], backfill: 10}",
                             start=title)
        run_crawl(larger, archive)
        assert len(archive.history(url)) == 5
        assert "revisions" not in api_kinds(mediawiki.request_log())


def wiki_text(wiki: MediaWikiServer, revid: int) -> str:
    async def ask(client: MediaWikiClient) -> str:
        return await client.wikitext(revid)

    text: str = with_client(wiki, ask)
    return text


# --- `scraper diff` against action=compare ----------------------------------------------------

WORD = re.compile(r"\w+")
PARAM = re.compile(r"^\|\s*([\w ]+?)\s*=\s*(.*)$")


def plain(wikitext: str) -> str:
    """Wikitext as a reader sees it: references out, links as their text, no quote marks,
    headings and list items as their text."""
    text = re.sub(r"<ref[^>]*/>|<ref[^>]*>.*?</ref>", "", wikitext)
    text = re.sub(r"\[\[Category:([^\]|]*)[^\]]*\]\]", r"\1", text)
    text = re.sub(r"\[\[[^\]|]*\|([^\]]*)\]\]", r"\1", text)
    text = re.sub(r"\[\[([^\]]*)\]\]", r"\1", text)
    text = text.replace("'''", "").replace("''", "").strip()
    text = re.sub(r"^=+\s*(.*?)\s*=+$", r"\1", text)
    return text.lstrip("*#: ")


def words(texts: Iterable[str]) -> Counter[str]:
    return Counter(w for text in texts for w in WORD.findall(plain(text)))


def skipped_line(line: str, fields: set[str]) -> bool:
    """Lines that render as nothing the parser extracts: template calls (the infobox's own
    frame, the reference list) and infobox parameters the infobox does not show as a field
    (its caption)."""
    stripped = line.strip()
    if stripped.startswith("{{") or stripped == "}}":
        return True
    param = PARAM.match(stripped)
    return param is not None and param.group(1).lower() not in fields


def line_value(line: str) -> str:
    param = PARAM.match(line.strip())
    return param.group(2) if param else line


def mediawiki_changes(comparison: Comparison, fields: set[str]) -> tuple[set[str], set[str]]:
    """Words added and removed according to MediaWiki's diff of the wikitext: the words of
    the lines it shows as new or changed, less those of the lines they replace (so that
    words kept in a changed line, or moved to another line, count as neither)."""
    added: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    assert comparison.lines
    for row in comparison.lines:
        if row.new is not None and not skipped_line(row.new, fields):
            added += words([line_value(row.new)])
        if row.old is not None and not skipped_line(row.old, fields):
            removed += words([line_value(row.old)])
    return set(added - removed), set(removed - added)


def scraper_changes(diff: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Words added and removed according to `scraper diff --format json`."""
    added: list[str] = []
    removed: list[str] = []
    for tag, text in (diff["summary"] or {}).get("words", ()):
        (added if tag == "insert" else removed if tag == "delete" else []).append(text)
    for op in diff["text"]["ops"]:
        if op["op"] == "insert":
            added += op["paragraphs"]
        elif op["op"] == "delete":
            removed += op["paragraphs"]
        elif op["op"] == "replace":
            for tag, text in op["words"]:
                (added if tag == "insert" else removed if tag == "delete" else []).append(text)
    for change in diff["infobox"]:
        added += [change["new"]] if change["new"] else []
        removed += [change["old"]] if change["old"] else []
    added += [link["title"] for link in diff["links"]["added"]] + diff["categories"]["added"]
    removed += [link["title"] for link in diff["links"]["removed"]]
    removed += diff["categories"]["removed"]
    plus, minus = Counter(w for t in added for w in WORD.findall(t)), \
        Counter(w for t in removed for w in WORD.findall(t))
    return set(plus - minus), set(minus - plus)


def test_scraper_diff_between_backfilled_revisions_matches_action_compare(
        mediawiki: MediaWikiServer, tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    with Archive.open(db) as archive:
        run_crawl(wiki_config(mediawiki, BACKFILL, start=HISTORY_TITLES[0]), archive)
        versions = {t: archive.history(mediawiki.page_url(t)) for t in HISTORY_TITLES}
        fields = {t: {key.lower() for s in versions[t]
                      for key, _ in archive.page(s.url, s.version).infobox}
                  for t in HISTORY_TITLES}

    async def compare_all(client: MediaWikiClient) -> dict[tuple[int, int], Comparison]:
        out = {}
        for history in versions.values():
            for old, new in itertools.pairwise(history):
                assert old.revision_id is not None and new.revision_id is not None
                out[old.revision_id, new.revision_id] = await client.compare(
                    old.revision_id, new.revision_id)
        return out

    comparisons = with_client(mediawiki, compare_all)
    runner = CliRunner()
    checked = 0
    for title, history in versions.items():
        for old, new in itertools.pairwise(history):
            result = runner.invoke(main, ["diff", old.url, "--from", str(old.version), "--to",
                                          str(new.version), "--format", "json",
                                          "--archive", db])
            assert result.exit_code == 0, result.output
            diff = json.loads(result.output)
            assert (diff["old"]["revision_id"], diff["new"]["revision_id"]) == \
                (old.revision_id, new.revision_id)
            theirs = mediawiki_changes(comparisons[old.revision_id, new.revision_id],
                                       fields[title])
            ours = scraper_changes(diff)
            assert ours[0], (title, old.version, new.version)  # every revision adds words
            assert ours == theirs, (title, old.version, new.version, diff["gist"])
            checked += 1
    assert checked == 5
