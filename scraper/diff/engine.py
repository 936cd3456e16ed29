"""What changed between two Page records: the PageDiff record and diff_pages (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from scraper.diff.links import CATCH_ALL_KINDS, diff_links
from scraper.diff.paragraphs import ParagraphOp, TextDiff, diff_text, split_paragraphs
from scraper.diff.words import WordOp, diff_words
from scraper.models import Entry, Link, Page, Snapshot


@dataclass(frozen=True, slots=True)
class TextChange:
    """A changed short text (title, summary): both sides and the word ops between them."""

    old: str
    new: str
    words: tuple[WordOp, ...]

    @property
    def kind(self) -> str:
        if not self.old:
            return "added"
        if not self.new:
            return "removed"
        return "edited"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One named value that was added, removed or changed (infobox key, page field, ...)."""

    key: str
    old: str | None
    new: str | None

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"


@dataclass(frozen=True, slots=True)
class EntryChange:
    """A listing entry present on both sides whose fields differ."""

    key: str  # the More Info URL, else the title
    old: Entry
    new: Entry
    summary: TextChange | None
    fields: tuple[FieldChange, ...]  # title, image, related, ... (not the summary)

    def describe(self) -> str:
        parts = ["summary edited"] if self.summary else []
        parts += [f"{change.key} {change.kind}" for change in self.fields]
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class PageDiff:
    """Everything that differs between two versions of one page."""

    url: str
    old_version: int | None
    new_version: int | None
    old_revision_id: int | None
    new_revision_id: int | None
    old_fetched_at: datetime | None
    new_fetched_at: datetime | None
    old_title: str  # both sides' title and summary, for headers and full-text renderings
    new_title: str
    old_summary: str
    new_summary: str
    old_text: str
    new_text: str
    title: TextChange | None
    summary: TextChange | None
    text: TextDiff
    links_added: tuple[Link, ...]
    links_removed: tuple[Link, ...]
    links_retitled: tuple[tuple[Link, Link], ...]  # same URL and kind, new anchor text
    categories_added: tuple[str, ...]
    categories_removed: tuple[str, ...]
    infobox_changes: tuple[FieldChange, ...]
    entries_added: tuple[Entry, ...]
    entries_removed: tuple[Entry, ...]
    entries_changed: tuple[EntryChange, ...]
    entries_reordered: bool
    field_changes: tuple[FieldChange, ...]  # kind, image, canonical_url, summary_truncated

    @property
    def is_empty(self) -> bool:
        return not (self.title or self.summary or self.text.changed or self.links_added
                    or self.links_removed or self.links_retitled or self.categories_added
                    or self.categories_removed or self.infobox_changes or self.entries_added
                    or self.entries_removed or self.entries_changed or self.entries_reordered
                    or self.field_changes)

    def gist(self) -> str:
        """One line naming what changed, e.g. "summary edited, 2 related added"."""
        parts: list[str] = []
        if self.title:
            parts.append(f"title {_verb(self.title.kind)}")
        if self.summary:
            parts.append(f"summary {self.summary.kind}")
        counts = self.text.counts()
        for what, verb in (("edited", "edited"), ("added", "added"), ("removed", "removed"),
                           ("moved", "moved")):
            if counts[what]:
                parts.append(f"{_plural(counts[what], 'paragraph')} {verb}")
        parts += _link_gist(self.links_added, "added")
        parts += _link_gist(self.links_removed, "removed")
        if self.links_retitled:
            parts.append(f"{_plural(len(self.links_retitled), 'link')} retitled")
        if self.categories_added:
            parts.append(f"{_plural(len(self.categories_added), 'category')} added")
        if self.categories_removed:
            parts.append(f"{_plural(len(self.categories_removed), 'category')} removed")
        if self.infobox_changes:
            named = [f"{c.key} {c.kind}" for c in self.infobox_changes[:3]]
            more = len(self.infobox_changes) - len(named)
            parts.append("infobox: " + ", ".join(named) + (f" (+{more} more)" if more else ""))
        for entries, verb in ((self.entries_added, "added"), (self.entries_removed, "removed"),
                              (self.entries_changed, "changed")):
            if entries:
                parts.append(f"{_plural(len(entries), 'entry')} {verb}")
        if self.entries_reordered:
            parts.append("entries reordered")
        parts += [f"{c.key} {c.kind}" for c in self.field_changes]
        return ", ".join(parts) if parts else "no change"


