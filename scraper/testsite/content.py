"""The built-in site's content: topics, their link graph and revisions, deterministic from (seed, pages).

`SiteModel` is pure apart from `edit()` (which takes the clock as an argument when asked).
`render_listing`, `render_article` and friends turn it into page bytes; they are re-exported
here so that parser tests can render the three listing markups without a server.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from urllib.parse import quote, quote_plus

from scraper.testsite import words
from scraper.testsite.fixed import FIXED
from scraper.testsite.wikitext import mirror_text, parse

SITE_NAME = "Testpedia"
PER_PAGE = 10  # related entries per listing page, after the page's own topic
BASE_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z: the initial revisions are dated in 2024
BASE_REVISION_ID = 1_000_000
MARKUPS = ("divs", "table", "bare")


def slug_of(title: str) -> str:
    """A page name as in MediaWiki URLs: spaces become underscores, first letter upper case."""
    title = title.strip()
    return (title[:1].upper() + title[1:]).replace(" ", "_")


def path_quote(slug: str) -> str:
    # Wikipedia leaves these characters unescaped in its article URLs.
    return quote(slug, safe="!$'()*,;:@_-.~")


def related_path(slug: str, page: int = 1) -> str:
    return f"/related/{path_quote(slug)}" + (f"?page={page}" if page > 1 else "")


def info_path(slug: str) -> str:
    return f"/info/{path_quote(slug)}"


def image_path(slug: str) -> str:
    return f"/img/{path_quote(slug)}.jpg"


def search_links(title: str, slug: str) -> tuple[tuple[str, str], ...]:
    """The outbound search links of a listing entry, as (name, url)."""
    return (("Wikipedia", f"https://en.wikipedia.org/wiki/{path_quote(slug)}"),
            ("Google", f"https://www.google.com/search?q={quote_plus(title)}"),
            ("Baidu", f"https://www.baidu.com/s?wd={quote_plus(title)}"))


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic: an article (/info/<slug>) and a listing of related topics (/related/<slug>)."""

    index: int
    slug: str
    title: str
    kind: str
    lead: str  # wikitext (see wikitext.py)
    sections: tuple[tuple[str, str], ...]  # (heading, wikitext)
    infobox: tuple[tuple[str, str], ...]
    categories: tuple[str, ...]
    related: tuple[str, ...]  # slugs, in listing order
    cut: int  # the mirror shows this many characters of the summary, then " ..."
    revision: int  # how many revisions the article has had
    revision_id: int  # the wiki's revision id (wgRevisionId), unique across the site
    revised_at: int  # Unix time of the current revision (Last-Modified)

    def summary(self) -> tuple[str, bool]:
        """The summary as the mirror shows it, and whether it was cut (it then ends in " ...")."""
        text = mirror_text(parse(self.lead))
        if len(text) <= self.cut:
            return text, False
        return text[:self.cut].rstrip() + " ...", True


@dataclass(frozen=True, slots=True)
class Padding:
    """Extra realistic material that brings a page to its `page_kb` size and link count."""

    links: tuple[tuple[str, str], ...] = ()  # (text, href)
    paragraphs: tuple[str, ...] = ()  # plain text


@dataclass(frozen=True, slots=True)
class EntryView:
    slug: str
    title: str
    image: str
    summary: str
    more_info: str
    related: str
    search: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ListingView:
    """What every markup of a listing page shows, in this order (see docs/testsite.md)."""

    slug: str
    title: str
    page: int
    pages: int
    entries: tuple[EntryView, ...]
    more: str | None  # the MORE link to the next page
    notes: tuple[tuple[str, str], ...]  # footer links, some out of scope: (text, href)
    padding: Padding
    revised_at: int  # the newest revision among the entries


def out_of_scope_links(index: int, slug: str) -> tuple[tuple[str, str], ...]:
    """Links that scope and robots rules must refuse, on every few pages."""
    notes: list[tuple[str, str]] = []
    if index % 3 == 1:
        notes.append(("Mirror elsewhere", f"http://elsewhere.invalid/related/{path_quote(slug)}"))
    if index % 4 == 2:
        notes.append(("Editor notes", f"/private/notes/{path_quote(slug)}"))
    if index % 5 == 3:
        notes.append(("Partner site", f"/offsite/{path_quote(slug)}"))
    return tuple(notes)


