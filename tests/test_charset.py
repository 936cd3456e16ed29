"""Pages without a declared charset: decided as browsers and w3lib decide (BOM, HTTP charset,
<meta>, clean UTF-8, then a statistical detector, windows-1252 last), directly and over real
HTTP on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hostile_helpers import make_config, run_crawl
from local_http import serve
from paths import CORPUS

from scraper.archive import Archive
from scraper.parse import parse_page
from scraper.parse.charset import DETECT_BYTES, CharsetDecision, decide_encoding

# A few paragraphs of ordinary prose per language (written for these tests).
JAPANESE = """\
富士山は、静岡県と山梨県にまたがる活火山である。標高は三千七百七十六メートルで、日本の最高峰として知られている。山頂からの眺めは美しく、毎年夏になると多くの登山者が訪れる。
古くから信仰の対象とされ、多くの絵画や文学作品にも描かれてきた。江戸時代には富士講と呼ばれる集団が各地で組織され、人々は列をなして山頂を目指した。
二〇一三年には「富士山・信仰の対象と芸術の源泉」として世界文化遺産に登録された。周辺には富士五湖と呼ばれる湖が点在し、四季を通じて観光客でにぎわっている。
最後の噴火は一七〇七年の宝永噴火であり、その際には江戸の町にも火山灰が降り積もったと記録されている。現在も気象庁によって火山活動の監視が続けられている。"""
CHINESE = """\
长城是中国古代的军事防御工程，东起山海关，西至嘉峪关，全长数千公里。修建长城的历史可以追溯到春秋战国时期，各国为了防御外敌，纷纷在边境修筑城墙。
秦始皇统一六国以后，将各国的城墙连接起来，形成了最早的万里长城。明朝时期又对长城进行了大规模的修缮和扩建，今天人们看到的长城大多是明代留下的。
一九八七年，长城被列入世界文化遗产名录。每年都有大量游客前来参观，其中北京附近的八达岭和慕田峪最受欢迎。登上长城，可以看到群山连绵，景色十分壮观。"""
KOREAN = """\
서울은 대한민국의 수도이자 최대 도시이다. 한강을 사이에 두고 남북으로 펼쳐져 있으며, 약 천만 명의 인구가 살고 있다. 조선 시대부터 나라의 중심지 역할을 해 왔다.
도시 곳곳에는 경복궁과 창덕궁 같은 오래된 궁궐이 남아 있어 많은 관광객이 찾는다. 창덕궁은 자연과 조화를 이룬 건축으로 높이 평가되어 세계 문화유산에 등록되었다.
오늘날 서울은 정치, 경제, 문화의 중심지로서 지하철과 버스가 촘촘하게 연결되어 있다. 밤이 되면 남산 타워에서 도시의 야경을 한눈에 볼 수 있다."""
RUSSIAN = """\
Москва — столица России, крупнейший по численности населения город страны и её политический, экономический и культурный центр. Город расположен на реке Москве в центре Восточно-Европейской равнины.
Первое упоминание о Москве в летописях относится к 1147 году. В XIV веке город стал центром объединения русских земель, а позднее — столицей единого государства.
В Москве находятся Кремль, Красная площадь, Большой театр и Третьяковская галерея. Московский метрополитен, открытый в 1935 году, известен своими богато украшенными станциями.
Зимой в городе бывает холодно и снежно, а летом тепло. Каждый год сюда приезжают миллионы туристов со всего мира."""
RUSSIAN_KOI8 = """\
Санкт-Петербург был основан Петром Первым в 1703 году в устье реки Невы. Более двухсот лет город оставался столицей Российской империи.
Город часто называют северной столицей. Его исторический центр с дворцами, соборами и каналами внесён в список всемирного наследия.
Летом здесь наступают белые ночи, когда солнце почти не заходит, а по ночам разводят мосты через Неву, чтобы пропустить корабли.
В Эрмитаже, одном из крупнейших музеев мира, хранятся миллионы произведений искусства, от древних скульптур до картин современных художников."""
WESTERN = """\
L’été dernier, nous avons visité Zürich et Genève. Les rues étaient calmes, et le café près du lac servait un gâteau aux pommes délicieux.
Über die Brücke gingen Touristen, und in der Altstadt hörte man Grüße in vielen Sprachen. Das Frühstück im Hotel war üppig: Müsli, Brötchen und Käse.
À la fin du séjour, on a pris le train pour Lausanne ; c’était très agréable, même si le wagon était plein."""

# path -> (title, text, encoding the bytes are in); none of them says which.
PAGES = {
    "/ja-shift-jis": ("富士山", JAPANESE, "shift_jis"),
    "/ja-euc-jp": ("富士山", JAPANESE, "euc_jp"),
    "/zh-gbk": ("长城", CHINESE, "gbk"),
    "/ko-euc-kr": ("서울", KOREAN, "euc_kr"),
    "/ru-windows-1251": ("Москва", RUSSIAN, "cp1251"),
    "/ru-koi8-r": ("Санкт-Петербург", RUSSIAN_KOI8, "koi8_r"),
    "/west-windows-1252": ("Café à Zürich", WESTERN, "cp1252"),
}


def html(title: str, text: str) -> str:
    paragraphs = "".join(f"<p>{p}</p>\n" for p in text.split("\n"))
    return (f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>"
            f"<h1>{title}</h1>\n{paragraphs}</body></html>\n")


def body_of(path: str) -> bytes:
    title, text, encoding = PAGES[path]
    return html(title, text).encode(encoding)


def corpus_page_without_charset(name: str, encoding: str) -> tuple[bytes, dict[str, object]]:
    """A real page of the corpus (declaring no charset) in `encoding`; characters the
    encoding lacks become character references, as a server would write them."""
    expected = json.loads((CORPUS / f"{name}.expected.json").read_text(encoding="utf-8"))
    text = (CORPUS / f"{name}.html").read_text(encoding="utf-8")
    assert "charset" not in text[:4096].lower()
    return text.encode(encoding, "xmlcharrefreplace"), expected


# --- the decision, directly -------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(PAGES))
def test_undeclared_pages_are_detected(path: str) -> None:
    title, text, encoding = PAGES[path]
    body = body_of(path)
    decision = decide_encoding(body, "text/html")
    assert body.decode(decision.encoding) == html(title, text), decision
    # Windows-1252 is no detection: the detector found Western text, which is its default.
    assert decision.decided_by == ("default" if encoding == "cp1252" else "detector")


@pytest.mark.parametrize("path", sorted(PAGES))
def test_one_paragraph_is_enough(path: str) -> None:
    title, text, encoding = PAGES[path]
    page = html(title, text.split("\n")[0])
    assert page.encode(encoding).decode(decide_encoding(page.encode(encoding)).encoding) == page


def test_the_order_bom_header_meta_utf8_detector_default() -> None:
    russian = html("Москва", RUSSIAN)
    cp1251 = russian.encode("cp1251")
    assert decide_encoding(b"\xef\xbb\xbf" + cp1251, "text/html; charset=koi8-r") == \
        CharsetDecision("utf-8", "bom")
    assert decide_encoding(cp1251, "text/html; charset=koi8-r") == \
        CharsetDecision("koi8-r", "content-type")
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
    assert decide_encoding(russian.replace("<head>", f"<head>{meta}").encode("cp1251")) == \
        CharsetDecision("koi8-r", "meta")
    assert decide_encoding(b"<p>plain ascii</p>") == CharsetDecision("utf-8", "ascii")
    assert decide_encoding(russian.encode()) == CharsetDecision("utf-8", "utf-8")
    # UTF-8 with one damaged sequence is still UTF-8, not a legacy page.
    damaged = russian.encode().replace("Кремль".encode(), b"\xd0\x9a\xff\xd0\xb5\xd0\xbc")
    assert decide_encoding(damaged) == CharsetDecision("utf-8", "utf-8-damaged")
    assert decide_encoding(cp1251) == CharsetDecision("cp1251", "detector")
    # No language the detector knows, nothing it can tell apart: windows-1252.
    assert decide_encoding("é".encode("cp1252") * 40_000) == CharsetDecision("cp1252", "default")


def test_labels_name_the_decoders_browsers_use() -> None:
    # A page labelled gb2312 or euc-kr is read with GBK or windows-949 (their supersets),
    # one labelled shift_jis with windows-31j, one labelled iso-8859-9 with windows-1254.
    gbk_only = "長城".encode("gbk")  # traditional characters: in GBK, not in GB 2312
    decision = decide_encoding(gbk_only, "text/html; charset=gb2312")
    assert decision.decided_by == "content-type"
    assert gbk_only.decode(decision.encoding) == "長城"
    assert decide_encoding(b"x", "text/html; charset=euc-kr").encoding == "cp949"
    assert decide_encoding(b"x", "text/html; charset=Shift_JIS").encoding == "cp932"
    assert decide_encoding(b'<meta charset="iso-8859-9">').encoding == "cp1254"


def test_the_detector_reads_at_most_64_kib() -> None:
    # 64 KiB of Russian from the first non-ASCII byte on, then a megabyte of Japanese: the
    # decision is made on the Russian alone, in a bounded time.
    russian = ("<p>" + RUSSIAN.replace("\n", "</p>\n<p>") + "</p>\n").encode("cp1251")
    head = b"<html><body>" + (russian * (DETECT_BYTES // len(russian) + 1))[:DETECT_BYTES]
    body = head + (html("富士山", JAPANESE * 1500)).encode("shift_jis")
    assert len(body) > 1_000_000
    started = time.perf_counter()
    decision = decide_encoding(body)
    assert time.perf_counter() - started < 2.0  # about 10 ms; a whole-body detection, seconds
    assert decision == CharsetDecision("cp1251", "detector")


def test_a_real_chinese_page_in_gbk() -> None:
    body, expected = corpus_page_without_charset("wikipedia-zh-star-mobile-html-2021", "gbk")
    assert decide_encoding(body).decided_by == "detector"
    page = parse_page(body, str(expected["url"]), content_type="text/html")
    assert page.title == expected["title"]
    assert page.summary.startswith(str(expected["summary_starts_with"]))


# --- over HTTP: what the archive keeps --------------------------------------------------------

class _Undeclared(BaseHTTPRequestHandler):
    """Each page with `Content-Type: text/html` and no charset anywhere."""

    def do_GET(self) -> None:
        if self.path == "/zh-corpus-gbk":
            body, _ = corpus_page_without_charset("wikipedia-zh-star-mobile-html-2021", "gbk")
        elif self.path in PAGES:
            body = body_of(self.path)
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def site() -> Iterator[str]:
    with serve(_Undeclared) as base:
        yield base


def test_archived_pages_read_right(site: str, tmp_path: Path) -> None:
    urls = [f"{site}{path}" for path in PAGES] + [f"{site}/zh-corpus-gbk"]
    (result,) = run_crawl(make_config(urls), tmp_path / "a.db")
    assert result.status == "completed" and result.stats.fetched == len(urls)
    with Archive.open(str(tmp_path / "a.db")) as archive:
        for path, (title, text, _) in PAGES.items():
            page = archive.page(f"{site}{path}")
            paragraphs = text.split("\n")
            assert page.title == title, path
            assert page.summary == paragraphs[0], path
            assert page.text.split("\n\n")[-len(paragraphs):] == paragraphs, path
        _, expected = corpus_page_without_charset("wikipedia-zh-star-mobile-html-2021", "gbk")
        chinese = archive.page(f"{site}/zh-corpus-gbk")
        assert chinese.title == expected["title"]
        assert chinese.summary.startswith(str(expected["summary_starts_with"]))
