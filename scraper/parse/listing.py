"""The listing parser: encyclopedia mirror pages of entries, found by what a reader sees.

A listing page shows entries, each an image ("picture info"), a title, a summary cut off
with " ...", a [...More Info...] link, a [...Related Items...] link and search links
([Wikipedia] [Google] [Baidu]). No class names are assumed: the entries are found from
the link texts, then the block around each More Info link is read:

- the block is the largest ancestor of the link that holds no other entry's link and
  no page-level link (HOME, MORE);
- when that block lacks the title, the summary or the picture (flat markup: entries are
  runs of siblings split by <br>; tables whose rows each hold one part), the siblings
  from the end of the previous entry's links to the end of this entry's links are read;
- in there, the summary is the longest line, the title the bold / heading / title-class
  line before it (else the line just before it), the image its <img>.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.models import Entry, Page
from scraper.parse.blocks import INLINE, MAX_DEPTH
from scraper.parse.html import Head, attr, norm, read_head
from scraper.parse.lines import Line, Lines, collect, collect_until, tag_name
from scraper.parse.urls import Resolver, new_links, page_base

NAME = "listing"

# Roles of anchors, by their text.
MORE_INFO, RELATED, SEARCH, HOME, NEXT, PICTURE = ("more_info", "related", "search", "home",
                                                   "next", "picture")

_MORE_INFO = re.compile(r"^\W*more\W*info\W*$", re.IGNORECASE)
_RELATED = re.compile(r"^\W*related\W*items?\W*$", re.IGNORECASE)
_SEARCH = re.compile(r"^\W*(wikipedia|google|baidu|bing|duckduckgo|yahoo|yandex|wikiwand|"
                     r"britannica)\W*$", re.IGNORECASE)
_HOME = re.compile(r"^\W*home\W*$", re.IGNORECASE)
_NEXT = re.compile(r"^\W*(?:more|next|next\s+page|more\s+results|older\s+entries)\W*$|^[»›>]+$",
                   re.IGNORECASE)
_PICTURE = re.compile(r"^\W*picture\W*info\W*$", re.IGNORECASE)
# Text between an entry's links: "OR:", "|", "·"...
_SEPARATOR = re.compile(r"^[\W_]*(?:or)?[\W_]*$", re.IGNORECASE)
_TRUNCATED = re.compile(r"(?:\s+\.\.\.|\s*…)$")  # the mirror's cut: " ..." (not "etc...")
_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")
_ENTRY_ROLES = frozenset({MORE_INFO, RELATED, SEARCH, PICTURE})
_TAIL_ROLES = frozenset({RELATED, SEARCH})


# The six patterns above as one, tried in the same order (a regex alternation takes the
# first branch that matches): one call per anchor instead of six for most anchors.
_ROLE = re.compile("|".join(f"(?P<{name}>{pattern.pattern.replace('(wikipedia', '(?:wikipedia')})"
                            for name, pattern in (
                                (MORE_INFO, _MORE_INFO), (RELATED, _RELATED), (SEARCH, _SEARCH),
                                (HOME, _HOME), (NEXT, _NEXT), (PICTURE, _PICTURE))),
                   re.IGNORECASE)


def anchor_role(text: str) -> str | None:
    if len(text) > 40:
        return None
    match = _ROLE.match(text)
    return match.lastgroup if match else None


def find_listing_anchors(tree: LexborHTMLParser) -> tuple[list[LexborNode], list[LexborNode]]:
    """The More Info and Related Items anchors of a page (cheap: Lexbor filters first)."""
    more: list[LexborNode] = []
    related: list[LexborNode] = []
    for node in tree.css('a:lexbor-contains("info" i), a:lexbor-contains("related" i)'):
        role = anchor_role(norm(node.text()))
        if role == MORE_INFO:
            more.append(node)
        elif role == RELATED:
            related.append(node)
    return more, related


@dataclass(slots=True)
class _Anchor:
    node: LexborNode
    text: str
    url: str | None
    role: str | None


def _cut_mark(summary: str) -> tuple[bool, str]:
    """(whether the summary ends with the mirror's cut, the summary without it): what
    _TRUNCATED.search() and .sub() say, without trying the pattern at every character
    (the pattern is anchored at the end; \\s is what str.rstrip() strips)."""
    if summary.endswith("..."):
        head = summary[:-3]
        kept = head.rstrip()
        return (True, kept) if len(kept) < len(head) else (False, summary)
    if summary.endswith("…"):
        return True, summary[:-1].rstrip()
    # ($ also matches before a final line break)
    if summary.endswith("\n") and _TRUNCATED.search(summary):
        return True, _TRUNCATED.sub("", summary)
    return False, summary


def _first_img(node: LexborNode) -> LexborNode | None:
    """node.css_first("img"), without asking Lexbor when the node has no children."""
    return None if node.first_child is None else node.css_first("img")


def _visible_lines(nodes: list[LexborNode], skip: set[int]) -> list[Line]:
    out = Lines()
    for node in nodes:
        collect(node, out, False, 0, skip)
    out.newline()
    return [line for line in out.lines
            if not _SEPARATOR.match(line.text) and not _PICTURE.match(line.text)]


def _title_and_summary(lines: list[Line]) -> tuple[str, str]:
    if not lines:
        return "", ""
    plain = [i for i, line in enumerate(lines) if not line.emphasised]
    emphasised = [i for i, line in enumerate(lines) if line.emphasised]
    if plain:
        summary_at = max(plain, key=lambda i: (len(lines[i].text), -i))
    elif len(lines) > 1:
        summary_at = max(range(1, len(lines)), key=lambda i: (len(lines[i].text), -i))
    else:
        return lines[0].text, ""
    before = [i for i in emphasised if i < summary_at]
    if before:
        title_at: int | None = before[-1]
    elif emphasised:
        title_at = emphasised[0]
    else:
        title_at = summary_at - 1 if summary_at > 0 else None
    title = lines[title_at].text if title_at is not None else ""
    return title, lines[summary_at].text


def _ancestors(node: LexborNode, limit: int = 4 * MAX_DEPTH) -> list[LexborNode]:
    chain: list[LexborNode] = []
    parent = node.parent
    while parent is not None and parent.tag not in ("body", "html", "-document") \
            and len(chain) < limit:
        chain.append(parent)
        parent = parent.parent
    return chain


class _ListingReader:
    def __init__(self, tree: LexborHTMLParser, url: str, head: Head) -> None:
        self.tree = tree
        self.resolver = Resolver(page_base(head, url))
        body = tree.body
        self.anchors: list[_Anchor] = []
        if body is not None:
            resolve = self.resolver.resolve
            for node in body.css("a[href]"):
                text = norm(node.text())
                role = anchor_role(text)
                if role is None and not text:
                    img = node.css_first("img")
                    if img is not None and _PICTURE.match(attr(img, "alt")):
                        role = PICTURE
                self.anchors.append(_Anchor(node, text, resolve(node.attrs.get("href")), role))
        self.by_id = {a.node.mem_id: a for a in self.anchors}
        self._children: dict[int, tuple[list[LexborNode], dict[int, int]]] = {}
        self._imgs: dict[int, LexborNode | None] = {}

    def entries(self) -> list[tuple[Entry, list[LexborNode]]]:
        keys = [a for a in self.anchors if a.role == MORE_INFO]
        if not keys:
            keys = [a for a in self.anchors if a.role == RELATED]
        if not keys:
            return []
        key_role = keys[0].role
        counts: dict[int, int] = {}
        chains: list[list[LexborNode]] = []
        for key in keys:
            chain = _ancestors(key.node)
            chains.append(chain)
            for node in chain:
                counts[node.mem_id] = counts.get(node.mem_id, 0) + 1
        page_level: set[int] = set()
        for anchor in self.anchors:
            if anchor.role in (HOME, NEXT):
                page_level.update(node.mem_id for node in _ancestors(anchor.node))
        blocks = []
        for key, chain in zip(keys, chains):
            block = key.node
            for node in chain:
                if counts[node.mem_id] != 1 or node.mem_id in page_level:
                    break
                block = node
            blocks.append(block)
        skip = {a.node.mem_id for a in self.anchors if a.role in _ENTRY_ROLES}
        found: list[tuple[Entry, list[LexborNode]]] = []
        flat_end: dict[int, int] = {}  # parent -> index just after the previous entry
        for key, block in zip(keys, blocks):
            segment = self._segment(block, key_role or MORE_INFO, flat_end)
            lines = _visible_lines([block], skip)
            title, summary = _title_and_summary(lines)
            nodes = [block]
            # A block that lacks the title, the summary or the picture is one part of an
            # entry spread over siblings (flat markup, table rows): read the whole run.
            if (not title or not summary or not self._has_image(block)) and len(segment) > 1:
                wider = _visible_lines(segment, skip)
                if wider and (not title or not summary):
                    title, summary = _title_and_summary(wider)
                nodes = segment
            found.append((self._entry(block, nodes, title, summary), nodes))
        return found

    def _segment(self, block: LexborNode, key_role: str,
                 flat_end: dict[int, int]) -> list[LexborNode]:
        """The siblings that make one entry when it is spread over them: from the end of
        the previous entry (or of the page header) to the end of this entry's links."""
        parent = block.parent
        if parent is None:
            return [block]
        cached = self._children.get(parent.mem_id)
        if cached is None:
            children = list(parent.iter(include_text=True))
            cached = (children, {child.mem_id: i for i, child in enumerate(children)})
            self._children[parent.mem_id] = cached
        children, index = cached
        at = index[block.mem_id]
        start = flat_end.get(parent.mem_id)
        if start is None:
            start = 0
            for i in range(at):  # the page header (title, HOME) is no entry's
                if self._holds_role(children[i], (HOME,)):
                    start = i + 1
        end = at
        roles_seen = {key_role}
        for i in range(at + 1, len(children)):
            role = self._tail_role(children[i])
            if role == "":
                end = i
                continue
            if role is None or role in roles_seen or role not in _TAIL_ROLES:
                break
            if role != SEARCH:
                roles_seen.add(role)
            end = i
        flat_end[parent.mem_id] = end + 1
        return children[min(start, at):end + 1]

    def _holds_role(self, node: LexborNode, roles: tuple[str, ...]) -> bool:
        if node.tag == "a":
            anchor = self.by_id.get(node.mem_id)
            return anchor is not None and anchor.role in roles
        if node.tag and not node.tag.startswith("-"):
            for inner in node.css("a[href]"):
                anchor = self.by_id.get(inner.mem_id)
                if anchor is not None and anchor.role in roles:
                    return True
        return False

    def _tail_role(self, node: LexborNode) -> str | None:
        """"" for filler (whitespace, separators, <br>), the role of an entry-link token,
        None for anything else (the next entry's content)."""
        tag = node.tag or ""
        if tag == "-text":
            return "" if _SEPARATOR.match(node.text_content or "") else None
        if tag in ("br", "-comment"):
            return ""
        if tag == "a":
            anchor = self.by_id.get(node.mem_id)
            return anchor.role if anchor is not None and anchor.role in _TAIL_ROLES else None
        if tag in INLINE and tag != "a":
            inner = [self.by_id.get(n.mem_id) for n in node.css("a[href]")]
            roles = {a.role for a in inner if a is not None}
            text_left = norm(node.text())
            for a in inner:
                if a is not None:
                    text_left = text_left.replace(a.text, "")
            if roles and roles <= _TAIL_ROLES and _SEPARATOR.match(text_left):
                return SEARCH if roles == {SEARCH} else RELATED
            return "" if not roles and _SEPARATOR.match(text_left) else None
        return None

    def _entry(self, block: LexborNode, nodes: list[LexborNode], title: str,
               summary: str) -> Entry:
        truncated, summary = _cut_mark(summary)
        more_info = related = picture = None
        search: list[tuple[str, str]] = []
        for node in nodes:
            tag = tag_name(node)
            if not tag or tag.startswith("-"):
                continue
            if tag == "a":
                elements = [node]
            elif node.first_child is None:
                continue  # (no children: no anchors; saves a query)
            else:
                elements = node.css("a[href]")
            for element in elements:
                anchor = self.by_id.get(element.mem_id)
                if anchor is None or anchor.url is None:
                    continue
                if anchor.role == MORE_INFO and more_info is None:
                    more_info = anchor.url
                elif anchor.role == RELATED and related is None:
                    related = anchor.url
                elif anchor.role == SEARCH:
                    search.append((_EDGE_PUNCTUATION.sub("", anchor.text), anchor.url))
                elif anchor.role == PICTURE and picture is None:
                    picture = anchor.url
        image = None
        for node in [block, *nodes]:  # the block's own picture first
            tag = tag_name(node)
            if tag and not tag.startswith("-"):
                img = node if tag == "img" else self._img_in(node)
                if img is not None:
                    image = self.resolver.resolve(attr(img, "src") or attr(img, "data-src"))
                    break
        return Entry(title=title, summary=summary, summary_truncated=truncated,
                     image=image or picture, more_info=more_info, related=related,
                     search_links=tuple(search))

    def _img_in(self, node: LexborNode) -> LexborNode | None:
        """The first <img> under node (asked once per node: blocks are asked twice)."""
        key = node.mem_id
        if key in self._imgs:
            return self._imgs[key]
        img = self._imgs[key] = _first_img(node)
        return img

    def _has_image(self, node: LexborNode) -> bool:
        tag = tag_name(node)
        return tag == "img" or (tag not in ("a", "") and self._img_in(node) is not None)

    def page_title(self, head: Head, first_entry: list[LexborNode] | None) -> str:
        """<h1>; else the first line shown above the first entry (not HOME); else <title>."""
        h1 = self.tree.css_first("h1")
        if h1 is not None and norm(h1.text()):
            return norm(h1.text())
        body = self.tree.body
        if body is not None and first_entry:
            out = Lines()
            skip = {a.node.mem_id for a in self.anchors if a.role is not None}
            collect_until(body, out, first_entry[0].mem_id, skip, 0)
            out.newline()
            for line in out.lines:
                if not _SEPARATOR.match(line.text) and not _PICTURE.match(line.text):
                    return line.text
        return head.title


def parse_listing(tree: LexborHTMLParser, url: str, *, max_links: int = 5000,
                  head: Head | None = None) -> Page:
    """Extract the entries of an encyclopedia listing page (see the module docstring)."""
    head = head if head is not None else read_head(tree)
    reader = _ListingReader(tree, url, head)
    found = reader.entries()
    entries = [entry for entry, _ in found]
    links: list[tuple[str, str, str]] = []  # (url, title, kind)
    for anchor in reader.anchors:
        if anchor.role == HOME and anchor.url:
            links.append((anchor.url, anchor.text, "home"))
    for entry in entries:
        if entry.more_info:
            links.append((entry.more_info, entry.title, "more_info"))
        if entry.related:
            links.append((entry.related, entry.title, "related"))
        for name, search_url in entry.search_links:
            links.append((search_url, name, "search"))
    for anchor in reader.anchors:
        if anchor.role == NEXT and anchor.url:
            links.append((anchor.url, anchor.text, "next"))
    for rel_next in head.links.get("next", []):
        resolved = reader.resolver.resolve(rel_next)
        if resolved:
            links.append((resolved, "", "next"))
    resolver = reader.resolver
    host = resolver.host
    # A URL starting with the page's origin is on its host (others ask host_of(), which
    # keeps an IPv6 host's brackets).
    own = (resolver.origin + "/", resolver.origin + "?") \
        if resolver.origin and "[" not in resolver.origin else ()
    for anchor in reader.anchors:
        if anchor.url and anchor.role is None:
            internal = anchor.url.startswith(own) or resolver.host_of(anchor.url) == host
            links.append((anchor.url, anchor.text, "internal" if internal else "external"))
    unique: list[tuple[str, str, str]] = []
    seen: set[str] = set()  # (a self-link stays: the first entry is the page itself)
    for link in links:
        if link[0] not in seen and len(unique) < max_links:
            seen.add(link[0])
            unique.append(link)
    first = found[0][1] if found else None
    title = reader.page_title(head, first)
    text = "\n\n".join(part for entry in entries for part in (entry.title, entry.summary)
                       if part)
    first_entry = entries[0] if entries else None
    return Page(
        url=url,
        kind="listing" if entries else "other",
        title=title,
        canonical_url=(reader.resolver.resolve(head.link("canonical"))
                       if head.link("canonical") else None),
        summary=first_entry.summary if first_entry else "",
        summary_truncated=first_entry.summary_truncated if first_entry else False,
        text=text,
        links=tuple(new_links(*(list(column) for column in zip(*unique))) if unique else ()),
        entries=tuple(entries),
        image=first_entry.image if first_entry else None,
        language=attr(tree.root, "lang") or None,
        parser=NAME,
    )
