"""Diffs between versions of a page: the PageDiff record, word diffs and their renderings."""

from __future__ import annotations

from scraper.diff.engine import (
    EntryChange,
    FieldChange,
    PageDiff,
    TextChange,
    diff_pages,
    text_change,
)
from scraper.diff.paragraphs import ParagraphOp, TextDiff, diff_text, split_paragraphs
from scraper.diff.render import (
    DIFF_JSON_VERSION,
    diff_to_json,
    page_plain_text,
    render_html,
    render_text,
    render_unified,
)
from scraper.diff.sequences import diff_sequences
from scraper.diff.words import WordOp, diff_words, tokenize

__all__ = [
    "DIFF_JSON_VERSION",
    "EntryChange",
    "FieldChange",
    "PageDiff",
    "ParagraphOp",
    "TextChange",
    "TextDiff",
    "WordOp",
    "diff_pages",
    "diff_sequences",
    "diff_text",
    "diff_to_json",
    "diff_words",
    "page_plain_text",
    "render_html",
    "render_text",
    "render_unified",
    "split_paragraphs",
    "text_change",
    "tokenize",
]
