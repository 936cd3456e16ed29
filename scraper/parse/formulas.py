"""Formulas of MediaWiki's Math extension as readable text, each said once.

MediaWiki renders a formula as a hidden MathML copy (for screen readers, with the TeX source
as its annotation) beside an image whose alt text is the TeX again:
<span class="mwe-math-element"><span class="mwe-math-mathml-inline" style="display: none;">
<math alttext="{\\displaystyle E=mc^{2}}">…<annotation>{\\displaystyle E=mc^{2}}</annotation>
</math></span><img class="mwe-math-fallback-image-inline" alt="{\\displaystyle E=mc^{2}}">
</span>. Newer wikis send the MathML alone; old ones an image alone (class "tex" before
1.23). A reader sees the formula once: its text is the MathML's visible symbols ("E=mc2"),
else the image's TeX without the {\\displaystyle …} wrapper. The TeX never comes beside it.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

from scraper.parse.html import attr, norm

# What a formula can be: the wrapper and the parts that may come without it (MathML alone,
# or a fallback image: "mwe-math-fallback-image-inline", "-display", "-png-inline", ...).
FORMULA_SELECTOR = '[class*="mwe-math"], math, img.tex'
FORMULA_CLASSES = frozenset({"mwe-math-element", "tex"})  # (and any class with "mwe-math")
_WRAPPER = "mwe-math-element"
# MathML's token elements: the only ones whose text is shown (text elsewhere is white space
# between elements).
_TOKENS = frozenset({"mi", "mn", "mo", "mtext", "ms"})
_NOT_SHOWN = frozenset({"annotation", "annotation-xml", "mprescripts", "none"})
# Invisible operators (function application, times, separator, plus) and zero-width spaces.
_INVISIBLE = str.maketrans("", "", "\u2061\u2062\u2063\u2064\u200b\u200c\u200d\ufeff")
_MAX_DEPTH = 64  # deeper MathML is read as its plain text (no nesting is that deep in practice)
_STYLE_WRAPPER = re.compile(r"\{\\(?:display|text|script|scriptscript)style\b\s*(.*)\}\s*\Z",
                            re.DOTALL)


def replace_formulas(nodes: list[LexborNode]) -> None:
    """Replace each formula among `nodes` (matches of FORMULA_SELECTOR) by its readable text;
    parts of a formula whose wrapper is among them are left to the wrapper."""
    for node in nodes:
        if not _is_wrapper(node) and _inside_wrapper(node):
            continue
        text = formula_text(node)
        if text is not None:
            node.replace_with(f" {text} " if _is_display(node) else text)


def formula_text(node: LexborNode) -> str | None:
    """The readable text of a formula (a wrapper, a <math> or a fallback image); None when
    the node is no formula that has one (such as the TeX source mode's plain text)."""
    math = node if node.tag == "math" else node.css_first("math")
    if math is not None:
        text = mathml_text(math)
        if text:
            return text
    img = node if node.tag == "img" else node.css_first("img")
    alt = attr(img, "alt") or attr(math, "alttext")
    if not alt.strip():
        return None if img is None and math is None else ""
    return readable_tex(alt)


def readable_tex(tex: str) -> str:
    """TeX as MediaWiki gives it in alt texts, without its {\\displaystyle …} wrapper."""
    tex = tex.strip()
    match = _STYLE_WRAPPER.match(tex)
    if match and _balanced(match.group(1)):
        tex = match.group(1)
    return norm(tex)


def mathml_text(math: LexborNode) -> str:
    """What a MathML formula shows, as plain text: its symbols in order, a fraction as a/b, a
    root as √x, a table's rows apart; never its annotations (the TeX source)."""
    return norm(_shown(math, 0).translate(_INVISIBLE))


def _shown(node: LexborNode, depth: int) -> str:
    tag = node.tag or ""
    if tag in _TOKENS:
        return node.text()
    if tag in _NOT_SHOWN:
        return ""
    if depth > _MAX_DEPTH:
        return node.text()
    # (element children only: text between MathML elements is white space, not shown)
    parts = [_shown(child, depth + 1) for child in node.iter()]
    if tag == "mfrac" and len(parts) == 2:
        return f"{_grouped(parts[0])}/{_grouped(parts[1])}"
    if tag == "msqrt":
        return "√" + _grouped("".join(parts))
    if tag == "mroot" and len(parts) == 2:
        return f"{parts[1]}√{_grouped(parts[0])}"
    if tag == "mtable":
        return "(" + "; ".join(p for p in parts if p) + ")"
    if tag in ("mtr", "mlabeledtr"):
        return ", ".join(p for p in parts if p)
    return "".join(parts)


def _grouped(text: str) -> str:
    """Text in parentheses when it is more than one number or name ("(a+b)", but "dx")."""
    text = text.strip()
    return text if len(text) <= 1 or text.isalnum() else f"({text})"


def _balanced(tex: str) -> bool:
    depth = 0
    escaped = False
    for char in tex:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _is_wrapper(node: LexborNode) -> bool:
    value = node.attributes.get("class")
    return bool(value) and _WRAPPER in (value or "").split()


def _is_display(node: LexborNode) -> bool:
    """A formula set apart (display mode): spaced from the text around it."""
    return node.tag == "div" or "display" in attr(node, "class")


def _inside_wrapper(node: LexborNode) -> bool:
    """True when a formula wrapper holds `node` (within the few levels a formula has)."""
    parent = node.parent
    for _ in range(4):
        if parent is None:
            return False
        if _is_wrapper(parent):
            return True
        parent = parent.parent
    return False
