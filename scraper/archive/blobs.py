"""Content-addressed, zstd-compressed blobs with delta chains: the encoding (pure) and the
store that plans chains and caches reads over a backend's blob rows (BlobRows)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

import zstandard as zstd

# zstd level for full copies and deltas. Measured by tests/bench/bench_storage.py on 100 KB
# pages: levels 12+ switch to binary-tree match finders whose cost of loading a 100 KB
# dictionary is 10-40 ms per delta, for deltas only 5-15% smaller; full copies gain 1-4%.
DEFAULT_LEVEL = 9
# A page's first version has nothing to be a delta of; it is written once per page during a
# crawl's first pass, where compression time is most of the archive's cost (about 1.1 ms at
# level 9 against 0.2 ms at level 3 for a 60 KB page, for 10% more bytes on that one copy).
FIRST_COPY_LEVEL = 3
# A deeper match search than level 9's own (5) finds most of what the slow levels find in a
# delta (-8% bytes on scattered word edits) for ~1 ms.
DELTA_SEARCH_LOG = 8
# K: no read needs more than this many decompressions. With the two-level chains below, 20
# keeps one full copy per 110 versions, and the slowest read of a 100 KB page near 1.5 ms.
DEFAULT_FULL_COPY_EVERY = 20
# A delta this small relative to the raw body is kept without trying a full copy.
CLEARLY_CLOSE = 0.02
# Otherwise a delta is kept only when it is this much smaller than a full copy: a delta
# lengthens the chain every read walks, so it must pay for itself.
DELTA_MUST_BEAT = 0.7
# Decompressed bodies kept in memory so that walking consecutive versions decompresses each once.
CACHE_BYTES = 32 * 1024 * 1024


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# A ZstdCompressor must not be used by two threads at once (it crashes), and a crawl
# compresses on its parse threads and its archive thread: one set per thread.
_compressors = threading.local()


def compress_full(raw: bytes, level: int = DEFAULT_LEVEL) -> bytes:
    mine: dict[int, zstd.ZstdCompressor] | None = getattr(_compressors, "by_level", None)
    if mine is None:
        mine = _compressors.by_level = {}
    compressor = mine.get(level)
    if compressor is None:
        compressor = mine[level] = zstd.ZstdCompressor(level=level)
    return compressor.compress(raw)


def _delta_params(level: int, size: int, dict_size: int) -> zstd.ZstdCompressionParameters:
    # Sized for source plus dictionary, so the window reaches back over the whole base.
    params = zstd.ZstdCompressionParameters.from_level(level, source_size=size,
                                                       dict_size=dict_size)
    if params.strategy <= zstd.STRATEGY_LAZY2 and params.search_log < DELTA_SEARCH_LOG:
        params = zstd.ZstdCompressionParameters.from_level(
            level, source_size=size, dict_size=dict_size, search_log=DELTA_SEARCH_LOG)
    return params


def _raw_dict(base: bytes) -> zstd.ZstdCompressionDict:
    return zstd.ZstdCompressionDict(base, dict_type=zstd.DICT_TYPE_RAWCONTENT)


def compress_delta(raw: bytes, base: bytes, level: int = DEFAULT_LEVEL) -> bytes:
    """`raw` compressed with `base` as a raw-content dictionary: small when the two are close."""
    params = _delta_params(level, len(raw), len(base))
    return zstd.ZstdCompressor(compression_params=params, dict_data=_raw_dict(base)).compress(raw)


def decompress(data: bytes, base: bytes | None) -> bytes:
    """The inverse of compress_full (base None) and compress_delta."""
    if base is None:
        return zstd.ZstdDecompressor().decompress(data)
    return zstd.ZstdDecompressor(dict_data=_raw_dict(base)).decompress(data)


@dataclass(frozen=True, slots=True)
class FullCopy:
    """Bytes compressed whole ahead of time, for BlobStore.put when they start a chain."""

    hash: str  # sha256 of the raw bytes
    size: int  # of the raw bytes
    data: bytes
    level: int


def full_copy(raw: bytes, level: int) -> FullCopy:
    return FullCopy(sha256_hex(raw), len(raw), compress_full(raw, level), level)


@dataclass(frozen=True, slots=True)
class ChainLink:
    """Where a stored blob sits in its delta chain."""

    hash: str
    depth: int  # decompressions needed to read it (1: a full copy)
    keyframe: bool  # a full copy, or a delta against another keyframe
    base: str | None


@dataclass(frozen=True, slots=True)
class DeltaPlan:
    """The base a new blob should be compressed against (None: a full copy)."""

    base: ChainLink | None
    keyframe: bool

    @property
    def depth(self) -> int:
        return 1 if self.base is None else self.base.depth + 1


def plan_delta(previous: ChainLink | None, keyframe: ChainLink | None, max_depth: int) -> DeltaPlan:
    """Choose the base of a page's next blob so that no read needs more than `max_depth` steps.

    Two levels: versions chain one after the other in groups of `max_depth // 2`; the first
    version of a group is a *keyframe*, stored as a delta against the previous keyframe, and
    keyframes chain until the depth bound forces a full copy. Against a plain chain with a full
    copy every `max_depth` versions this stores far fewer full copies for the same read bound.

    :param previous: the page's previous blob; None for a page's first version.
    :param keyframe: the nearest keyframe on `previous`'s chain (`previous` itself if it is one).
    """
    group = max(1, max_depth // 2)
    if previous is None or keyframe is None:
        return DeltaPlan(None, True)
    in_group = previous.depth - keyframe.depth  # versions after the keyframe on this chain
    if in_group + 1 < group and previous.depth + 1 <= max_depth:
        return DeltaPlan(previous, False)
    if keyframe.depth + group <= max_depth:
        return DeltaPlan(keyframe, True)
    return DeltaPlan(None, True)


@dataclass(frozen=True, slots=True)
class Encoded:
    data: bytes
    base: str | None
    depth: int
    keyframe: bool


def encode(raw: bytes, plan: DeltaPlan, base_raw: bytes | None,
           level: int = DEFAULT_LEVEL) -> Encoded:
    """Compress `raw` as planned, falling back to a full copy when the delta does not pay."""
    if plan.base is None or base_raw is None:
        return Encoded(compress_full(raw, level), None, 1, True)
    delta = compress_delta(raw, base_raw, level)
    if len(delta) <= CLEARLY_CLOSE * len(raw):
        return Encoded(delta, plan.base.hash, plan.depth, plan.keyframe)
    full = compress_full(raw, level)
    if len(delta) < DELTA_MUST_BEAT * len(full):
        return Encoded(delta, plan.base.hash, plan.depth, plan.keyframe)
    return Encoded(full, None, 1, True)


class BlobRows(Protocol):
    """A backend's blob table, one row per blob, written in the caller's transaction."""

    def link(self, blob_hash: str) -> ChainLink | None:
        """Where the blob `blob_hash` sits in its chain; None when it is not stored."""
        ...

    def has(self, blob_hash: str) -> bool:
        """Whether a blob `blob_hash` is stored."""
        ...

    def stored(self, blob_hash: str) -> tuple[bytes, str | None] | None:
        """The blob's stored bytes and the hash of its delta base (None: a full copy);
        None when it is not stored."""
        ...

    def insert(self, blob_hash: str, kind: str, size: int, encoded: Encoded,
               created_at: str) -> None:
        """Store a new blob: `size` bytes raw, kept as `encoded`."""
        ...


class BlobStore:
    """Put raw bytes (deduplicated by sha256) into a backend's blob rows, get them back exactly.

    Callers own the transaction; a put is only durable when the caller commits.
    """

    def __init__(self, rows: BlobRows, *, max_depth: int, level: int = DEFAULT_LEVEL) -> None:
        if max_depth < 1:
            raise ValueError(f"full_copy_every must be >= 1, got {max_depth}")
        self.rows = rows
        self.max_depth = max_depth
        self.level = level
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_bytes = 0

    def _keyframe_of(self, start: ChainLink) -> ChainLink:
        link = start
        while not link.keyframe and link.base is not None:
            parent = self.rows.link(link.base)
            if parent is None:
                break
            link = parent
        return link

    def put(self, raw: bytes, kind: str, previous: str | None, created_at: str, *,
            ready: FullCopy | None = None) -> tuple[str, int]:
        """Store `raw` unless present; returns (sha256, bytes added to the table).

        :param previous: the hash of the blob this one follows (the page's previous version).
        :param ready: `raw` compressed whole ahead of time (scraper.archive.encode); used
            when a full copy at that level is what this put would store.
        """
        blob_hash = ready.hash if ready is not None else sha256_hex(raw)
        if self.rows.has(blob_hash):
            return blob_hash, 0
        prev_link = self.rows.link(previous) if previous is not None else None
        key_link = self._keyframe_of(prev_link) if prev_link is not None else None
        plan = plan_delta(prev_link, key_link, self.max_depth)
        level = min(self.level, FIRST_COPY_LEVEL) if prev_link is None else self.level
        if plan.base is None and ready is not None and ready.level == level:
            enc = Encoded(ready.data, None, 1, True)
        else:
            base_raw = self.get(plan.base.hash) if plan.base is not None else None
            enc = encode(raw, plan, base_raw, level)
        self.rows.insert(blob_hash, kind, len(raw), enc, created_at)
        self._remember(blob_hash, raw)
        return blob_hash, len(enc.data)

    def get(self, blob_hash: str) -> bytes:
        """The exact bytes stored under `blob_hash`.

        Raises LookupError if absent and ValueError if the chain is broken or the bytes do
        not hash to `blob_hash` (the caller turns both into ArchiveError with the URL).
        """
        cached = self._cache.get(blob_hash)
        if cached is not None:
            self._cache.move_to_end(blob_hash)
            return cached
        # Walk up to a full copy or a cached ancestor, then decompress back down.
        pending: list[tuple[str, bytes]] = []
        current: str | None = blob_hash
        base_raw: bytes | None = None
        while current is not None:
            hit = self._cache.get(current)
            if hit is not None:
                base_raw = hit
                break
            row = self.rows.stored(current)
            if row is None:
                if current == blob_hash:
                    raise LookupError(f"no blob {blob_hash}")
                raise ValueError(f"blob {blob_hash}: its delta base {current} is missing")
            pending.append((current, row[0]))
            current = row[1]
            if len(pending) > self.max_depth + 64:
                raise ValueError(f"blob {blob_hash}: delta chain longer than expected (a cycle?)")
        for name, data in reversed(pending):
            try:
                base_raw = decompress(data, base_raw)
            except zstd.ZstdError as exc:
                raise ValueError(f"blob {name} cannot be decompressed: {exc}") from exc
        assert base_raw is not None
        if sha256_hex(base_raw) != blob_hash:
            raise ValueError(f"blob {blob_hash}: the stored bytes do not match their hash")
        self._remember(blob_hash, base_raw)
        return base_raw

    def _remember(self, blob_hash: str, raw: bytes) -> None:
        if len(raw) > CACHE_BYTES // 4 or blob_hash in self._cache:
            return
        self._cache[blob_hash] = raw
        self._cache_bytes += len(raw)
        while self._cache_bytes > CACHE_BYTES:
            _, dropped = self._cache.popitem(last=False)
            self._cache_bytes -= len(dropped)

    def forget(self) -> None:
        """Drop the cache (after a rollback, blobs remembered by the failed put are not stored)."""
        self._cache.clear()
        self._cache_bytes = 0
