"""Helpers shared by the parsers: decoding bodies, normalising text, resolving links, walking blocks."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.models import Link

# The byte-order marks the HTML standard honours (UTF-32 is not among them).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]{0,400}?charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.IGNORECASE)
# WHATWG Encoding: these labels mean windows-1252, and a <meta> naming UTF-16 means UTF-8
# (the bytes could not have been read as ASCII-compatible otherwise).
_LABEL_ALIASES = {
    "latin1": "windows-1252", "latin-1": "windows-1252", "iso-8859-1": "windows-1252",
    "iso8859-1": "windows-1252", "iso_8859-1": "windows-1252", "l1": "windows-1252",
    "cp819": "windows-1252", "ascii": "windows-1252", "us-ascii": "windows-1252",
    "x-user-defined": "windows-1252", "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8",
}
_PRESCAN_BYTES = 4096
_HIGH_BYTES = bytes(range(128, 256))
_REPLACEMENT_UTF8 = "\ufffd".encode()

HtmlInput = str | bytes


def _codec(label: str | None, *, from_meta: bool = False) -> str | None:
    """The Python codec name for an encoding label, or None when unknown or not a text codec."""
    if not label:
        return None
    name = label.strip().lower()
    name = _LABEL_ALIASES.get(name, name)
    if from_meta and name.startswith("utf-16"):
        return "utf-8"
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None  # rot13, base64, zlib... are codecs, not charsets
    return info.name


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CT_CHARSET.search(content_type)
    return match.group(1) if match else None


def sniff_encoding(body: bytes, content_type: str | None = None) -> str:
    """The codec to read `body` with: BOM, HTTP charset, <meta> charset, then a guess."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    declared = _codec(charset_from_content_type(content_type))
    if declared:
        return declared
    match = _META_CHARSET.search(body, 0, _PRESCAN_BYTES)
    if match:
        declared = _codec(match.group(1).decode("ascii", "replace"), from_meta=True)
        if declared:
            return declared
    if body.isascii():
        return "utf-8"
    return "utf-8" if _mostly_utf8(body) else "cp1252"


_UTF8_SAMPLE = 65536
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _mostly_utf8(body: bytes) -> bool:
    """False when the bytes fail as UTF-8 badly: most high bytes are not part of a sequence."""
    first = _HIGH_BYTE.search(body)
    if first is None:
        return True
    # 64 KiB from the first non-ASCII byte that decode cleanly settle it without reading
    # the whole page (a character cut at the window's end is fine, unless it is the end).
    end = first.start() + _UTF8_SAMPLE
    try:
        codecs.getincrementaldecoder("utf-8")().decode(body[first.start(): end],
                                                       final=end >= len(body))
    except UnicodeDecodeError:
        pass
    else:
        return True
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd") - body.count(_REPLACEMENT_UTF8)
    if bad <= 0:
        return True
    high = len(body) - len(body.translate(None, _HIGH_BYTES))
    # Latin-1 text fails on nearly every high byte; damaged UTF-8 on a few of them.
    return bad * 3 < high


def decode_body(body: bytes, content_type: str | None = None) -> tuple[HtmlInput, str]:
    """The body ready for Lexbor, and the codec chosen.

    UTF-8 bytes are handed over as they are (Lexbor reads them as UTF-8 and replaces bad
    sequences with U+FFFD, as errors="replace" would), which saves decoding large pages
    twice; anything else is decoded here with errors="replace".
    """
    encoding = sniff_encoding(body, content_type)
    if encoding == "utf-8":
        return (body[3:] if body.startswith(b"\xef\xbb\xbf") else body), encoding
    try:
        text = body.decode(encoding, "replace")
    except Exception:  # noqa: BLE001 (a codec that misbehaves on odd input stays inside)
        return body, "utf-8"
    text = text.removeprefix("\ufeff")
    return text, encoding


def make_tree(body: bytes, content_type: str | None = None) -> LexborHTMLParser:
    data, _ = decode_body(body, content_type)
    # scripting=True: a <noscript> in <head> stays one text node instead of closing <head>.
    return LexborHTMLParser(data, scripting=True)


# ---------------------------------------------------------------- text

_WORD = re.compile(r"\w")


def has_words(*texts: str) -> bool:
    """True when any text holds a letter or digit: punctuation alone is not content."""
    return any(_WORD.search(text[:4000]) for text in texts if text)