def _verb(kind: str) -> str:
    return "changed" if kind == "edited" else kind


def _plural(n: int, noun: str) -> str:
    if n == 1:
        return f"1 {noun}"
    if noun.endswith("y"):
        return f"{n} {noun[:-1]}ies"
    return f"{n} {noun}s"


def _link_gist(links: Sequence[Link], verb: str) -> list[str]:
    by_kind = Counter(link.kind for link in links)
    return [f"{n} {kind} {verb}" for kind, n in by_kind.items()]


def diff_pages(old: Page, new: Page, *, old_meta: Snapshot | None = None,
               new_meta: Snapshot | None = None) -> PageDiff:
    """The differences between two extracted pages (two versions of one URL).

    Pure and cheap enough to run on every new version. `old_meta`/`new_meta` (the stored
    versions' metadata) only supply version numbers, revision ids and fetch times.
    """
    entries_added, entries_removed, entries_changed, reordered = _diff_entries(
        old.entries, new.entries)
    # A listing's first entry is the page's own topic: its summary is the page summary,
    # shown once, as the summary.
    entries_changed = tuple(_without_page_summary(c, old.summary, new.summary)
                            for c in entries_changed)
    entries_changed = tuple(c for c in entries_changed if c.summary or c.fields)
    # Links an added, removed or changed entry carries are shown with that entry only.
    entry_urls_old = _entry_urls(entries_removed) | _entry_urls(c.old for c in entries_changed)
    entry_urls_new = _entry_urls(entries_added) | _entry_urls(c.new for c in entries_changed)
    added, removed, retitled = diff_links(old.links, new.links)
    return PageDiff(
        url=new.url or old.url,
        old_version=old_meta.version if old_meta else None,
        new_version=new_meta.version if new_meta else None,
        old_revision_id=_revision(old, old_meta),
        new_revision_id=_revision(new, new_meta),
        old_fetched_at=old_meta.fetched_at if old_meta else None,
        new_fetched_at=new_meta.fetched_at if new_meta else None,
        old_title=old.title,
        new_title=new.title,
        old_summary=old.summary,
        new_summary=new.summary,
        title=text_change(old.title, new.title),
        summary=text_change(old.summary, new.summary),
        old_text=old.text,
        new_text=new.text,
        text=diff_text(old.text, new.text, skip_old=_shown_elsewhere(old, new, removed),
                       skip_new=_shown_elsewhere(new, old, added)),
        links_added=tuple(ln for ln in added if ln.url not in entry_urls_new),
        links_removed=tuple(ln for ln in removed if ln.url not in entry_urls_old),
        links_retitled=retitled,
        categories_added=_missing_from(new.categories, old.categories),
        categories_removed=_missing_from(old.categories, new.categories),
        infobox_changes=_diff_pairs(old.infobox, new.infobox),
        entries_added=entries_added,
        entries_removed=entries_removed,
        entries_changed=entries_changed,
        entries_reordered=reordered,
        field_changes=_diff_fields(old, new),
    )


def _lead_count(page: Page, paragraphs: list[str]) -> int:
    """How many leading paragraphs of the text are the summary (0: the lead is not there)."""
    lead = split_paragraphs(page.summary)
    return len(lead) if lead and paragraphs[:len(lead)] == lead else 0


def _shown_elsewhere(page: Page, other: Page, changed_links: Iterable[Link]) -> set[int]:
    """Positions of text paragraphs that the diff shows in a structured field instead.

    The lead, when the text starts with the summary on both sides (the summary is diffed
    on its own); a "See also" or related item that was added or removed (the link is
    listed); and on listing pages the entries' titles and summaries (the entries are).
    """
    paragraphs = split_paragraphs(page.text)
    skip: set[int] = set()
    lead = _lead_count(page, paragraphs)
    if lead and _lead_count(other, split_paragraphs(other.text)):
        skip.update(range(lead))
    items = {link.title.strip() for link in changed_links
             if link.kind not in CATCH_ALL_KINDS and link.title.strip()}
    skip.update(k for k, p in enumerate(paragraphs) if p in items)
    if page.entries:
        shown = set()
        for entry in page.entries:
            shown.add(entry.title.strip())
            summary = entry.summary.strip()
            shown.update((summary, summary + " ...", summary + " …", summary + "..."))
        skip.update(k for k, p in enumerate(paragraphs) if p in shown)
    return skip


