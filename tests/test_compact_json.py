"""compact_json writes the very bytes json.dumps wrote before it, so content hashes hold."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from scraper.compact_json import compact_json
from scraper.models import Link, Page, content_hash

# Any text but lone surrogates, which neither writes as UTF-8.
texts = st.text(st.characters(exclude_categories=["Cs"]))
scalars = st.none() | st.booleans() | texts | st.integers(-(2**70), 2**70)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner,
                                                                         max_size=4),
    max_leaves=20)


def reference(data: Any, sort_keys: bool) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys,
                      default=str).encode("utf-8")


@given(values, st.booleans())
def test_the_bytes_are_those_of_json_dumps(data: Any, sort_keys: bool) -> None:
    assert compact_json(data, sort_keys=sort_keys) == reference(data, sort_keys)


def test_control_characters_big_integers_and_other_types() -> None:
    data = {"b": "".join(map(chr, range(0x30))) + "\x7f\u2028é\U0001f600", "a": [10**30, 2**63],
            "c": frozenset()}
    assert compact_json(data, sort_keys=True) == reference(data, True)


def test_a_content_hash_made_by_earlier_releases_still_matches() -> None:
    # The hash of this page as json.dumps made it (release 1): a stored version keeps it.
    page = Page("http://t/a", kind="article", title="Zebra\u00e9", summary="Stripes ...",
                summary_truncated=True, text="A\n\nB", revision_id=12,
                links=(Link("http://t/b", "B", "related"),), categories=("Equids",),
                infobox=(("Order", "Perissodactyla"),))
    assert content_hash(page) == (
        "62300f331bb5a6bb24f32fb7ae3e7fd8805b19b2d286dd67de59fcd4f2d0b5f3")
