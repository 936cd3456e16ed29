"""MediaWiki link rules: which links are articles of the same wiki, and their titles."""

from __future__ import annotations

import re
from urllib.parse import unquote

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


def article_prefix(*urls: str) -> str:
    """The article path of a wiki: "/wiki/" when its URLs use it, else "/" (short URLs)."""
    for url in urls:
        if "/wiki/" in url:
            return "/wiki/"
    return "/"


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
