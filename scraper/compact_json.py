"""Compact UTF-8 JSON for what the archive stores and hashes, made by orjson.

The bytes are those of json.dumps(data, ensure_ascii=False, separators=(",", ":")), which
earlier releases wrote: content hashes of stored versions stay valid, and a page that did not
change is not taken for a new version. orjson is 5-10x faster, and a crawl encodes every
page twice (its stored fields and its content hash).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def compact_json(data: Any, *, sort_keys: bool = False) -> bytes:
    """`data` as compact UTF-8 JSON; objects of other types are written as str(value)."""
    try:
        return orjson.dumps(data, default=str, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except orjson.JSONEncodeError:
        # orjson refuses integers beyond 64 bits (a hostile page may give a revision id of
        # 30 digits) and dict keys that are not strings; json writes both.
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys,
                          default=str).encode("utf-8")
