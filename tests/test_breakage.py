"""Parser-breakage alerts end to end: the built-in site changes its listing markup under a
crawl whose selectors were written for the old one."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from scraper.archive import Archive
from scraper.cli import main
from scraper.config import CrawlConfig, load_config_text
from scraper.crawl import CrawlLimits, RunResult, crawl
from scraper.testsite import TestSite


def selectors_config(site: TestSite) -> CrawlConfig:
    # Selectors for the `divs` markup: they match nothing once the site serves `table`.
    return load_config_text(textwrap.dedent(f"""\
        name: mirror
        start_urls: ["{site.url('/related/NATO')}"]
        parser: selectors
        selectors:
          entry: "div.entry"
          title: "div.entry-title"
          summary: "div.entry-summary"
          related: "a.related-items"
          more_info: "a.more-info"
        follow: [related]
        scope: {{include: ["^/related/"]}}
        max_depth: 1
        recrawl_after: 0s
        politeness: {{concurrency: 4, delay: 0}}
        network: {{allow_loopback: true}}
        """), "mirror.yaml")


def run(config: CrawlConfig, archive: Archive) -> RunResult:
    return asyncio.run(crawl([config], archive, limits=CrawlLimits()))[0]


def test_alert_when_the_markup_changes_under_the_selectors(tmp_path: Path) -> None:
    with TestSite(pages=30) as site, Archive.open(str(tmp_path / "a.db")) as archive:
        config = selectors_config(site)
        first = run(config, archive)
        assert first.stats.fetched >= 5 and first.alerts == ()
        site.markup = "table"
        broken = run(config, archive)
        rows = archive.last_run("mirror")
        base_url = site.base_url
    fields = {alert["field"] for alert in broken.alerts}
    assert "entries" in fields
    alert = next(a for a in broken.alerts if a["field"] == "entries")
    assert alert["site"] == "mirror"
    assert alert["examples"] and alert["examples"][0].startswith(base_url)
    assert alert["pages_emptied"] == alert["pages_compared"] == first.stats.fetched
    assert rows is not None and "entries" in json.dumps(rows.get("alerts"))


def test_no_alert_on_ordinary_edits(tmp_path: Path) -> None:
    with TestSite(pages=30) as site, Archive.open(str(tmp_path / "a.db")) as archive:
        config = selectors_config(site)
        run(config, archive)
        for name in ("NATO", "Cold War", "Warsaw Pact"):
            site.edit(name, summary=f"{name} was edited by the test. A new lead.")
        site.edit("NATO", remove_related="Partnership for Peace")
        edited = run(config, archive)
    assert edited.stats.new_versions >= 3
    assert edited.alerts == ()


def test_alert_reaches_the_summary_and_stats_show_fill_rates(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with TestSite(pages=30) as site:
        config = tmp_path / "mirror.yaml"
        config.write_text(textwrap.dedent(f"""\
            name: mirror
            start_urls: ["{site.url('/related/NATO')}"]
            parser: selectors
            selectors: {{entry: "div.entry", title: "div.entry-title",
                         summary: "div.entry-summary"}}
            follow: []
            recrawl_after: 0s
            network: {{allow_loopback: true}}
            politeness: {{delay: 0}}
            """))
        runner = CliRunner()
        # One page is too few to alert on; start five listing pages.
        text = config.read_text().replace(
            f'start_urls: ["{site.url("/related/NATO")}"]',
            "start_urls: [" + ", ".join(f'"{site.url("/related/" + s)}"'
                                        for s in site.model.slugs[:6]) + "]")
        config.write_text(text)
        assert runner.invoke(main, ["crawl", str(config), "--archive", str(db)]).exit_code == 0
        site.markup = "bare"
        result = runner.invoke(main, ["crawl", str(config), "--archive", str(db)])
    assert result.exit_code == 0
    assert "WARNING parser breakage: mirror: field 'entries'" in result.output
    stats = runner.invoke(main, ["stats", "--archive", str(db), "--format", "json"])
    assert "mirror" in stats.output and "entries" in stats.output