def norm(text: str | None) -> str:
    """Whitespace collapsed to single spaces, trimmed."""
    if not text:
        return ""
    # Most text needs only trimming: every whitespace but " " is unprintable, and these two
    # scans cost a fraction of splitting a long paragraph into words.
    if text.isprintable() and "  " not in text:
        return text.strip()
    return " ".join(text.split())


def node_text(node: LexborNode | None) -> str:
    return norm(node.text()) if node is not None else ""


def attr(node: LexborNode | None, name: str) -> str:
    """An attribute's value, "" when absent (or when the node is not an element)."""
    if node is None or not node.is_element_node:
        return ""
    value = node.attrs.get(name)
    return value if value else ""


def class_tokens(node: LexborNode) -> list[str]:
    return attr(node, "class").split()


# ---------------------------------------------------------------- URLs

# Link is a frozen dataclass, whose __init__ goes through object.__setattr__ for each
# field; an article has thousands of links, so they are made by filling the slots
# directly. The result is an ordinary, equal Link.
_new_object = object.__new__
_set_url = getattr(Link, "url").__set__  # noqa: B009 (the slot's descriptor, not a value)
_set_title = getattr(Link, "title").__set__  # noqa: B009
_set_kind = getattr(Link, "kind").__set__  # noqa: B009


def new_link(url: str, title: str, kind: str) -> Link:
    link = _new_object(Link)
    _set_url(link, url)
    _set_title(link, title)
    _set_kind(link, kind)
    return link


_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_URL_JUNK = str.maketrans("", "", "\t\n\r")


def _has_host(url: str) -> bool:
    """An absolute http(s) URL with something where its host goes."""
    at = url.find("//") + 2
    return len(url) > at and url[at] not in "/?#"


class Resolver:
    """Resolves hrefs against a base URL; fast paths for the common forms, urljoin otherwise.

    Only http(s) results are returned; fragments are dropped; None means "not a link to
    follow" (fragment-only, another scheme, unparseable).
    """

    __slots__ = ("base", "directory", "host", "no_query", "origin", "scheme")

    def __init__(self, base: str) -> None:
        self.base = base
        try:
            parts = urlsplit(base)
        except ValueError:
            parts = urlsplit("")
        self.scheme = parts.scheme.lower()
        self.host = (parts.hostname or "").lower() if self.scheme in ("http", "https") else ""
        if self.host:
            self.origin = f"{self.scheme}://{parts.netloc}"
            path = parts.path or "/"
            self.directory = self.origin + path[: path.rfind("/") + 1]
            self.no_query = self.origin + path
        else:
            self.origin = self.directory = self.no_query = ""

    def resolve(self, href: str | None) -> str | None:
        if not href:
            return None
        if href[0] <= " " or href[-1] <= " ":
            href = href.strip(" \t\n\r\f\x00")
            if not href:
                return None
        if "\n" in href or "\t" in href or "\r" in href:
            href = href.translate(_URL_JUNK)
        first = href[0]
        url: str | None
        if first == "#":
            return None
        if first == ".":
            if href.startswith("./") and "/." not in href and self.host:
                url = self.directory + href[2:]
            else:
                url = self._join(href) if self.host else None
        elif first == "/":
            if href.startswith("//"):
                if len(href) < 3 or href[2] in "/?#":
                    return None
                url = ("http:" if self.scheme == "http" else "https:") + href
            elif not self.host:
                return None
            elif "/." in href:
                url = self._join(href)
            else:
                url = self.origin + href
        elif href.startswith(("http://", "https://")):
            url = href if _has_host(href) else None
        else:
            match = _SCHEME.match(href)
            if match:
                scheme = match.group(1).lower()
                if scheme not in ("http", "https"):
                    return None
                rest = href[len(scheme) + 1:]
                if rest.startswith("//"):
                    url = scheme + ":" + rest if _has_host(scheme + ":" + rest) else None
                else:
                    url = self._join(href) if self.host else None
            elif not self.host:
                return None
            elif first == "?":
                url = self.no_query + href
            elif "./" in href:
                url = self._join(href)
            else:
                url = self.directory + href
        if url is None:
            return None
        if "#" in url:
            url = url[: url.index("#")]
        if "[" in url:  # an IPv6 host: make sure the URL can be split at all
            try:
                urlsplit(url)
            except ValueError:
                return None
        return url

    def _join(self, href: str) -> str | None:
        try:
            url = urljoin(self.base, href)
        except ValueError:
            return None
        return url if url.startswith(("http://", "https://")) else None

    def host_of(self, url: str) -> str:
        """The lower-cased host of an http(s) URL made by resolve()."""
        start = url.find("//") + 2
        end = len(url)
        for sep in "/?":
            at = url.find(sep, start)
            if 0 <= at < end:
                end = at
        netloc = url[start:end]
        if "@" in netloc:
            netloc = netloc.rsplit("@", 1)[1]
        if netloc.startswith("["):
            return netloc[: netloc.find("]") + 1].lower()
        return netloc.split(":", 1)[0].lower()


