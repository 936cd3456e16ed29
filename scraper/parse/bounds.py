"""How much work a page may make the HTML tree builder do, checked before it starts.

Lexbor's tree builder is quadratic in two shapes of markup, measured here (2 cores):
- nesting: each element inserted scans the stack of open elements, so 32,000 nested <div>s
  take 2 s, and a 10 MB page of them would take hours;
- attributes: each attribute of one element is compared with those before it, so one tag with
  20,000 attributes takes 1.3 s (200,000: 157 s).
A page past these limits is refused with a ParseError (the URL's failure) instead of holding a
parse thread for as long as the page likes. Once Lexbor has started it cannot be stopped, so
the check must come first and cost little: most pages are passed on two byte counts.
"""

from __future__ import annotations

import re

from scraper.errors import ParseError

# The sum, over every start tag, of how deep it is inserted below the nearest scope boundary
# (a table, a cell, ...): Lexbor's cost of nesting.
# 4 * 10**8 is about 1.6 s of building on the slowest shape (nested <div>s).
MAX_NESTING_WORK = 4 * 10**8
# A page with fewer tags than this cannot reach MAX_NESTING_WORK however it nests them
# (n tags nested give n(n+1)/2): it is passed without reading it. The largest Wikipedia
# articles in the corpus have 15,000-20,000 tags, so they are passed this way too.
_TAGS_BEFORE_SCAN = 28_000
MAX_ATTRIBUTES = 1_000  # on one element (5,000 take Lexbor 0.1 s)
_LONG_TAG_CHARS = 2_048  # shorter tags cannot hold MAX_ATTRIBUTES attributes

_VOID = frozenset({b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input",
                   b"link", b"meta", b"param", b"source", b"track", b"wbr", b"basefont",
                   b"bgsound", b"frame", b"keygen"})
# A start tag of one of these closes an open one of the same group at the top of the stack
# (`<p>a<p>b`, `<li>a<li>b`): sloppy pages are not counted as deep.
_SIBLING_GROUPS = {b"p": 1, b"li": 2, b"dt": 3, b"dd": 3, b"option": 4, b"optgroup": 4,
                   b"tr": 5, b"td": 6, b"th": 6, b"thead": 7, b"tbody": 7, b"tfoot": 7,
                   b"rt": 8, b"rp": 8}
# The tree builder's scope searches stop at these: nesting below one costs nothing more
# (10,000 nested tables parse in milliseconds).
_SCOPE_BOUNDARIES = frozenset({b"html", b"table", b"td", b"th", b"caption", b"template",
                               b"marquee", b"object", b"applet"})
_SLASH = ord("/")
_TAG_NAMES = re.compile(rb"<(/?[A-Za-z][A-Za-z0-9:-]*)")
_LONG_TAG = re.compile(rb"<[A-Za-z][^<>]{" + str(_LONG_TAG_CHARS).encode() + rb",}")
_QUOTED = re.compile(rb"\"[^\"]*\"|'[^']*'")
_ATTRIBUTE = re.compile(rb"\s[^\s=/>]")


def check_markup_bounds(data: bytes | str, url: str) -> None:
    """Raise ParseError when building `data`'s tree would take far longer than its size
    suggests (see the module's docstring)."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    for match in _LONG_TAG.finditer(raw):
        # Quoted values go first: an SVG path or a data: URI is one attribute, however long.
        attributes = len(_ATTRIBUTE.findall(_QUOTED.sub(b"", match.group(0))))
        if attributes > MAX_ATTRIBUTES:
            raise ParseError(url, f"an element with about {attributes:,} attributes (more than "
                                  f"{MAX_ATTRIBUTES:,}): the page is not parsed")
    if raw.count(b"<") < _TAGS_BEFORE_SCAN:
        return
    stack: list[bytes] = []
    # For each open element, how many open elements lie between it and the nearest scope
    # boundary below it (itself included): what a scope search walks when it is inserted.
    reach: list[int] = []
    work = 0
    for name in _TAG_NAMES.findall(raw):
        if name[0] == _SLASH:
            # An end tag closes its element when it is near the top; a stray one is ignored,
            # as the tree builder ignores it.
            name = name[1:].lower()
            for i in range(len(stack) - 1, max(-1, len(stack) - 9), -1):
                if stack[i] == name:
                    del stack[i:], reach[i:]
                    break
            continue
        name = name.lower()
        if name in _VOID:
            continue
        group = _SIBLING_GROUPS.get(name)
        if group is not None and stack and _SIBLING_GROUPS.get(stack[-1]) == group:
            stack.pop()
            reach.pop()
        distance = 1 if name in _SCOPE_BOUNDARIES or not reach else reach[-1] + 1
        stack.append(name)
        reach.append(distance)
        work += distance
        if work > MAX_NESTING_WORK:
            raise ParseError(url, f"markup nested too deeply to parse in bounded time "
                                  f"({len(stack):,} open elements)")
