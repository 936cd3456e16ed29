"""MediaWiki links: which are articles of the same wiki, their titles, and reading them fast."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from selectolax.lexbor import LexborNode

from scraper.models import Link
from scraper.parse.html import norm
from scraper.parse.urls import Resolver, new_links

# Namespace names (lower case) whose pages are not articles: canonical English names, the
# aliases MediaWiki accepts, and the localized names of the large wikis. "X talk" forms are
# caught by the suffix rule in is_namespaced().
NON_ARTICLE_NAMESPACES = frozenset({
    # English / canonical
    "special", "file", "image", "media", "help", "talk", "category", "template", "wikipedia",
    "portal", "user", "project", "mediawiki", "module", "draft", "timedtext", "book",
    "gadget", "gadget definition", "education program", "wp", "wt", "property", "lexeme",
    # Fandom and other hosts
    "forum", "message wall", "thread", "board thread", "user blog", "user blog comment",
    # German
    "datei", "bild", "kategorie", "spezial", "hilfe", "diskussion", "vorlage", "benutzer",
    "benutzerin", "modul", "medium",
    # French
    "fichier", "catégorie", "spécial", "aide", "modèle", "utilisateur", "utilisatrice",
    "discussion", "projet",
    # Spanish / Portuguese / Italian
    "archivo", "categoría", "especial", "ayuda", "plantilla", "usuario", "usuaria",
    "discusión", "anexo", "ficheiro", "arquivo", "categoria", "ajuda", "predefinição",
    "usuário", "utilizador", "predefinicao", "speciale", "aiuto", "utente", "discussioni",
    # Dutch / Scandinavian / Polish / Czech
    "bestand", "categorie", "speciaal", "sjabloon", "gebruiker", "overleg", "fil",
    "kategori", "hjälp", "mall", "användare", "mal", "bruker", "plik",
    "kategoria", "specjalna", "pomoc", "szablon", "wikipedysta", "dyskusja", "soubor",
    "speciální", "nápověda", "šablona", "wikipedista", "diskuse",
    # Russian / Ukrainian
    "файл", "категория", "служебная", "справка", "шаблон", "участник", "участница",
    "обсуждение", "портал", "википедия", "модуль", "категорія", "спеціальна", "довідка",
    "користувач", "обговорення", "вікіпедія",
    # Japanese / Chinese / Korean
    "ファイル", "カテゴリ", "特別", "ヘルプ", "テンプレート", "利用者", "ノート", "プロジェクト",
    "ポータル", "画像", "文件", "檔案", "档案", "图像", "圖像", "分类", "分類", "特殊", "帮助",
    "幫助", "模板", "样板", "模板讨论", "用户", "用戶", "使用者", "讨论", "討論", "维基百科",
    "維基百科", "主题", "主題", "门户", "入口", "模块", "模組", "파일", "분류", "특수",
    "도움말", "틀", "사용자", "토론", "위키백과", "포털",
    # Arabic / Hebrew / Persian / Turkish
    "ملف", "تصنيف", "خاص", "مساعدة", "قالب", "مستخدم", "نقاش", "ويكيبيديا", "بوابة",
    "קובץ", "קטגוריה", "מיוחד", "עזרה", "תבנית", "משתמש", "שיחה", "ויקיפדיה", "פורטל",
    "پرونده", "رده", "ویژه", "راهنما", "الگو", "کاربر", "بحث", "ویکی‌پدیا", "درگاه",
    "dosya", "özel", "yardım", "şablon", "kullanıcı", "tartışma", "vikipedi",
})
_TALK_SUFFIXES = (" talk", " diskussion", "-diskussion", " discussion", " discusión",
                  " overleg", "討論", "讨论", " tartışma", " dyskusja")
# A page name whose links are written as it is (MediaWiki percent-encodes the others),
# with nothing that would make a link to it more than article_base + name.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.,()!-]*")
_PLAIN_URL = re.compile(r"[!#-\[\]-~]+")  # printable ASCII but '"' and '\\' (CSS string)
_WEB = ("https://", "http://")
# Queries that make a same-wiki link something other than reading an article.
_NON_VIEW_QUERY = re.compile(r"(?:^|[&;])(?:action|oldid|diff|curid|redlink|printable|veaction|"
                             r"section|useskin|uselang|search|returnto|type)=", re.IGNORECASE)


def is_namespaced(title: str) -> bool:
    """True when `title` is in a namespace that holds no articles (Special:, File:, Talk:...)."""
    colon = title.find(":")
    if colon <= 0:
        return False
    prefix = title[:colon].strip().replace("_", " ").lower()
    if prefix in NON_ARTICLE_NAMESPACES:
        return True
    return prefix.endswith(_TALK_SUFFIXES)


def article_prefix(urls: tuple[str, ...], page_name: str = "", article_path: str = "") -> str:
    """The article path of a wiki ("/wiki/" on Wikipedia, "/" with short URLs).

    From wgArticlePath when the page gives it; else what the page's own URL (canonical
    first) has before its title; else "/wiki/" when the URLs use it; else "/".
    """
    if article_path and "$1" in article_path:
        prefix = urlsplit(article_path.split("$1", 1)[0]).path
        if prefix.startswith("/"):
            return prefix
    name = page_name.replace(" ", "_")
    for url in urls:
        if not url:
            continue
        path = unquote(urlsplit(url).path)
        if name and path.endswith("/" + name):
            return path[: len(path) - len(name)]
    for url in urls:
        if "/wiki/" in url:
            return "/wiki/"
    return "/"


_QUERY_SEPARATOR = re.compile(r"[&;]")


def red_link_target(path_and_query: str, prefix: str) -> str | None:
    """The article path tail ("Foo_bar", percent-encoded as MediaWiki writes its links) that a
    red link names, or None when the URL is no red link.

    A red link is the edit view of a page not written yet, marked redlink=1:
    "/w/index.php?title=Foo_bar&action=edit&redlink=1" (MediaWiki encodes the title of the
    query as that of the article path), or "/wiki/Foo_bar?action=edit&redlink=1".
    """
    path, _, query = path_and_query.partition("?")
    query = query.split("#", 1)[0]
    raw = ""
    red = False
    for param in _QUERY_SEPARATOR.split(query):
        name, _, value = param.partition("=")
        if name == "redlink":
            red = value == "1"
        elif name == "title":
            raw = value
    if not red:
        return None
    if not raw and path.startswith(prefix) and not path.endswith("/index.php"):
        raw = path[len(prefix):]
    # "+" is a space in a query; MediaWiki writes spaces in titles as "_" (and "+" as %2B).
    return raw.replace("+", "_") or None


def title_from_path(path_and_query: str, prefix: str) -> str | None:
    """The page title an article URL's path names, or None when it is not an article view.

    `path_and_query` is everything after the host (a resolved URL's tail).
    """
    path, _, query = path_and_query.partition("?")
    if path.startswith(prefix):
        if query and _NON_VIEW_QUERY.search(query):
            return None
        if query:
            return None
        raw = path[len(prefix):]
    elif path.endswith("/index.php") and query.startswith("title=") and "&" not in query:
        raw = query[len("title="):]
    else:
        return None
    if not raw:
        return None
    return unquote(raw).replace("_", " ")


class LinkReader:
    """Classifies the anchors of an article: see_also / internal (articles) / external."""

    def __init__(self, resolver: Resolver, page_url: str, hosts: set[str], prefix: str,
                 own_title: str, *, relative: bool = True) -> None:
        """:param relative: whether the hrefs may be relative to the article path ("./T",
        as in Parsoid HTML): the fast path then looks for them too (elsewhere they are
        resolved like any other href, to the same URL)."""
        self.resolver = resolver
        self.hosts = frozenset(hosts)
        self.hosts_seq = tuple(sorted(self.hosts))
        # URLs starting so are surely on one of the hosts (others ask host_of(), which
        # reads an IPv6 host with its brackets).
        self.host_prefixes = tuple(scheme + host + end for host in sorted(self.hosts)
                                   if ":" not in host
                                   for scheme in ("https://", "http://") for end in "/?")
        self.prefix = prefix
        self.article_base = resolver.origin + prefix if resolver.origin else "\x00"
        # Whether an href "/path?query" surely resolves to a URL on one of the hosts (as
        # read() tells them), the name then read from the path and query alone.
        self.plain_origin = bool(resolver.origin) and \
            resolver.host_of(resolver.origin + "/") in self.hosts
        # The form most article links take in the HTML itself ("/wiki/T", or "./T" when
        # the base is the article path, as in Parsoid), turned into URLs without urljoin.
        self.local_prefixes: tuple[str, ...] = (prefix,) if prefix != "/" else ()
        if relative and resolver.directory == self.article_base:
            self.local_prefixes += ("./",)
        # The cut before the title when all local hrefs have one prefix ("/wiki/": 6);
        # and whether "/." can only be past an href's first character (what read() tests).
        only = self.local_prefixes[0] if len(self.local_prefixes) == 1 else ""
        self.fixed_cut = len(only) if only.startswith("/") else 2 if only == "./" else 0
        self.dot_safe = not any(p.startswith("/.") for p in self.local_prefixes)
        self.own_title = own_title
        self.seen: set[str] = {page_url}
        # Red links kept (as their article URL): the crawl must not ask for them.
        self.red_urls: set[str] = set()
        # The links found, as three columns: Link records are made in one go at the end.
        self._urls: list[str] = []
        self._titles: list[str] = []
        self._kinds: list[str] = []

    def own_sections_filter(self, *, absolute: bool = False) -> str:
        """A CSS filter for a[href] that leaves out the page's links to its own sections
        ("./Dog#cite_note-1", or "https://host/wiki/Dog#cite_note-1" with `absolute`);
        "" when the page name is not plain.

        read() would drop each of them: the URL is article_base + the name (the fragment
        cut, whatever follows it), so the title is the page's own, and a title is a
        function of the URL (the URL is marked seen, which drops later links to it, all
        of which would be dropped for the same title anyway).
        """
        name = self.own_title.replace(" ", "_")
        if "_" in self.own_title or not self.resolver.origin or not _PLAIN_NAME.fullmatch(name):
            return ""
        prefixes = self.local_prefixes
        if absolute:
            if not _PLAIN_URL.fullmatch(self.article_base):
                return ""
            prefixes = (self.article_base,)
        return "".join(f':not([href^="{prefix}{name}#"])' for prefix in prefixes)

    def _red_link(self, href: str) -> tuple[str, str] | None:
        """(URL, title) of the article a red link of this wiki names, else None."""
        url = self.resolver.resolve(href)
        if url is None or self.resolver.host_of(url) not in self.hosts:
            return None
        slash = url.find("/", url.find("//") + 2)
        if slash < 0:
            return None
        raw = red_link_target(url[slash:], self.prefix)
        if raw is None:
            return None
        # The URL's own origin: a blue link on that host keeps it too.
        return url[:slash] + self.prefix + raw, unquote(raw).replace("_", " ")

    @property
    def links(self) -> list[Link]:
        return new_links(self._urls, self._titles, self._kinds)

    def read(self, anchors: list[LexborNode], kind: str, limit: int) -> None:
        """Add the links of `anchors`; kind is "see_also" or "internal" (then external
        links are kept too)."""
        # The hot loop of the parser (thousands of anchors per article): one attribute
        # read per anchor, duplicates dropped by a dict before any other work, the usual
        # article link ("/wiki/T", "./T") read by slicing, and as few operations as can
        # be on the way (each costs about as much as the next).
        room = limit - len(self._urls)
        if room <= 0:
            return
        try:  # (indexing costs less than .get(); every anchor found by a[href] has one)
            hrefs: list[str | None] = [anchor.attrs["href"] for anchor in anchors]
        except KeyError:  # an <a> with only a namespaced href (xlink:href in SVG)
            hrefs = [anchor.attrs.get("href") for anchor in anchors]
        # Where the anchor of an href is: hrefs are read in the order they first occur, so
        # each lookup starts where the one before found its href.
        cursor = 0
        resolve = self.resolver.resolve
        seen = self.seen
        seen_add = seen.add
        # The links found, cut to `room` at the end (lists, not tuples: a tuple per link
        # would be garbage-collector work).
        urls: list[str] = []
        titles: list[str] = []
        externals: list[int] = []  # which of them are external (the others are `kind`)
        add_url = urls.append
        add_title = titles.append
        hosts = self.hosts_seq
        article_base = self.article_base
        cut = len(article_base)
        local = self.local_prefixes
        prefix = self.prefix
        plain_origin = self.plain_origin
        cut_local = len(prefix)
        fixed_cut = self.fixed_cut
        dot_safe = self.dot_safe
        own_title = self.own_title
        host_prefixes = self.host_prefixes
        keep_shown = kind == "see_also"
        title: str | None
        url: str | None
        for href in dict.fromkeys(hrefs):
            if not href:
                continue
            # (no local prefix starts with "#"; "/." cannot be at 0 when dot_safe)
            if href.startswith(local) and href[-1] > " " and "?" not in href and \
                    ("/." not in href or (not dot_safe and href.find("/.", 1) < 0)):
                rest = href[fixed_cut:] if fixed_cut else href[cut_local:] \
                    if href[0] == "/" else href[2:]
                if "#" in rest:
                    rest = rest[: rest.index("#")]
                url = article_base + rest
                if not rest or url in seen:
                    continue
                seen_add(url)
                # (replace() gives back the same string when there is no "_")
                title = (unquote(rest) if "%" in rest else rest).replace("_", " ")
            elif "redlink=" in href and (red := self._red_link(href)) is not None:
                # A red link names a page not written yet: it is kept as the link to that
                # article it becomes once the page exists, so that a page whose link turns
                # blue (and nothing else) is the same record.
                if red[0] not in seen:
                    seen_add(red[0])
                    url, title = red
                    self.red_urls.add(url)
                    # (its title attribute says "(page does not exist)": never read)
                    if title != own_title and not (":" in title and is_namespaced(title)):
                        add_url(url)
                        add_title(title)
                continue
            elif href.startswith(article_base) and href[-1] > " " and (
                    "#" not in href or ("\n" not in href and "\t" not in href and
                                        "\r" not in href and "[" not in href)):
                # An absolute article URL: what resolve() would make of it, cheaper.
                url = href[: href.index("#")] if "#" in href else href
                rest = url[cut:]
                if not rest or url in seen or "?" in rest:
                    continue
                seen_add(url)
                title = (unquote(rest) if "%" in rest else rest).replace("_", " ")
            elif href[0] == "#":
                continue
            elif plain_origin and href[0] == "/" and "?" in href and href[1:2] != "/" and \
                    href[-1] > " " and \
                    "/." not in href and "\n" not in href and "\t" not in href and \
                    "\r" not in href and title_from_path(href.split("#", 1)[0], prefix) is None:
                # A view of this wiki that is no article (edit and red links, history): the
                # path and query that resolve() would put after the origin name no title.
                continue
            else:
                if href.startswith(_WEB) and href[-1] > " " and "\n" not in href and \
                        "\t" not in href and "\r" not in href and "[" not in href:
                    # An absolute URL (most external links): what resolve() makes of it,
                    # without the call: the href without its fragment, if it has a host.
                    at = 7 if href[4] == ":" else 8  # past "http://", "https://"
                    if len(href) <= at or href[at] in "/?#":
                        continue
                    url = href[: href.index("#")] if "#" in href else href
                else:
                    url = resolve(href)
                    if url is None:
                        continue
                if url in seen:
                    continue
                # A URL whose text has none of the hosts is external (the usual case):
                # found by a few substring tests, without taking the URL apart.
                low = url.lower()
                on_host = False
                for host in hosts:
                    if host in low:
                        on_host = True
                        break
                if on_host and url.startswith(article_base):
                    rest = url[cut:]
                    if not rest or "?" in rest:
                        continue
                    title = (unquote(rest) if "%" in rest else rest).replace("_", " ")
                elif on_host and (url.startswith(host_prefixes) or
                                  self.resolver.host_of(url) in self.hosts):
                    slash = url.find("/", url.find("//") + 2)
                    title = title_from_path(url[slash:], self.prefix) if slash > 0 else None
                    if title is None:
                        continue
                else:
                    if kind == "internal":
                        seen_add(url)
                        cursor = hrefs.index(href, cursor)
                        anchor = anchors[cursor]
                        externals.append(len(urls))
                        add_url(url)
                        add_title(norm(anchor.text()) or norm(anchor.attrs.get("title")))
                    continue  # (external links in "See also" are kept as external)
                seen_add(url)
            if title == own_title or (":" in title and is_namespaced(title)):
                continue
            # MediaWiki's title attribute repeats the URL's title, except on wikis with
            # language variants (zh, sr, kk...), where it shows the converted title: read
            # it there only (non-ASCII titles), as reading it costs as much as the rest.
            if keep_shown or not title.isascii():
                cursor = hrefs.index(href, cursor)
                shown = anchors[cursor].attrs.get("title")
                if shown:
                    title = norm(shown)
            add_url(url)
            add_title(title)
        # (past `room`, the loop only added to `seen`: a reader that is full reads no more)
        kinds = [kind] * len(urls)
        for at in externals:
            kinds[at] = "external"
        self._urls.extend(urls[:room])
        self._titles.extend(titles[:room])
        self._kinds.extend(kinds[:room])
