"""Change reports over the archive: diffs between stored versions, and what changed when."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scraper.archive import ArchiveBackend
from scraper.diff import PageDiff, diff_pages
from scraper.errors import ArchiveError
from scraper.models import Snapshot
from scraper.timeutil import from_iso, iso

log = logging.getLogger(__name__)

VersionSpec = int | datetime | None  # a version number, the version current at a time, or default


# -- one page ----------------------------------------------------------------------------

def resolve_version(archive: ArchiveBackend, url: str, spec: int | datetime,
                    history: list[Snapshot]) -> int:
    """The version number `spec` names: a number that exists, or the version current then."""
    first, last = history[0].version, history[-1].version
    if isinstance(spec, datetime):
        version = archive.version_at(url, spec)
        if version is None:
            raise ArchiveError(archive.path, f"{url} had no version yet at {iso(spec)} (its "
                                             f"first was fetched {iso(history[0].fetched_at)})")
        return version
    if not any(s.version == spec for s in history):
        raise ArchiveError(archive.path,
                           f"{url} has no version {spec} (versions {first} to {last})")
    return spec


def diff_versions(archive: ArchiveBackend, url: str, old: VersionSpec = None,
                  new: VersionSpec = None) -> PageDiff:
    """The diff between two stored versions of `url`.

    Defaults: `new` is the latest version, `old` the one before `new`. A datetime names the
    version that was current then. Unknown URLs and versions raise ArchiveError naming them.
    """
    history = archive.history(url)
    if not history:
        raise ArchiveError(archive.path, f"{url} has no stored version")
    new_version = history[-1].version if new is None else resolve_version(archive, url, new,
                                                                          history)
    if old is None:
        if new_version == history[0].version:
            raise ArchiveError(archive.path,
                               f"{url} has no version before version {new_version} to compare "
                               "with (use --from and --to to name two versions)")
        old_version = new_version - 1
    else:
        old_version = resolve_version(archive, url, old, history)
    by_version = {s.version: s for s in history}
    return diff_pages(archive.page(url, old_version), archive.page(url, new_version),
                      old_meta=by_version[old_version], new_meta=by_version[new_version])


def version_gist(archive: ArchiveBackend, url: str, snap: Snapshot) -> str:
    """What version `snap` changed from the one before: its stored gist, else computed."""
    if snap.change_gist:
        return snap.change_gist
    if snap.version <= 1:
        return "first version"
    return diff_pages(archive.page(url, snap.version - 1), archive.page(url, snap.version)).gist()


# -- the changes report ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class VersionChange:
    version: int
    fetched_at: datetime
    revision_id: int | None
    gist: str


@dataclass(frozen=True, slots=True)
class PageChanges:
    """A page with new versions in the period (version 1 excluded: that is a new page)."""

    url: str
    site: str
    title: str
    versions: tuple[VersionChange, ...]  # oldest first
    gist: str  # one line: the single version's gist, or the net change over the period

    @property
    def count(self) -> int:
        return len(self.versions)


@dataclass(frozen=True, slots=True)
class PageEvent:
    """A page newly seen, or gone (404/410 after having existed), in the period."""

    url: str
    site: str
    title: str
    at: datetime | None
    version: int | None


@dataclass(frozen=True, slots=True)
class ChangesReport:
    since: datetime
    until: datetime | None
    site: str | None
    changed: tuple[PageChanges, ...]
    new: tuple[PageEvent, ...]
    gone: tuple[PageEvent, ...]


def changes_report(archive: ArchiveBackend, since: datetime, until: datetime | None = None,
                   site: str | None = None) -> ChangesReport:
    """Pages changed, newly seen and gone in [since, until), optionally of one site."""
    grouped: dict[str, tuple[str, list[Snapshot]]] = {}
    for page_site, snap in archive.versions_between(since, until, site):
        if snap.version > 1:
            grouped.setdefault(snap.url, (page_site, []))[1].append(snap)
    changed = []
    for url, (page_site, snaps) in sorted(grouped.items()):
        versions = tuple(VersionChange(s.version, s.fetched_at, s.revision_id,
                                       version_gist(archive, url, s)) for s in snaps)
        if len(snaps) == 1:
            gist = versions[0].gist
        else:
            # Several versions: the net change from before the period to its last version.
            gist = diff_pages(archive.page(url, snaps[0].version - 1),
                              archive.page(url, snaps[-1].version)).gist()
        title = archive.page(url, snaps[-1].version).title
        changed.append(PageChanges(url, page_site, title, versions, gist))
    return ChangesReport(
        since=since, until=until, site=site, changed=tuple(changed),
        new=_events(archive.new_pages(since, site), "first_seen", until, version_key=None),
        gone=_events(archive.gone_pages(since, site), "gone_at", until,
                     version_key="current_version"),
    )


def _events(rows: list[dict[str, Any]], time_key: str, until: datetime | None,
            version_key: str | None) -> tuple[PageEvent, ...]:
    out = []
    for row in rows:
        at = from_iso(row[time_key]) if row.get(time_key) else None
        if until is not None and at is not None and at >= until:
            continue
        version = row.get(version_key) if version_key else 1
        out.append(PageEvent(row["url"], row.get("site") or "", row.get("title") or "", at,
                             version))
    return tuple(out)


def report_to_json(report: ChangesReport) -> dict[str, Any]:
    """The report as JSON-ready data (documented in docs/diff.md)."""
    return {
        "since": iso(report.since),
        "until": iso(report.until) if report.until else None,
        "site": report.site,
        "changed": [{
            "url": p.url, "site": p.site, "title": p.title, "new_versions": p.count,
            "gist": p.gist,
            "versions": [{"version": v.version, "fetched_at": iso(v.fetched_at),
                          "revision_id": v.revision_id, "gist": v.gist} for v in p.versions],
        } for p in report.changed],
        "new": [_event_json(e) for e in report.new],
        "gone": [_event_json(e) for e in report.gone],
    }


def _event_json(event: PageEvent) -> dict[str, Any]:
    return {"url": event.url, "site": event.site, "title": event.title,
            "at": iso(event.at) if event.at else None, "version": event.version}


def _short(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M") if when else "-"


def report_text(report: ChangesReport) -> str:
    """The report for a person: changed pages, then new and gone pages, listed apart."""
    period = f"since {_short(report.since)} UTC" + (
        f" until {_short(report.until)} UTC" if report.until else "")
    lines = [f"Changes {period}" + (f", site {report.site}" if report.site else "")]
    lines += ["", f"Changed pages: {len(report.changed)}"]
    for p in report.changed:
        versions = f"{p.count} new version{'s' if p.count > 1 else ''}"
        lines.append(f"  {p.url}" + (f"  ({p.title})" if p.title else ""))
        lines.append(f"      {versions}, last {_short(p.versions[-1].fetched_at)}: {p.gist}")
    lines += ["", f"New pages: {len(report.new)}"]
    lines += [f"  {e.url}" + (f"  ({e.title})" if e.title else "")
              + f"  first seen {_short(e.at)}" for e in report.new]
    lines += ["", f"Gone pages: {len(report.gone)}"]
    lines += [f"  {e.url}" + (f"  ({e.title})" if e.title else "") + f"  gone {_short(e.at)}"
              for e in report.gone]
    return "\n".join(lines) + "\n"
