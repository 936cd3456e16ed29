"""The stored URLs to suggest for one that is not in the archive: pure, over candidates that
a backend reads beside the URL in its URL index."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from difflib import SequenceMatcher
from urllib.parse import urlsplit, urlunsplit

# A URL that is not in the archive is told the closest stored URLs among this many on each
# side of it (and of its variants) in the URL index: a bounded look-up however large the
# archive, which finds the typos at the end of a URL (the title) that people make most.
NEAR_URLS_PER_SIDE = 25
SUGGESTIONS = 3
# Least similarity (difflib's ratio, 0..1) of a suggestion: /wiki/Foo against /wiki/Fooo
# is 0.95, against /wiki/Bar 0.67.
SUGGESTION_CUTOFF = 0.75


def closest_urls(url: str, candidates: Iterable[str], n: int = SUGGESTIONS,
                 cutoff: float = SUGGESTION_CUTOFF) -> list[str]:
    """The `n` candidates most like `url`, best first, ignoring case and scheme.

    On the same host only path and query are compared, so that a long shared host name
    does not make every page of a site look alike.
    """
    target = urlsplit(url)
    target_rest = _rest(target.path, target.query)
    scored: list[tuple[float, str]] = []
    for candidate in set(candidates):
        parts = urlsplit(candidate)
        rest = _rest(parts.path, parts.query)
        if parts.netloc.lower() == target.netloc.lower():
            ratio = SequenceMatcher(None, target_rest, rest).ratio()
        else:
            ratio = SequenceMatcher(None, target.netloc.lower() + target_rest,
                                    parts.netloc.lower() + rest).ratio()
        if ratio >= cutoff:
            scored.append((-ratio, candidate))
    return [candidate for _, candidate in sorted(scored)[:n]]


def _rest(path: str, query: str) -> str:
    return (path + ("?" + query if query else "")).lower()


def _title_cased(url: str) -> str | None:
    """`url` with its last path segment's first letter capitalised (MediaWiki titles start
    with one: a pasted /wiki/nato means /wiki/Nato), or None when that changes nothing."""
    parts = urlsplit(url)
    head, _, last = parts.path.rpartition("/")
    if not last[:1].islower():
        return None
    return urlunsplit(parts._replace(path=f"{head}/{last[0].upper()}{last[1:]}"))


def not_found_message(forms: list[str], has_pages: bool,
                      urls_beside: Callable[[str, int], list[str]]) -> str:
    """The error for a page stored under none of `forms` (pasted_url_forms, the likeliest
    first), with the closest stored URLs.

    :param has_pages: whether the archive holds any page.
    :param urls_beside: (url, n) -> up to n stored URLs sorting before `url` and as many
        from it on, read from the backend's URL index.
    """
    message = f"no page {forms[0]} in the archive"
    if not has_pages:
        return message + " (it holds no pages yet)"
    # One probe per scheme (a trailing-slash form sorts beside its URL), and the
    # title-cased form of each: at most 4 * 2 * NEAR_URLS_PER_SIDE rows read.
    probes = list({urlsplit(form).scheme: form for form in reversed(forms)}.values())
    probes += [cased for cased in map(_title_cased, probes) if cased]
    near: set[str] = set()
    for probe in probes:
        near.update(urls_beside(probe, NEAR_URLS_PER_SIDE))
    close = closest_urls(forms[0], near)
    if not close:
        return message
    return message + "; did you mean:" + "".join(f"\n  {url}" for url in close)