def _without_page_summary(change: EntryChange, old_summary: str, new_summary: str
                          ) -> EntryChange:
    summary = change.summary
    if summary is not None and (summary.old, summary.new) == (old_summary, new_summary):
        return replace(change, summary=None)
    return change


def _revision(page: Page, meta: Snapshot | None) -> int | None:
    if meta is not None and meta.revision_id is not None:
        return meta.revision_id
    return page.revision_id


def text_change(old: str, new: str) -> TextChange | None:
    """The word diff of a short text, or None when it is unchanged."""
    if old == new:
        return None
    return TextChange(old, new, tuple(diff_words(old, new)))


def _missing_from(items: Sequence[str], other: Sequence[str]) -> tuple[str, ...]:
    present = set(other)
    seen: set[str] = set()
    out = []
    for item in items:
        if item not in present and item not in seen:
            seen.add(item)
            out.append(item)
    return tuple(out)


def _keyed(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Pairs as a dict; a repeated key gets " #2", " #3" so no value is lost."""
    out: dict[str, str] = {}
    seen: Counter[str] = Counter()
    for key, value in pairs:
        seen[key] += 1
        out[key if seen[key] == 1 else f"{key} #{seen[key]}"] = value
    return out


def _diff_pairs(old: Iterable[tuple[str, str]], new: Iterable[tuple[str, str]]
                ) -> tuple[FieldChange, ...]:
    old_map, new_map = _keyed(old), _keyed(new)
    changes = [FieldChange(key, old_map.get(key), value) for key, value in new_map.items()
               if old_map.get(key) != value]
    changes += [FieldChange(key, value, None) for key, value in old_map.items()
                if key not in new_map]
    return tuple(changes)


def _entry_key(entry: Entry) -> str:
    return entry.more_info or entry.title


def _entry_urls(entries: Iterable[Entry]) -> set[str]:
    urls: set[str] = set()
    for entry in entries:
        urls.update(u for u in (entry.more_info, entry.related, entry.image) if u)
        urls.update(url for _, url in entry.search_links)
    return urls


def _diff_entries(old: Sequence[Entry], new: Sequence[Entry]) -> tuple[
        tuple[Entry, ...], tuple[Entry, ...], tuple[EntryChange, ...], bool]:
    old_map = _keyed_entries(old)
    new_map = _keyed_entries(new)
    added = tuple(e for k, e in new_map.items() if k not in old_map)
    removed = tuple(e for k, e in old_map.items() if k not in new_map)
    changed = []
    for key, entry in new_map.items():
        before = old_map.get(key)
        if before is not None and before != entry:
            changed.append(EntryChange(
                key=key, old=before, new=entry,
                summary=text_change(before.summary, entry.summary),
                fields=_entry_fields(before, entry),
            ))
    common_old = [k for k in old_map if k in new_map]
    common_new = [k for k in new_map if k in old_map]
    return added, removed, tuple(changed), common_old != common_new


def _keyed_entries(entries: Sequence[Entry]) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    seen: Counter[str] = Counter()
    for entry in entries:
        key = _entry_key(entry)
        seen[key] += 1
        out[key if seen[key] == 1 else f"{key} #{seen[key]}"] = entry
    return out


def _entry_fields(old: Entry, new: Entry) -> tuple[FieldChange, ...]:
    changes = []
    for name in ("title", "image", "more_info", "related"):
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            changes.append(FieldChange(name, a or None, b or None))
    if old.summary_truncated != new.summary_truncated:
        changes.append(FieldChange("summary_truncated", str(old.summary_truncated).lower(),
                                   str(new.summary_truncated).lower()))
    if old.search_links != new.search_links:
        changes.append(FieldChange(
            "search_links", " ".join(name for name, _ in old.search_links) or None,
            " ".join(name for name, _ in new.search_links) or None))
    return tuple(changes)


def _diff_fields(old: Page, new: Page) -> tuple[FieldChange, ...]:
    changes = []
    for name in ("kind", "image", "canonical_url"):
        a, b = getattr(old, name), getattr(new, name)
        if a != b:
            changes.append(FieldChange(name, a or None, b or None))
    if old.summary_truncated != new.summary_truncated:
        changes.append(FieldChange("summary_truncated", str(old.summary_truncated).lower(),
                                   str(new.summary_truncated).lower()))
    return tuple(changes)


__all__ = ["EntryChange", "FieldChange", "PageDiff", "ParagraphOp", "TextChange", "TextDiff",
           "diff_pages", "text_change"]
