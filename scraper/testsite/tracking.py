"""The tracking-links switch (TestSite(tracking_links=True), `scraper testsite
--tracking-links`): links to the encyclopedia's pages carry tracking parameters, as links
shared through mail, ads and social sites do, with the query's arguments out of order.

Each <a href> to a listing or article gets one of a few variants, chosen from the page it is
on and its place there, so that one topic is linked under several URLs: as it is, with
`utm_medium` before `utm_source`, with `fbclid`, with `gclid` between `utm_*` ones. A link
that has a query already (a listing's MORE, `?page=2`) gets them around its own argument.
The site serves the same page whatever the query holds besides `page`, so a crawler that
does not normalise these URLs archives each topic several times.
"""

from __future__ import annotations

import re
import zlib

# An <a> tag's href to a listing or an article, relative or on one of the site's hosts.
_LINK = re.compile(rb'(<a\b[^>]*?\shref=")((?:http://[^"/]+)?/(?:related|info)/[^"?#]*)'
                   rb'(?:\?([^"#]*))?"')

# (before the link's own query, after it); "{n}" is a number unique to the link.
VARIANTS: tuple[tuple[str, str], ...] = (
    ("", ""),
    ("utm_medium=link&utm_source=infolist", ""),
    ("fbclid=IwAR{n}", ""),
    ("utm_campaign=mirror&gclid=Cj0K{n}", "utm_medium=cpc"),
    ("", "utm_source=newsletter&mc_cid={n}&mc_eid=e{n}"),
)


def add_tracking(body: bytes, page_key: str) -> bytes:
    """`body` with tracking parameters added to its links to listings and articles; the
    same body and key give the same bytes."""
    seed = zlib.crc32(page_key.encode("utf-8"))
    counter = 0

    def rewrite(match: re.Match[bytes]) -> bytes:
        nonlocal counter
        counter += 1
        number = (seed + counter * 7919) % 1_000_000
        before, after = VARIANTS[(seed + counter) % len(VARIANTS)]
        own = match.group(3)
        parts = [before.format(n=number).encode()] if before else []
        if own:
            parts.append(own)
        if after:
            parts.append(after.format(n=number).encode())
        query = b"&amp;".join(parts)  # in HTML an attribute's & is written &amp;
        return match.group(1) + match.group(2) + (b"?" + query if query else b"") + b'"'

    return _LINK.sub(rewrite, body)
