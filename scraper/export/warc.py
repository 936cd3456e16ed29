"""WARC output (warcio): each version as a `response` record plus a `metadata` record of its fields.

The archive keeps the body as the client received it after decoding any Content-Encoding
(gzip, br, ...) and de-chunking. The response record therefore holds exactly those bytes, and
the headers that described the wire form are renamed so that WARC readers and replay tools do
not try to decode the body again: Content-Encoding and Transfer-Encoding become
X-Archive-Orig-Content-Encoding / X-Archive-Orig-Transfer-Encoding, and Content-Length is set
to the body's length (the original kept as X-Archive-Orig-Content-Length when it differed).
This is the convention of pywb and other replay tools for rewritten headers.

The metadata record is JSON (`application/json`) under its own URI, `urn:scraper:fields:`
followed by the response's WARC-Target-URI verbatim, and points at the response with
WARC-Refers-To (the record it describes) and WARC-Concurrent-To (same capture). Why not the
page's own URI: pywb's indexer (pywb/indexer/archiveindexer.py, cdxindexer.py) indexes every
metadata record under its WARC-Target-URI unless its Content-Type is application/warc-fields
(or Heritrix 1's text/anvl), and at equal URL and timestamp the JSON record sorted first, so
pywb replayed the fields instead of the page. application/warc-fields (Heritrix 3's way) would
mean flattening the nested fields into `name: value` lines that no JSON reader takes; a URI
of its own keeps the body plain JSON, and is what Browsertrix (`urn:pageinfo:<url>`) and wpull
do for their JSON records. ReplayWeb.page indexes metadata records only under `metadata://`
URIs, so it skips these either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from typing import Any, BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from scraper import __version__
from scraper.models import Page, Snapshot, page_to_dict
from scraper.timeutil import iso

WARC_VERSION = "WARC/1.1"  # 1.1 allows WARC-Date with microseconds, as the archive keeps them
ORIG_PREFIX = "X-Archive-Orig-"
FIELDS_URI_PREFIX = "urn:scraper:fields:"
_RENAMED = frozenset({"content-encoding", "transfer-encoding"})


def status_line(status: int) -> str:
    """`200 OK`: the archive keeps the status code, so the reason is the standard phrase."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"{status} {phrase}".rstrip()


def http_headers_for(headers: Sequence[tuple[str, str]], body: bytes
                     ) -> list[tuple[str, str]]:
    """The response's headers as they describe the stored (decoded) body."""
    out: list[tuple[str, str]] = []
    length_seen = False
    for name, value in headers:
        lname = name.lower()
        if lname in _RENAMED:
            out.append((ORIG_PREFIX + name, value))
        elif lname == "content-length":
            length_seen = True
            if value.strip() != str(len(body)):
                out.append((ORIG_PREFIX + name, value))
            out.append(("Content-Length", str(len(body))))
        else:
            out.append((name, value))
    if not length_seen:
        out.append(("Content-Length", str(len(body))))
    return out


def fields_uri(target_uri: str) -> str:
    """The metadata record's URI for the response at `target_uri`: never a URL replay looks up."""
    return FIELDS_URI_PREFIX + target_uri


def warc_date(when: datetime) -> str:
    return str(datetime_to_iso_date(when.astimezone(UTC).replace(tzinfo=None),
                                    use_micros=True))


def metadata_fields(site: str, snap: Snapshot, page: Page) -> dict[str, Any]:
    """What the metadata record carries: the version's archive fields and everything extracted."""
    return {
        "site": site,
        "url": snap.url,
        "version": snap.version,
        "fetched_at": iso(snap.fetched_at),
        "status": snap.status,
        "final_url": snap.final_url,
        "content_hash": snap.content_hash,
        "body_hash": snap.body_hash,
        "revision_id": snap.revision_id,
        "revision_timestamp": snap.revision_timestamp,
        "etag": snap.etag,
        "last_modified": snap.last_modified,
        "change_gist": snap.change_gist,
        "page": page_to_dict(page),
    }


class WarcWriter:
    """Writes a warcinfo record, then a response + metadata pair per version.

    :param gzip: compress each record on its own (the `.warc.gz` convention).
    """

    def __init__(self, stream: BinaryIO, *, gzip: bool, filename: str | None = None,
                 description: str = "") -> None:
        self.stream = stream
        self._writer = WARCWriter(stream, gzip=gzip, warc_version=WARC_VERSION)
        self.records = 0
        info = {
            "software": f"scraper/{__version__} (warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
                          "warc-format/warc-1.1/",
            "description": description,
        }
        self._writer.write_record(self._writer.create_warcinfo_record(filename or "", info))

    def write_version(self, site: str, snap: Snapshot, page: Page, body: bytes,
                      headers: Sequence[tuple[str, str]]) -> None:
        uri = snap.final_url or snap.url
        date = warc_date(snap.fetched_at)
        http_headers = StatusAndHeaders(status_line(snap.status), http_headers_for(headers, body),
                                        protocol="HTTP/1.1")
        response = self._writer.create_warc_record(
            uri, "response", payload=BytesIO(body), length=len(body),
            http_headers=http_headers, warc_headers_dict={"WARC-Date": date},
        )
        self._writer.write_record(response)
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        meta = json.dumps(metadata_fields(site, snap, page), ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        metadata = self._writer.create_warc_record(
            fields_uri(uri), "metadata", payload=BytesIO(meta), length=len(meta),
            warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": response_id,
                               "WARC-Concurrent-To": response_id},
        )
        self._writer.write_record(metadata)
        self.records += 1

    def close(self) -> None:
        self.stream.flush()
