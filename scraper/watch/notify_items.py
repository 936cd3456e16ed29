"""What one notification says about one change: the records a message groups (pure), and how
they are read from the archive (the page's gist and a short record-aware diff)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scraper.archive.notify_records import OutboxChange
from scraper.archive.protocol import ArchiveBackend
from scraper.config import NotifyTarget
from scraper.diff import PageDiff, diff_pages
from scraper.errors import ArchiveError
from scraper.models import RELATED_KINDS

# Characters of removed or added summary text a message shows per change.
SUMMARY_CHARS = 160
# Related links or infobox fields a message names per change.
LIST_ITEMS = 5


@dataclass(frozen=True, slots=True)
class FieldEdit:
    key: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class ChangeDiff:
    """The short diff a message shows: the summary's removed and added words, related links
    added and removed (URL, title), infobox fields changed."""

    summary_removed: str = ""
    summary_added: str = ""
    links_added: tuple[tuple[str, str], ...] = ()
    links_removed: tuple[tuple[str, str], ...] = ()
    infobox: tuple[FieldEdit, ...] = ()


@dataclass(frozen=True, slots=True)
class NotifyItem:
    """One change as a message shows it."""

    change_id: int
    site: str
    url: str
    event: str  # version | gone | breakage (OutboxChange.event)
    kinds: frozenset[str]  # of NOTIFY_KINDS: what `on:` filters by
    version: int | None
    title: str
    gist: str  # one line: what changed
    at: datetime
    diff: ChangeDiff | None = None


def _clip(text: str, limit: int = SUMMARY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def short_diff(diff: PageDiff) -> ChangeDiff:
    removed = added = ""
    if diff.summary is not None:
        # Separate runs of words, with "…" for the unchanged text between them.
        removed = _clip(" … ".join(t.strip() for op, t in diff.summary.words
                                   if op == "delete" and t.strip()))
        added = _clip(" … ".join(t.strip() for op, t in diff.summary.words
                                 if op == "insert" and t.strip()))
    return ChangeDiff(
        summary_removed=removed, summary_added=added,
        links_added=tuple((ln.url, ln.title) for ln in diff.links_added
                          if ln.kind in RELATED_KINDS),
        links_removed=tuple((ln.url, ln.title) for ln in diff.links_removed
                            if ln.kind in RELATED_KINDS),
        infobox=tuple(FieldEdit(c.key, c.old, c.new) for c in diff.infobox_changes))


def kinds_of(event: str, version: int | None, diff: ChangeDiff | None) -> frozenset[str]:
    """The NOTIFY_KINDS a change counts as (see scraper.config._model.NOTIFY_KINDS)."""
    if event != "version":
        return frozenset({event})
    if version == 1 or diff is None:
        return frozenset({"new"} if version == 1 else {"changed"})
    kinds = {"changed"}
    if diff.summary_removed or diff.summary_added:
        kinds.add("summary")
    if diff.links_added or diff.links_removed:
        kinds.add("links")
    if diff.infobox:
        kinds.add("infobox")
    return frozenset(kinds)


def wanted(target: NotifyTarget, item: NotifyItem) -> bool:
    """Whether `target` asked for this change: one of its kinds in `on:`, and its URL matched
    by `match:` (breakage is about a whole site: `match:` does not apply to it)."""
    if not item.kinds & set(target.on):
        return False
    return (target.match is None or item.event == "breakage"
            or target.match.search(item.url) is not None)


class ItemReader:
    """Reads NotifyItems from an archive, each page version once however many targets ask."""

    def __init__(self, archive: ArchiveBackend) -> None:
        self.archive = archive
        self._items: dict[int, NotifyItem] = {}

    def item(self, change: OutboxChange) -> NotifyItem:
        found = self._items.get(change.id)
        if found is None:
            found = self._items[change.id] = self._read(change)
        return found

    def _read(self, change: OutboxChange) -> NotifyItem:
        title, gist, diff = "", change.detail, None
        if change.event in ("version", "gone") and change.version is not None:
            try:
                snapshot = self.archive.snapshot(change.url, change.version)
                page = self.archive.page(change.url, change.version)
                title = page.title
                if change.event == "version":
                    gist = snapshot.change_gist
                    if change.version > 1:
                        diff = short_diff(diff_pages(
                            self.archive.page(change.url, change.version - 1), page))
                else:
                    gist = f"page gone ({change.detail})" if change.detail else "page gone"
            except ArchiveError as exc:  # a page since forgotten: told without its diff
                gist = gist or f"(not readable: {exc})"
        elif change.event == "breakage":
            gist = change.detail
        if change.event == "version" and not gist:
            gist = "first archived" if change.version == 1 else "changed"
        return NotifyItem(change_id=change.id, site=change.site, url=change.url,
                          event=change.event, kinds=kinds_of(change.event, change.version, diff),
                          version=change.version, title=title, gist=gist, at=change.at,
                          diff=diff)


def item_record(item: NotifyItem) -> dict[str, Any]:
    """One change as the webhook's JSON carries it."""
    record: dict[str, Any] = {
        "id": item.change_id, "site": item.site, "url": item.url, "event": item.event,
        "kinds": sorted(item.kinds), "version": item.version, "title": item.title,
        "gist": item.gist, "at": item.at.isoformat(),
    }
    if item.diff is not None:
        record["diff"] = {
            "summary": {"removed": item.diff.summary_removed, "added": item.diff.summary_added},
            "related_added": [{"url": u, "title": t} for u, t in item.diff.links_added],
            "related_removed": [{"url": u, "title": t} for u, t in item.diff.links_removed],
            "infobox": [{"field": f.key, "old": f.old, "new": f.new} for f in item.diff.infobox],
        }
    return record


def item_lines(item: NotifyItem) -> list[str]:
    """One change as a text message shows it: a heading line, then its short diff."""
    name = item.title or item.url
    where = f" (v{item.version})" if item.event == "version" and item.version else ""
    lines = [f"* {name}{where}: {item.gist}", f"  {item.url}"]
    diff = item.diff
    if diff is None:
        return lines
    if diff.summary_removed:
        lines.append(f"  summary removed: {diff.summary_removed}")
    if diff.summary_added:
        lines.append(f"  summary added: {diff.summary_added}")
    for label, links in (("related added", diff.links_added),
                         ("related removed", diff.links_removed)):
        if links:
            shown = ", ".join(t or u for u, t in links[:LIST_ITEMS])
            more = f" and {len(links) - LIST_ITEMS} more" if len(links) > LIST_ITEMS else ""
            lines.append(f"  {label}: {shown}{more}")
    for edit in diff.infobox[:LIST_ITEMS]:
        lines.append(f"  infobox {edit.key}: {_clip(edit.old or '∅', 60)} → "
                     f"{_clip(edit.new or '∅', 60)}")
    if len(diff.infobox) > LIST_ITEMS:
        lines.append(f"  and {len(diff.infobox) - LIST_ITEMS} more infobox fields")
    return lines
