"""Article pages (/info/<slug>) as MediaWiki 1.39 renders them with the legacy Vector skin."""

from __future__ import annotations

import hashlib
import json
import time
from html import escape

from scraper.testsite.content import (
    SITE_NAME,
    SiteModel,
    Topic,
    image_path,
    info_path,
    out_of_scope_links,
    path_quote,
    related_path,
    slug_of,
)
from scraper.testsite.wikitext import HtmlWriter, parse

GENERATOR = "MediaWiki 1.39.6"
_PAD_HEADINGS = ("Background and context", "Later developments", "Assessments",
                 "Historiography", "Commemoration")
_MONTHS = ("", "January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def _e(text: str) -> str:
    return escape(text, quote=True)


def _anchor(heading: str) -> str:
    return heading.replace(" ", "_")


def _edit_url(slug: str, section: int | None = None) -> str:
    extra = f"&amp;section={section}" if section is not None else ""
    return f"/w/index.php?title={path_quote(slug)}&amp;action=edit{extra}"


def _heading(title: str, slug: str, section: int) -> str:
    return (f'<h2><span class="mw-headline" id="{_e(_anchor(title))}">{_e(title)}</span>'
            f'<span class="mw-editsection"><span class="mw-editsection-bracket">[</span>'
            f'<a href="{_edit_url(slug, section)}" title="Edit section: {_e(title)}">edit</a>'
            f'<span class="mw-editsection-bracket">]</span></span></h2>\n')


def _rlconf(topic: Topic) -> str:
    conf = {
        "wgBreakFrames": False, "wgSeparatorTransformTable": ["", ""],
        "wgDigitTransformTable": ["", ""], "wgDefaultDateFormat": "dmy",
        "wgMonthNames": list(_MONTHS),
        "wgRequestId": hashlib.sha1(f"{topic.slug}:{topic.revision_id}".encode()).hexdigest()[:24],
        "wgCSPNonce": False, "wgCanonicalNamespace": "", "wgCanonicalSpecialPageName": False,
        "wgNamespaceNumber": 0, "wgPageName": topic.slug, "wgTitle": topic.title,
        "wgCurRevisionId": topic.revision_id, "wgRevisionId": topic.revision_id,
        "wgArticleId": topic.index + 1, "wgIsArticle": True, "wgIsRedirect": False,
        "wgAction": "view", "wgUserName": None, "wgUserGroups": ["*"],
        "wgCategories": list(topic.categories), "wgPageContentLanguage": "en",
        "wgPageContentModel": "wikitext", "wgRelevantPageName": topic.slug,
        "wgRelevantArticleId": topic.index + 1, "wgIsProbablyEditable": True,
        "wgRelevantPageIsProbablyEditable": True, "wgRestrictionEdit": [],
        "wgRestrictionMove": [], "wgVector2022PreviewPages": [],
    }
    # "<" escaped so that no title can end the <script> element.
    return json.dumps(conf, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003C")


def _infobox(topic: Topic) -> str:
    rows = "".join(f'<tr><th scope="row" class="infobox-label">{_e(k)}</th>'
                   f'<td class="infobox-data">{_e(v)}</td></tr>' for k, v in topic.infobox)
    return (f'<table class="infobox vcard"><tbody><tr><th colspan="2" class="infobox-above">'
            f'{_e(topic.title)}</th></tr><tr><td colspan="2" class="infobox-image">'
            f'<span class="mw-default-size"><img alt="" src="{_e(image_path(topic.slug))}" '
            f'decoding="async" width="220" height="147"></span></td></tr>{rows}</tbody></table>\n')


def _last_edited(when: int) -> str:
    t = time.gmtime(when)
    return f"{t.tm_mday} {_MONTHS[t.tm_mon]} {t.tm_year}, at {t.tm_hour:02d}:{t.tm_min:02d}"


def render_article_html(model: SiteModel, slug: str, base_url: str = "",
                        footer_note: str = "") -> str:
    """The article of a topic as text. KeyError for an unknown topic."""
    topic = model.topic(model.find(slug))
    slug = topic.slug

    def resolve(target: str) -> tuple[str, str] | None:
        found = slug_of(target)
        if found not in model.index:
            return None
        return info_path(found), model.titles[model.index[found]]

    writer = HtmlWriter(resolve)
    lead = writer.blocks(parse(topic.lead))
    body: list[tuple[str, str]] = [(h, writer.blocks(parse(text))) for h, text in topic.sections]
    padding = model.padding("info", slug)
    per = 6
    for n in range(0, len(padding.paragraphs), per):
        heading = _PAD_HEADINGS[(n // per) % len(_PAD_HEADINGS)]
        if n // per >= len(_PAD_HEADINGS):
            heading += f" ({n // per // len(_PAD_HEADINGS) + 1})"
        body.append((heading, "".join(f"<p>{_e(p)}\n</p>" for p in padding.paragraphs[n:n + per])))
    see_also = "".join(
        f'<li><a href="{info_path(s)}" title="{_e(model.titles[model.index[s]])}">'
        f"{_e(model.titles[model.index[s]])}</a></li>\n" for s in topic.related)
    body.append(("See also", f'<ul>{see_also}</ul>' if see_also else ""))
    if writer.notes:
        body.append(("References", writer.references()))
    external = "".join(f'<li><a rel="nofollow" class="external text" href="{_e(href)}">'
                       f"{_e(text)}</a></li>\n"
                       for text, href in out_of_scope_links(topic.index, slug))
    if external:
        body.append(("External links", f"<ul>{external}</ul>"))

    out: list[str] = [_head(topic, base_url), _body_top(topic)]
    if topic.index % 6 == 5:
        out.append('<div role="note" class="hatnote navigation-not-searchable">For the list of '
                   f'related topics, see <a href="{related_path(slug)}">{_e(topic.title)} '
                   "(related items)</a>.</div>\n")
    out.append(_infobox(topic))
    out.append('<p class="mw-empty-elt">\n</p>\n')
    if topic.index % 8 == 6:
        out.append('<p><span id="coordinates"><span class="plainlinks">Coordinates: '
                   '<span class="geo-dec">50.879°N 4.426°E</span></span></span>\n</p>\n')
    out.append(lead + "\n")
    if len(body) >= 4:
        toc = "".join(
            f'<li class="toclevel-1 tocsection-{n}"><a href="#{_e(_anchor(h))}">'
            f'<span class="tocnumber">{n}</span> <span class="toctext">{_e(h)}</span></a></li>\n'
            for n, (h, _) in enumerate(body, 1))
        out.append('<div id="toc" class="toc" role="navigation" aria-labelledby="mw-toc-heading">'
                   '<input type="checkbox" role="button" id="toctogglecheckbox" '
                   'class="toctogglecheckbox" style="display:none" /><div class="toctitle" '
                   'lang="en" dir="ltr"><h2 id="mw-toc-heading">Contents</h2><span '
                   'class="toctogglespan"><label class="toctogglelabel" '
                   f'for="toctogglecheckbox"></label></span></div>\n<ul>\n{toc}</ul>\n</div>\n')
    for n, (heading, html) in enumerate(body, 1):
        out.append(_heading(heading, slug, n) + html + "\n")
    if padding.links:
        links = " · ".join(f'<a href="{_e(href)}" title="{_e(text)}">{_e(text)}</a>'
                           for text, href in padding.links)
        out.append('<div role="navigation" class="navbox" aria-labelledby="Navbox"><table '
                   'class="nowraplinks navbox-inner"><tbody><tr><th scope="col" '
                   f'class="navbox-title" colspan="2"><div id="Navbox">{_e(topic.title)} topics'
                   f'</div></th></tr><tr><td class="navbox-list navbox-odd"><div>{links}</div>'
                   "</td></tr></tbody></table></div>\n")
    out.append("<!-- \nNewPP limit report\nParsed by mw-web.testsite\nCached time: "
               f"{time.strftime('%Y%m%d%H%M%S', time.gmtime(topic.revised_at))}\n-->\n")
    out.append(_body_bottom(topic, base_url, footer_note))
    return "".join(out)


def render_article(model: SiteModel, slug: str, base_url: str = "",
                   footer_note: str = "") -> bytes:
    """The article page of a topic (UTF-8 bytes). KeyError for an unknown topic.

    :param base_url: prefix of the canonical and og:image URLs ("" keeps them root-relative).
    :param footer_note: extra footer text (the server's volatile timestamp).
    """
    return render_article_html(model, slug, base_url, footer_note).encode("utf-8")


def _head(topic: Topic, base_url: str) -> str:
    title = _e(f"{topic.title} - {SITE_NAME}")
    return (
        '<!DOCTYPE html>\n<html class="client-nojs vector-feature-language-in-header-disabled '
        'vector-feature-page-tools-disabled" lang="en" dir="ltr">\n<head>\n<meta charset="UTF-8"/>\n'
        f"<title>{title}</title>\n"
        '<script>document.documentElement.className="client-js";RLCONF='
        f"{_rlconf(topic)};"
        'RLSTATE={"site.styles":"ready","user.styles":"ready","user":"ready",'
        '"user.options":"loading","ext.cite.styles":"ready","skins.vector.styles.legacy":"ready"};'
        'RLPAGEMODULES=["ext.cite.ux-enhancements","site","mediawiki.page.ready",'
        '"mediawiki.toc","skins.vector.legacy.js"];</script>\n'
        '<script>(RLQ=window.RLQ||[]).push(function(){mw.loader.implement("user.options@12s5i",'
        "function($,jQuery,require,module){mw.user.clientPrefs.init();});});</script>\n"
        '<link rel="stylesheet" href="/w/load.php?lang=en&amp;modules=ext.cite.styles%7C'
        'skins.vector.styles.legacy&amp;only=styles&amp;skin=vector"/>\n'
        '<script async="" src="/w/load.php?lang=en&amp;modules=startup&amp;only=scripts&amp;'
        'raw=1&amp;skin=vector"></script>\n'
        f'<meta name="generator" content="{GENERATOR}"/>\n'
        '<meta name="referrer" content="origin-when-cross-origin"/>\n'
        '<meta name="format-detection" content="telephone=no"/>\n'
        f'<meta property="og:image" content="{_e(base_url + image_path(topic.slug))}"/>\n'
        '<meta property="og:image:width" content="1200"/>\n'
        '<meta property="og:image:height" content="800"/>\n'
        f'<meta property="og:title" content="{title}"/>\n'
        '<meta property="og:type" content="website"/>\n'
        '<link rel="icon" href="/favicon.ico"/>\n'
        '<link rel="search" type="application/opensearchdescription+xml" '
        f'href="/w/opensearch_desc.php" title="{SITE_NAME} (en)"/>\n'
        '<link rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/"/>\n'
        f'<link rel="canonical" href="{_e(base_url + info_path(topic.slug))}"/>\n'
        "</head>\n")


def _body_top(topic: Topic) -> str:
    slug = _e(topic.slug)
    return (
        '<body class="mediawiki ltr sitedir-ltr mw-hide-empty-elt ns-0 ns-subject mw-editable '
        f'page-{slug} rootpage-{slug} skin-vector action-view skin-vector-legacy">\n'
        '<div id="mw-page-base" class="noprint"></div>\n'
        '<div id="mw-head-base" class="noprint"></div>\n'
        '<div id="content" class="mw-body" role="main">\n<a id="top"></a>\n'
        '<div id="siteNotice"></div>\n<div class="mw-indicators">\n</div>\n'
        '<h1 id="firstHeading" class="firstHeading mw-first-heading">'
        f'<span class="mw-page-title-main">{_e(topic.title)}</span></h1>\n'
        '<div id="bodyContent" class="vector-body">\n'
        f'<div id="siteSub" class="noprint">From {SITE_NAME}, the free encyclopedia</div>\n'
        '<div id="contentSub"><div id="mw-content-subtitle"></div></div>\n'
        '<div id="contentSub2"></div>\n<div id="jump-to-nav"></div>\n'
        '<a class="mw-jump-link" href="#mw-head">Jump to navigation</a>\n'
        '<a class="mw-jump-link" href="#searchInput">Jump to search</a>\n'
        '<div id="mw-content-text" class="mw-body-content mw-content-ltr" lang="en" dir="ltr">'
        '<div class="mw-parser-output">')


def _body_bottom(topic: Topic, base_url: str, note: str) -> str:
    slug = path_quote(topic.slug)
    permanent = f"{base_url}/w/index.php?title={slug}&amp;oldid={topic.revision_id}"
    cats = "".join(f'<li><a href="/category/{path_quote(slug_of(c))}" '
                   f'title="Category:{_e(c)}">{_e(c)}</a></li>' for c in topic.categories)
    served = (f'<li id="footer-info-served">Served {_e(note)}.</li>\n' if note else "")
    return (
        '</div><noscript><img src="/w/index.php?title=Special:CentralAutoLogin/start&amp;'
        'type=1x1" alt="" title="" width="1" height="1" style="border: none; position: '
        'absolute;"/></noscript>\n<div class="printfooter" data-nosnippet="">Retrieved from '
        f'"<a dir="ltr" href="{permanent}">{permanent}</a>"</div></div>\n'
        '<div id="catlinks" class="catlinks" data-mw="interface"><div id="mw-normal-catlinks" '
        'class="mw-normal-catlinks"><a href="/category/" title="Special:Categories">Categories'
        f"</a>: <ul>{cats}</ul></div></div>\n</div>\n</div>\n"
        '<div id="mw-navigation">\n<h2>Navigation menu</h2>\n<div id="mw-head">\n'
        '<nav id="p-personal" class="vector-menu mw-portlet mw-portlet-personal '
        'vector-user-menu-legacy" aria-labelledby="p-personal-label" role="navigation"><h3 '
        'id="p-personal-label" class="vector-menu-heading"><span class="vector-menu-heading-'
        'label">Personal tools</span></h3><div class="vector-menu-content"><ul class="vector-'
        'menu-content-list"><li id="pt-login" class="mw-list-item"><a href="/w/index.php?title='
        f'Special:UserLogin&amp;returnto={slug}" title="You are encouraged to log in">'
        "<span>Log in</span></a></li></ul></div></nav>\n"
        '<div id="left-navigation"><nav id="p-namespaces" class="vector-menu mw-portlet '
        'vector-menu-tabs" role="navigation"><div class="vector-menu-content"><ul class="vector-'
        'menu-content-list"><li id="ca-nstab-main" class="selected mw-list-item"><a href="'
        f'{info_path(topic.slug)}" title="View the content page [c]" accesskey="c"><span>Article'
        '</span></a></li><li id="ca-talk" class="mw-list-item"><a href="/w/index.php?title=Talk:'
        f'{slug}" rel="discussion" title="Discussion about the content page [t]" accesskey="t">'
        "<span>Talk</span></a></li></ul></div></nav></div>\n"
        '<div id="right-navigation"><nav id="p-views" class="vector-menu mw-portlet '
        'vector-menu-tabs" role="navigation"><div class="vector-menu-content"><ul class="vector-'
        'menu-content-list"><li id="ca-view" class="selected mw-list-item"><a href="'
        f'{info_path(topic.slug)}"><span>Read</span></a></li><li id="ca-edit" class="mw-list-'
        f'item"><a href="{_edit_url(topic.slug)}" title="Edit this page [e]" accesskey="e">'
        '<span>Edit</span></a></li><li id="ca-history" class="mw-list-item"><a href="/w/index.php'
        f'?title={slug}&amp;action=history" title="Past revisions of this page [h]" accesskey="h">'
        "<span>View history</span></a></li></ul></div></nav>\n"
        '<div id="p-search" role="search" class="vector-search-box-vue vector-search-box"><h3>'
        'Search</h3><form action="/w/index.php" id="searchform" class="vector-search-box-form">'
        '<input type="search" name="search" placeholder="Search ' + SITE_NAME + '" '
        'id="searchInput"/><input type="hidden" name="title" value="Special:Search"/></form>'
        "</div></div>\n</div>\n"
        '<div id="mw-panel"><div id="p-logo" role="banner"><a class="mw-wiki-logo" href="/" '
        'title="Visit the main page"></a></div>\n<nav id="p-navigation" class="vector-menu '
        'mw-portlet vector-menu-portal portal" role="navigation"><h3 class="vector-menu-heading">'
        '<span class="vector-menu-heading-label">Navigation</span></h3><div class="vector-menu-'
        'content"><ul class="vector-menu-content-list"><li id="n-mainpage-description" '
        'class="mw-list-item"><a href="/" title="Visit the main page [z]" accesskey="z"><span>'
        "Main page</span></a></li></ul></div></nav>\n"
        '<nav id="p-tb" class="vector-menu mw-portlet vector-menu-portal portal" role="navigation">'
        '<h3 class="vector-menu-heading"><span class="vector-menu-heading-label">Tools</span></h3>'
        '<div class="vector-menu-content"><ul class="vector-menu-content-list"><li id="t-related" '
        f'class="mw-list-item"><a href="{related_path(topic.slug)}"><span>Related items</span>'
        '</a></li><li id="t-permalink" class="mw-list-item"><a href="/w/index.php?title='
        f'{slug}&amp;oldid={topic.revision_id}" title="Permanent link to this revision of this '
        'page"><span>Permanent link</span></a></li></ul></div></nav>\n</div>\n</div>\n'
        '<div id="footer" class="mw-footer" role="contentinfo">\n<ul id="footer-info">\n'
        f'<li id="footer-info-lastmod"> This page was last edited on {_last_edited(topic.revised_at)}'
        '<span class="anonymous-show">&#160;(UTC)</span>.</li>\n'
        '<li id="footer-info-copyright">Text is available under the <a rel="license" '
        'href="https://creativecommons.org/licenses/by-sa/4.0/">Creative Commons '
        "Attribution-ShareAlike License 4.0</a>; additional terms may apply.</li>\n"
        f"{served}</ul>\n"
        '<ul id="footer-places">\n<li id="footer-places-privacy"><a href="/private/privacy" '
        'title="Privacy policy">Privacy policy</a></li>\n<li id="footer-places-about"><a '
        f'href="/" title="About {SITE_NAME}">About {SITE_NAME}</a></li>\n</ul>\n</div>\n'
        '<script>(RLQ=window.RLQ||[]).push(function(){mw.config.set({"wgBackendResponseTime":'
        '87,"wgHostname":"mw-web.testsite"});});</script>\n</body>\n</html>\n')
