"""Blob storage: delta chains read back byte-identical for any K, depth bounds, dedup."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scraper.archive import Archive
from scraper.archive.blobs import (
    ChainLink,
    DeltaPlan,
    compress_delta,
    compress_full,
    decompress,
    encode,
    plan_delta,
)
from scraper.models import FetchResult, Page

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def fetch(url: str, body: bytes, at: datetime) -> FetchResult:
    return FetchResult(url, url, 200, (("Content-Type", "text/html"),), body, at, 0.01)


def chain_lengths(archive: Archive) -> dict[str, int]:
    """Decompressions each blob needs, found by walking `base` pointers (not trusting `depth`)."""
    bases = dict(archive.conn.execute("SELECT hash, base FROM blobs").fetchall())
    lengths = {}
    for blob_hash in bases:
        steps, current = 0, blob_hash
        while current is not None:
            steps += 1
            current = bases[current]
        lengths[blob_hash] = steps
    return lengths


# An edit: (position as a fraction of the body, bytes removed, bytes inserted).
edits = st.tuples(st.floats(0, 1), st.integers(0, 200), st.binary(max_size=120))


def apply_edits(body: bytes, ops: list[tuple[float, int, bytes]]) -> bytes:
    for where, removed, inserted in ops:
        at = int(where * len(body))
        body = body[:at] + inserted + body[at + removed:]
    return body


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    k=st.integers(1, 20),
    seed_text=st.binary(min_size=0, max_size=3000),
    repeat=st.integers(1, 8),
    chain=st.lists(st.lists(edits, min_size=0, max_size=4), min_size=1, max_size=30),
)
def test_random_edit_chains_read_back_byte_identical_for_any_k(
    k: int, seed_text: bytes, repeat: int, chain: list[list[tuple[float, int, bytes]]],
) -> None:
    archive = Archive.memory(full_copy_every=k)
    run = archive.start_run(["s"], {}, T0)
    body = seed_text * repeat  # repetition makes bodies compressible, like HTML
    bodies = []
    for number, ops in enumerate(chain):
        body = apply_edits(body, ops)
        bodies.append(body)
        # A new summary each time, so every fetch makes a version even if the body repeats.
        page = Page("http://t/p", title="P", summary=f"edit {number}")
        archive.save(run, "s", fetch("http://t/p", body, T0 + timedelta(minutes=number)), page,
                     next_due=T0)
    assert [s.version for s in archive.history("http://t/p")] == list(range(1, len(chain) + 1))
    for version, expected in enumerate(bodies, start=1):
        assert archive.body("http://t/p", version) == expected
        assert archive.snapshot("http://t/p", version).body_hash == hashlib.sha256(
            expected).hexdigest()
    # Reading any version needs at most K decompressions, and `depth` says so truthfully.
    lengths = chain_lengths(archive)
    assert max(lengths.values()) <= k
    for blob_hash, depth in archive.conn.execute("SELECT hash, depth FROM blobs"):
        assert lengths[blob_hash] == depth
    # A fresh connection (no cache) reads the same bytes.
    archive.blobs.forget()
    assert archive.body("http://t/p", len(bodies)) == bodies[-1]


def test_close_versions_are_stored_as_small_deltas() -> None:
    rng = random.Random(7)
    words = [f"word{i}" for i in range(500)]
    text = [rng.choice(words) for _ in range(8000)]
    archive = Archive.memory(full_copy_every=16)
    run = archive.start_run(["s"], {}, T0)
    raw_total = 0
    for number in range(20):
        text[rng.randrange(len(text))] = rng.choice(words)
        body = " ".join(text).encode()
        raw_total += len(body)
        archive.save(run, "s", fetch("http://t/a", body, T0 + timedelta(hours=number)),
                     Page("http://t/a", summary=str(number)), next_due=T0)
    stats = archive.stats()
    assert stats["delta_blobs"] >= 15
    full = len(compress_full(body))
    assert stats["bytes_stored"] < 3 * full  # 20 versions cost little more than one copy
    assert stats["bytes_fetched"] == raw_total


def test_identical_bodies_across_pages_share_one_blob() -> None:
    archive = Archive.memory()
    run = archive.start_run(["s"], {}, T0)
    body = b"<html><body>the same bytes served at two addresses</body></html>" * 20
    first = archive.save(run, "s", fetch("http://t/a", body, T0), Page("http://t/a", title="A"),
                         next_due=T0)
    second = archive.save(run, "s", fetch("http://t/b", body, T0), Page("http://t/b", title="B"),
                          next_due=T0)
    assert first.body_hash == second.body_hash
    assert first.stored_bytes > 0
    body_rows = archive.conn.execute(
        "SELECT count(*) FROM blobs WHERE kind = 'body'").fetchone()[0]
    assert body_rows == 1
    assert archive.body("http://t/b") == body
    assert archive.stats()["blobs"] == 1


def test_plan_delta_keeps_every_chain_within_the_bound() -> None:
    for k in range(1, 21):
        links: list[ChainLink] = []
        for number in range(200):
            previous = links[-1] if links else None
            keyframe = previous
            while keyframe is not None and not keyframe.keyframe:
                keyframe = next(link for link in links if link.hash == keyframe.base)
            plan = plan_delta(previous, keyframe, k)
            link = ChainLink(str(number), plan.depth, plan.keyframe,
                             plan.base.hash if plan.base else None)
            assert link.depth <= k
            links.append(link)
        fulls = sum(1 for link in links if link.base is None)
        if k >= 4:
            # Two levels: far fewer full copies than one every K versions.
            assert fulls < 200 / k


def test_encode_falls_back_to_a_full_copy_when_the_delta_does_not_pay() -> None:
    rng = random.Random(3)
    base = rng.randbytes(4000)
    unrelated = rng.randbytes(4000)
    link = ChainLink("b", 1, True, None)
    enc = encode(unrelated, DeltaPlan(link, False), base)
    assert enc.base is None and enc.depth == 1 and enc.keyframe
    close = base[:2000] + b"x" + base[2001:]
    enc = encode(close, DeltaPlan(link, False), base)
    assert enc.base == "b" and enc.depth == 2 and not enc.keyframe
    assert decompress(enc.data, base) == close


@pytest.mark.parametrize("raw", [b"", b"a", bytes(range(256)) * 50])
def test_compress_round_trips(raw: bytes) -> None:
    assert decompress(compress_full(raw), None) == raw
    assert decompress(compress_delta(raw, b"some base" * 10), b"some base" * 10) == raw


def test_a_damaged_blob_is_reported_not_returned() -> None:
    archive = Archive.memory()
    run = archive.start_run(["s"], {}, T0)
    body = b"<p>hello</p>" * 100
    archive.save(run, "s", fetch("http://t/a", body, T0), Page("http://t/a"), next_due=T0)
    archive.conn.execute("UPDATE blobs SET data = ? WHERE kind = 'body'",
                         (compress_full(b"other bytes"),))
    archive.blobs.forget()
    with pytest.raises(Exception, match="http://t/a.*do not match their hash"):
        archive.body("http://t/a")


def test_full_copies_from_many_threads_at_once() -> None:
    # A crawl compresses on its parse threads and its archive thread together; one shared
    # zstd compressor crashed the process.
    import threading

    from scraper.archive.blobs import compress_full, decompress

    bodies = [(b"<p>page %d</p>" % i) * 4000 for i in range(8)]
    wrong: list[int] = []

    def work(i: int) -> None:
        for _ in range(30):
            if decompress(compress_full(bodies[i], 3), None) != bodies[i]:
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