@dataclass(slots=True)
class Head:
    """What a page's <head> declares: title, metas (by name/property), links (by rel), base."""

    title: str = ""
    meta: dict[str, list[str]] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)
    base_href: str | None = None
    og_images: list[tuple[str, int | None]] = field(default_factory=list)  # (url, width)
    scripts: list[str] = field(default_factory=list)  # inline script texts

    def first(self, *keys: str) -> str:
        for key in keys:
            values = self.meta.get(key)
            if values:
                for value in values:
                    if value.strip():
                        return value.strip()
        return ""

    def link(self, rel: str) -> str:
        hrefs = self.links.get(rel)
        return hrefs[0] if hrefs else ""


def read_head(tree: LexborHTMLParser, *, scripts: bool = False) -> Head:
    """One pass over the <head>'s children (metas, links, title, base, inline scripts)."""
    head = Head()
    node = tree.head
    if node is None:
        return head
    for child in node.iter():
        tag = child.tag
        if tag == "meta":
            attrs = child.attributes
            key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop") \
                or attrs.get("http-equiv")
            content = attrs.get("content")
            if key and content is not None:
                key = key.strip().lower()
                head.meta.setdefault(key, []).append(content)
                if key in ("og:image", "og:image:url", "og:image:secure_url") and content.strip():
                    head.og_images.append((content.strip(), None))
                elif key == "og:image:width" and head.og_images:
                    url, _ = head.og_images[-1]
                    width = content.strip()
                    head.og_images[-1] = (url, int(width) if width.isdigit() else None)
        elif tag == "link":
            rel = child.attrs.get("rel")
            href = child.attrs.get("href")
            if rel and href:
                for token in rel.lower().split():
                    head.links.setdefault(token, []).append(href.strip())
        elif tag == "title":
            if not head.title:
                head.title = norm(child.text())
        elif tag == "base":
            if head.base_href is None and child.attrs.get("href"):
                head.base_href = (child.attrs.get("href") or "").strip()
        elif tag == "script" and scripts and not child.attrs.get("src"):
            head.scripts.append(child.text())
    if not head.title:
        title = tree.css_first("title")
        if title is not None:
            head.title = norm(title.text())
    return head


def page_base(head: Head, url: str) -> str:
    """The base URL for links: <base href> resolved against the page URL, else the page URL.

    A page read from a file (a non-http URL) uses its canonical link when it has one.
    """
    base = url
    href = head.base_href
    if href:
        if href.startswith("//"):
            scheme = url.split(":", 1)[0].lower() if "://" in url else ""
            base = (scheme if scheme in ("http", "https") else "https") + ":" + href
        else:
            try:
                base = urljoin(url, href) or url
            except ValueError:
                base = url
    if not base.startswith(("http://", "https://")):
        for value in (head.link("canonical"), head.first("og:url")):
            if value.startswith(("http://", "https://")):
                return value
    return base


# ---------------------------------------------------------------- block walk

HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
INLINE = frozenset({
    "-text", "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i",
    "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var",
    "wbr", "big", "strike", "tt", "nobr", "label", "ruby", "rt", "rp", "del", "ins",
})
# Never text: skipped wherever they are.
SKIP_TAGS = frozenset({
    "script", "style", "noscript", "template", "link", "meta", "head", "title", "button",
    "input", "select", "textarea", "svg", "math", "iframe", "object", "embed", "video",
    "audio", "canvas", "map", "img", "picture", "source", "track", "form", "nav", "-comment",
    "hr", "br", "area", "param", "dialog", "menu",
})
MAX_DEPTH = 150  # deeper than this a subtree is read as one run of text


def _tag_ids(names: frozenset[str]) -> frozenset[int]:
    """Lexbor's numeric ids of tag names: comparing ints costs half of reading `.tag`."""
    maker = LexborHTMLParser("")
    return frozenset(maker.create_node(name).tag_id for name in names if name[0] != "-")