class SiteModel:
    """Topics, link graph and revisions of one built-in site, deterministic from (seed, pages).

    :param pages: how many topics (each has a listing and an article page).
    :param page_kb: pad listing and article pages to about this size (±25 %), with 50-200
        links each, for benchmarks; None leaves pages small.
    """

    def __init__(self, seed: int = 1, pages: int = 200, page_kb: int | None = None) -> None:
        if pages < 1:
            raise ValueError(f"pages must be >= 1, got {pages}")
        if page_kb is not None and page_kb < 1:
            raise ValueError(f"page_kb must be >= 1, got {page_kb}")
        self.seed = seed
        self.pages = pages
        self.page_kb = page_kb
        self.titles, self.kinds = _titles(seed, pages)
        self.slugs = tuple(slug_of(t) for t in self.titles)
        self.index = {slug: i for i, slug in enumerate(self.slugs)}
        self._graph = _graph(seed, self.slugs, self.index)
        self._topics: dict[str, Topic] = {}  # edited topics
        self._initial: dict[str, Topic] = {}  # generated topics, as (seed, pages) make them
        self._next_revision_id = BASE_REVISION_ID + 1000 * pages
        self._referrers = self._reverse(self._graph)
        self._pool: list[str] = []

    # -- reading ------------------------------------------------------------------------------

    def find(self, name: str) -> str:
        """The slug of a topic given its slug or title; KeyError names the unknown topic."""
        slug = slug_of(name)
        if slug not in self.index:
            raise KeyError(f"no topic {name!r} on this site (seed {self.seed}, "
                           f"{self.pages} pages)")
        return slug

    def topic(self, slug: str) -> Topic:
        found = self._topics.get(slug)
        return found if found is not None else self.initial_topic(slug)

    def initial_topic(self, slug: str) -> Topic:
        """A topic as (seed, pages) make it, before any edit."""
        found = self._initial.get(slug)
        if found is None:
            found = self._initial[slug] = self._generate(self.index[self.find(slug)])
        return found

    def listing_pages(self, slug: str) -> int:
        related = len(self.topic(slug).related)
        return max(1, -(-related // PER_PAGE))

    def referrers(self, slug: str) -> frozenset[str]:
        """Topics whose listing shows `slug` as an entry (so an edit of it changes them too)."""
        return frozenset(self._referrers.get(slug, ()))

    def listing(self, slug: str, page: int = 1) -> ListingView:
        """The content of /related/<slug>?page=N. KeyError for an unknown topic or page."""
        topic = self.topic(slug)
        pages = self.listing_pages(slug)
        if not 1 <= page <= pages:
            raise KeyError(f"{slug} has {pages} listing pages, not {page}")
        shown = (topic,) + tuple(self.topic(s) for s in
                                 topic.related[(page - 1) * PER_PAGE:page * PER_PAGE])
        entries = []
        for t in shown:
            summary, _ = t.summary()
            entries.append(EntryView(t.slug, t.title, image_path(t.slug), summary,
                                     info_path(t.slug), related_path(t.slug),
                                     search_links(t.title, t.slug)))
        return ListingView(
            slug=slug, title=topic.title, page=page, pages=pages, entries=tuple(entries),
            more=related_path(slug, page + 1) if page < pages else None,
            notes=out_of_scope_links(topic.index, slug),
            padding=self.padding("related", slug, page),
            revised_at=max(t.revised_at for t in shown))

    def listing_revised_at(self, slug: str, page: int = 1) -> int:
        """The newest revision time among the entries of a listing page (its Last-Modified)."""
        topic = self.topic(slug)
        shown = topic.related[(page - 1) * PER_PAGE:page * PER_PAGE]
        return max([topic.revised_at] + [self.topic(s).revised_at for s in shown])

    def category_members(self, name: str) -> tuple[str, ...]:
        """Slugs of the topics in a category (generates every topic: for small sites)."""
        return tuple(s for s in self.slugs if name in self.topic(s).categories)

    def padding(self, kind: str, slug: str, page: int = 1) -> Padding:
        """The padding of one page; it depends on (seed, slug, page) only, never on edits.

        Not cached: the server caches the rendered page, and padding is as big as the page.
        """
        if self.page_kb is None:
            return Padding()
        return self._make_padding(kind, slug, page)

    # -- editing ------------------------------------------------------------------------------

    def edit(self, name: str, *, summary: str | None = None, append_sentence: str | None = None,
             prepend_sentence: str | None = None, add_related: str | None = None, remove_related: str | None = None,
             infobox: dict[str, str] | None = None, reorder_sections: bool = False,
             add_category: str | None = None, remove_category: str | None = None,
             touch: bool = False, now: float) -> Topic:
        """Make a new revision of a topic and return it.

        `summary` replaces the lead (wikitext subset); `append_sentence` adds a sentence at its
        end (listings, which cut summaries, show it only when the summary is short) and
        `prepend_sentence` at its start (every listing showing the topic changes);
        `add_related` / `remove_related` (slug or title) add or remove an entry of the topic's
        listing and its "See also"; `infobox` sets keys (an empty value removes the key);
        `reorder_sections` reverses the body sections; `touch` makes a revision that changes
        nothing visible but the revision id and date. `now` is the Unix time of the edit.
        """
        slug = self.find(name)
        old = self.topic(slug)
        new = old
        if summary is not None:
            new = replace(new, lead=summary)
        if append_sentence is not None:
            new = replace(new, lead=new.lead.rstrip() + " " + append_sentence.strip())
        if prepend_sentence is not None:
            new = replace(new, lead=prepend_sentence.strip() + " " + new.lead.lstrip())
        if add_related is not None:
            target = self.find(add_related)
            if target == slug or target in new.related:
                raise ValueError(f"{slug} already lists {target} (or is it)")
            new = replace(new, related=new.related + (target,))
        if remove_related is not None:
            target = self.find(remove_related)
            if target not in new.related:
                raise ValueError(f"{slug} does not list {target}")
            new = replace(new, related=tuple(s for s in new.related if s != target))
        if infobox:
            box = dict(new.infobox)
            for key, value in infobox.items():
                if value == "":
                    box.pop(key, None)
                else:
                    box[key] = value
            new = replace(new, infobox=tuple(box.items()))
        if reorder_sections:
            new = replace(new, sections=tuple(reversed(new.sections)))
        if add_category is not None and add_category not in new.categories:
            new = replace(new, categories=new.categories + (add_category,))
        if remove_category is not None:
            new = replace(new, categories=tuple(c for c in new.categories if c != remove_category))
        if new == old and not touch:
            raise ValueError(f"edit of {slug} changes nothing (pass touch=True for a null "
                             "revision)")
        self._next_revision_id += 1
        new = replace(new, revision=old.revision + 1, revision_id=self._next_revision_id,
                      revised_at=max(int(now), old.revised_at + 1))
        self._topics[slug] = new
        if new.related != old.related:
            for s in set(old.related) - set(new.related):
                self._referrers.get(s, set()).discard(slug)
            for s in set(new.related) - set(old.related):
                self._referrers.setdefault(s, set()).add(slug)
        return new

    def reset(self) -> None:
        """Forget every edit: back to the content given by (seed, pages)."""
        self._topics.clear()
        self._next_revision_id = BASE_REVISION_ID + 1000 * self.pages
        self._referrers = self._reverse(self._graph)

    # -- generation ---------------------------------------------------------------------------

    def _reverse(self, graph: list[tuple[str, ...]]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for i, related in enumerate(graph):
            for s in related:
                out.setdefault(s, set()).add(self.slugs[i])
        return out

    def _generate(self, i: int) -> Topic:
        title, kind, slug = self.titles[i], self.kinds[i], self.slugs[i]
        rng = random.Random(f"topic:{self.seed}:{title}")
        related = self._graph[i]
        others = [self.titles[self.index[s]] for s in related[:6]]
        others += [self.titles[rng.randrange(self.pages)] for _ in range(4)]
        fixed = FIXED[i] if i < len(FIXED) else None
        if fixed is not None:
            lead = fixed.lead
            if not fixed.whole:
                lead += " " + " ".join(words.sentence(rng, title, rng.randrange(1950, 2010))
                                       for _ in range(rng.randrange(3, 6)))
        elif i % 10 == 7:  # a short summary that the mirror shows whole
            lead = f"The {title} is a topic of this encyclopedia related to [[{others[0]}]]."
        else:
            debris = {name for name, every, at in (("pipe", 5, 2), ("italic", 7, 4),
                                                   ("motto", 11, 3), ("ref", 6, 1))
                      if i % every == at}
            lead = words.lead_wikitext(rng, title, kind, others, debris)
        if "<ref" not in lead:  # every article cites something; the mirror drops the mark
            cite = random.Random(f"ref:{self.seed}:{title}")
            lead += (f"<ref>{cite.choice(words.PUBLISHERS)}, ''{cite.choice(words.ITALIC_WORKS)}"
                     f"'' ({cite.randrange(1990, 2024)})</ref>")
        text = mirror_text(parse(lead))
        if fixed is not None and fixed.cut_after and fixed.cut_after in text:
            cut = text.index(fixed.cut_after) + len(fixed.cut_after)
        else:
            cut = rng.randrange(280, 700)
        sections = tuple(
            (heading, "\n\n".join(words.paragraph(rng, title, others, rng.randrange(2, 6))
                                  for _ in range(rng.randrange(1, 4))))
            for heading in words.SECTION_TITLES[kind])
        if fixed is not None and fixed.infobox:
            infobox = fixed.infobox
        else:
            infobox = tuple((k, words.infobox_value(rng, k)) for k in words.INFOBOX_KEYS[kind])
        if fixed is not None and fixed.categories:
            categories = fixed.categories
        else:
            subject = title.partition("–")[0] if kind == "relations" else rng.choice(words.CITIES)
            categories = tuple(c.format(a=subject, c=subject) for c in words.CATEGORIES[kind])
        return Topic(
            index=i, slug=slug, title=title, kind=kind, lead=lead, sections=sections,
            infobox=infobox, categories=categories, related=related, cut=cut,
            revision=rng.randrange(3, 400), revision_id=BASE_REVISION_ID + 1000 * i
            + rng.randrange(1000), revised_at=BASE_EPOCH + rng.randrange(0, 300 * 86400))

    def _sentence_pool(self) -> list[str]:
        # Padding takes runs of these (the title filled in later): generating hundreds of
        # sentences per page would make padded sites slow to render.
        if not self._pool:
            rng = random.Random(f"pool:{self.seed}")
            self._pool = [words.sentence(rng, "\x00", rng.randrange(1950, 2010))
                          for _ in range(1024)]
        return self._pool

    def _make_padding(self, kind: str, slug: str, page: int) -> Padding:
        # Sizes are estimated from the initial content with fixed per-page overheads, so
        # that padding never depends on edits or on the markup being served.
        assert self.page_kb is not None
        rng = random.Random(f"pad:{self.seed}:{kind}:{slug}:{page}")
        target = int(self.page_kb * 1024 * rng.uniform(0.8, 1.2))
        want_links = rng.randrange(50, 201)
        topic = self.initial_topic(slug)
        if kind == "related":
            shown = [topic] + [self.initial_topic(s) for s in
                               topic.related[(page - 1) * PER_PAGE:page * PER_PAGE]]
            base = 1000 + sum(len(t.summary()[0].encode()) + 750 for t in shown)
            links = 5 * len(shown) + 2
            per_link = 75
        else:
            size = len(topic.lead.encode()) + sum(len(s.encode()) for _, s in topic.sections)
            base = 14500 + int(1.6 * size) + 120 * len(topic.related)
            links = 55 + 2 * len(topic.related) + size // 120
            per_link = 100
        nav = tuple(
            (self.titles[j], info_path(self.slugs[j]))
            for j in (rng.randrange(self.pages) for _ in range(max(0, want_links - links))))
        room = target - base - per_link * len(nav)
        paragraphs: list[str] = []
        pool = self._sentence_pool()
        while room > 0:
            start = rng.randrange(len(pool) - 8)
            para = " ".join(pool[start:start + rng.randrange(4, 9)]).replace("\x00", topic.title)
            paragraphs.append(para)
            room -= len(para.encode()) + 20
        return Padding(nav, tuple(paragraphs))


def _titles(seed: int, pages: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    titles = [f.title for f in FIXED[:pages]]
    kinds = [f.kind for f in FIXED[:pages]]
    seen = {slug_of(t) for t in titles}
    rng = random.Random(f"titles:{seed}")
    while len(titles) < pages:
        kind = rng.choice(words.GENERATED_KINDS)
        for _ in range(50):
            title = words.make_title(rng, kind)
            if slug_of(title) not in seen:
                break
        else:
            title = f"{title} ({len(titles)})"
        seen.add(slug_of(title))
        titles.append(title)
        kinds.append(kind)
    return tuple(titles), tuple(kinds)


def _graph(seed: int, slugs: tuple[str, ...], index: dict[str, int]) -> list[tuple[str, ...]]:
    """Related topics of each topic; every topic is reachable from the first (NATO)."""
    n = len(slugs)
    rng = random.Random(f"graph:{seed}:{n}")
    related: list[list[int]] = []
    for i in range(n):
        fixed = FIXED[i].related if i < len(FIXED) else ()
        related.append([index[slug_of(t)] for t in fixed if slug_of(t) in index])
    for i in range(len(FIXED), n):
        roll = rng.random()
        want = (rng.randrange(3, 10) if roll < 0.7 else rng.randrange(10, 15) if roll < 0.9
                else rng.randrange(15, 31))
        want = min(want, n - 1)
        while len(related[i]) < want:
            j = rng.randrange(n)
            if j != i and j not in related[i]:
                related[i].append(j)
    # Link every topic not yet reachable from NATO into a reachable one, in index order.
    reached: set[int] = set()
    order: list[int] = []  # `reached` in the order found, for a deterministic choice
    todo = [0]
    for i in range(n):
        while todo:
            k = todo.pop()
            if k not in reached:
                reached.add(k)
                order.append(k)
                todo.extend(related[k])
        if i not in reached:
            related[rng.choice(order)].append(i)
            todo.append(i)
    return [tuple(slugs[j] for j in r) for r in related]
