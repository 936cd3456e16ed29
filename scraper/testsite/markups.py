"""Three markups of the same listing page: divs with classes, a table layout, and bare tags.

All three show the same text in the same order, and the same links (see ListingView and
docs/testsite.md): page title, HOME, then per entry "picture info" (an <img> and its caption),
the title, the summary, [...More Info...], [...Related Items...], "OR:", [Wikipedia] [Google]
[Baidu]; then MORE, the padding ("Articles in this area", "About this topic"), the "See also:"
notes and the footer line. Only tags, classes and layout differ, so a parser that finds entries
by what a reader sees must give identical entries for all three.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from scraper.testsite.content import ListingView

FOOTER = "Content mirrored from Wikipedia under CC BY-SA 4.0."
NAV_HEADING = "Articles in this area"
ABOUT_HEADING = "About this topic"
SEP = " · "


def _e(text: str) -> str:
    return escape(text, quote=True)


def _a(href: str, text: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<a{klass} href="{_e(href)}">{_e(text)}</a>'


def _head(view: ListingView) -> str:
    suffix = f" (page {view.page})" if view.page > 1 else ""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_e(view.title)}{suffix} - Infolist</title>\n</head>\n")


def _links_line(links: tuple[tuple[str, str], ...], cls: str = "") -> str:
    return SEP.join(_a(href, text, cls) for text, href in links)


def _footer_text(note: str) -> str:
    return _e(FOOTER) + (f" Generated {_e(note)}" if note else "")


def render_divs(view: ListingView, note: str = "") -> str:
    out = [_head(view), '<body>\n<div id="page" class="infolist">\n',
           (f'<div class="header"><h1 class="page-title">{_e(view.title)}</h1>\n'
            '<a class="home" href="/">HOME</a></div>\n<div class="entries">\n')]
    for e in view.entries:
        search = " ".join(_a(url, f"[{name}]", "search") for name, url in e.search)
        out.append(
            f'<div class="entry">\n<div class="entry-image"><img src="{_e(e.image)}" '
            f'alt="picture info" width="120"><span class="caption">picture info</span></div>\n'
            f'<div class="entry-title"><b>{_e(e.title)}</b></div>\n'
            f'<div class="entry-summary">{_e(e.summary)}</div>\n'
            f'<div class="entry-links">{_a(e.more_info, "[...More Info...]", "more-info")}\n'
            f'{_a(e.related, "[...Related Items...]", "related-items")} '
            f'<span class="or">OR:</span> {search}</div>\n</div>\n')
    out.append("</div>\n")
    if view.more:
        out.append(f'<div class="pager">{_a(view.more, "MORE", "more")}</div>\n')
    if view.padding.links:
        out.append(f'<div class="navbox"><h2>{NAV_HEADING}</h2>\n'
                   f'<p class="nav-links">{_links_line(view.padding.links)}</p></div>\n')
    if view.padding.paragraphs:
        paras = "".join(f"<p>{_e(p)}</p>\n" for p in view.padding.paragraphs)
        out.append(f'<div class="about"><h2>{ABOUT_HEADING}</h2>\n{paras}</div>\n')
    if view.notes:
        out.append(f'<div class="notes">See also: {_links_line(view.notes)}</div>\n')
    out.append(f'<div class="footer">{_footer_text(note)}</div>\n</div>\n</body>\n</html>\n')
    return "".join(out)


def render_table(view: ListingView, note: str = "") -> str:
    out = [_head(view),
           ('<body bgcolor="#ffffff">\n<table width="100%" border="0"><tr>\n'
            f'<td><h1>{_e(view.title)}</h1></td>\n<td align="right"><a href="/">HOME</a></td>\n'
            '</tr></table>\n<table width="100%" border="0" cellpadding="4" cellspacing="0">\n')]
    for e in view.entries:
        search = " ".join(_a(url, f"[{name}]") for name, url in e.search)
        out.append(
            f'<tr>\n<td valign="top" width="130"><img src="{_e(e.image)}" alt="picture info" '
            f'width="120"><br><font size="1">picture info</font></td>\n'
            f'<td valign="top"><b>{_e(e.title)}</b><br>\n{_e(e.summary)}<br>\n'
            f'{_a(e.more_info, "[...More Info...]")}\n{_a(e.related, "[...Related Items...]")} '
            f"OR: {search}</td>\n</tr>\n")
    out.append("</table>\n")
    if view.more:
        out.append(f'<table><tr><td>{_a(view.more, "MORE")}</td></tr></table>\n')
    if view.padding.links:
        out.append(f"<table><tr><th>{NAV_HEADING}</th></tr>\n"
                   f"<tr><td>{_links_line(view.padding.links)}</td></tr></table>\n")
    if view.padding.paragraphs:
        rows = "".join(f"<tr><td>{_e(p)}</td></tr>\n" for p in view.padding.paragraphs)
        out.append(f"<table><tr><th>{ABOUT_HEADING}</th></tr>\n{rows}</table>\n")
    if view.notes:
        out.append(f"<table><tr><td>See also: {_links_line(view.notes)}</td></tr></table>\n")
    out.append(f'<table><tr><td><font size="1">{_footer_text(note)}</font></td></tr></table>\n'
               "</body>\n</html>\n")
    return "".join(out)


def render_bare(view: ListingView, note: str = "") -> str:
    # Only <br>, <b>, <a> and <img> inside <body>: no classes, ids or containers.
    out = [_head(view), f'<body>\n<b>{_e(view.title)}</b><br>\n<a href="/">HOME</a><br><br>\n']
    for e in view.entries:
        search = " ".join(f'<a href="{_e(url)}">[{_e(name)}]</a>' for name, url in e.search)
        out.append(
            f'<img src="{_e(e.image)}" alt="picture info"><br>picture info<br>\n'
            f"<b>{_e(e.title)}</b><br>\n{_e(e.summary)}<br>\n"
            f'<a href="{_e(e.more_info)}">[...More Info...]</a><br>\n'
            f'<a href="{_e(e.related)}">[...Related Items...]</a> OR: {search}<br><br>\n')
    if view.more:
        out.append(f'<a href="{_e(view.more)}">MORE</a><br><br>\n')
    if view.padding.links:
        out.append(f"<b>{NAV_HEADING}</b><br>\n{_links_line(view.padding.links)}<br><br>\n")
    if view.padding.paragraphs:
        paras = "<br><br>\n".join(_e(p) for p in view.padding.paragraphs)
        out.append(f"<b>{ABOUT_HEADING}</b><br>\n{paras}<br><br>\n")
    if view.notes:
        out.append(f"See also: {_links_line(view.notes)}<br><br>\n")
    out.append(f"{_footer_text(note)}<br>\n</body>\n</html>\n")
    return "".join(out)


RENDERERS: dict[str, Callable[[ListingView, str], str]] = {
    "divs": render_divs, "table": render_table, "bare": render_bare,
}