_TEXT_ID = 2  # Lexbor's ids of text and comment nodes
_COMMENT_ID = 4
_INLINE_IDS = _tag_ids(INLINE)
_RUN_IDS = _INLINE_IDS | {_TEXT_ID, _COMMENT_ID}  # what a run of text is made of
_CELL_IDS = _tag_ids(frozenset({"td", "th"}))


class Blocks:
    """Text collected by walk_blocks as (kind, text); kind is p (a <p>), h1..h6, li, row, or
    text (loose text between blocks)."""

    __slots__ = ("_after_break", "_buf", "br_splits", "items")

    def __init__(self, br_splits: bool = False) -> None:
        self.items: list[tuple[str, str]] = []
        self._buf: list[str] = []
        self._after_break = False
        self.br_splits = br_splits

    def add_inline(self, text: str) -> None:
        self._buf.append(text)
        if self._after_break and not text.isspace():
            self._after_break = False

    def add_break(self, kind: str) -> None:
        """A <br>: a line break inside a paragraph; two in a row end the paragraph."""
        if self._after_break or self.br_splits:
            self.flush(kind)
        else:
            self._buf.append("\n")
            self._after_break = True

    def flush(self, kind: str = "text") -> None:
        self._after_break = False
        if self._buf:
            text = norm("".join(self._buf))
            self._buf.clear()
            if text:
                self.items.append((kind, text))

    def emit(self, kind: str, text: str) -> None:
        text = norm(text)
        if text:
            self.items.append((kind, text))


def _never(node: LexborNode, tag: str = "") -> bool:
    return False


def walk_blocks(
    root: LexborNode,
    skip: Callable[[LexborNode, str], bool] = _never,
    table_rows: Callable[[LexborNode], bool] = _never,
    *,
    br_splits: bool = False,
) -> list[tuple[str, str]]:
    """The readable text under `root` as paragraphs, headings, list items and table rows.

    Only the block structure is walked in Python; each paragraph's text comes from Lexbor
    in one call, so words keep the spacing they are rendered with. `skip(node, tag)` says
    which containers to leave out; `table_rows(table)` which tables to read row by row
    (other tables are walked as containers unless skipped). With `br_splits`, each <br>
    ends a paragraph (for short values such as an infobox cell's lines).
    """
    blocks = Blocks(br_splits)
    _walk(root, blocks, skip, table_rows, 0, "text")
    blocks.flush()
    return blocks.items


def rendered_text(node: LexborNode, separator: str = ", ") -> str:
    """The text of a small subtree with its blocks (list items, lines) kept apart."""
    return separator.join(text for _, text in walk_blocks(node, br_splits=True))


def _walk(node: LexborNode, blocks: Blocks, skip: Callable[[LexborNode, str], bool],
          table_rows: Callable[[LexborNode], bool], depth: int, kind: str) -> None:
    if depth > MAX_DEPTH:
        blocks.add_inline(" " + (node.text() or "") + " ")
        return
    children = list(node.iter(include_text=True))
    ids = [child.tag_id for child in children]
    if _RUN_IDS.issuperset(ids):
        # Only text and inline elements (a list item, a caption): one call reads it all.
        blocks.add_inline(node.text())
        return
    for child, tag_id in zip(children, ids, strict=True):
        if tag_id == _TEXT_ID:
            blocks.add_inline(child.text_content or "")
            continue
        if tag_id in _INLINE_IDS:
            blocks.add_inline(child.text())
            continue
        if tag_id == _COMMENT_ID:
            continue
        tag = child.tag or ""
        if tag == "br":
            blocks.add_break(kind)
        elif tag in SKIP_TAGS:
            continue
        elif tag == "p" or tag == "pre":
            blocks.flush(kind)
            blocks.emit("p", child.text())
        elif tag in HEADINGS:
            blocks.flush(kind)
            blocks.emit(tag, child.text())
        elif tag == "table" and table_rows(child):
            blocks.flush(kind)
            for row in child.css("tr"):
                cells = [cell.text() for cell in row.iter() if cell.tag_id in _CELL_IDS]
                line = norm(" | ".join(c for c in cells if c and not c.isspace()))
                if line:
                    blocks.items.append(("row", line))
        elif skip(child, tag):
            blocks.flush(kind)
        else:
            blocks.flush(kind)
            sub = "li" if tag in ("li", "dd", "dt") else "text"
            _walk(child, blocks, skip, table_rows, depth + 1, sub)
            blocks.flush(sub)
