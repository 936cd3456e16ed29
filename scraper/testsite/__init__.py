"""The built-in encyclopedia site (`scraper testsite`): the test bed of tests, demo and benchmarks.

    from scraper.testsite import TestSite, SiteModel, render_listing, render_article

    with TestSite(pages=50) as site:          # serves on 127.0.0.1, a free port (hosts=N:
                                              # on 127.0.0.1 .. 127.0.0.N, topics spread)
        site.url("/related/NATO")
        site.edit("NATO", append_sentence="A new sentence.")
        site.add_fault("status", "^/related/Cold_War", status=503, count=2)
        site.stats().count("/related/NATO")

    render_listing(SiteModel(seed=1), "NATO", markup="table")   # pure: bytes of one page
"""

from scraper.testsite.articles import render_article
from scraper.testsite.content import MARKUPS, SiteModel, Topic, info_path, related_path
from scraper.testsite.fault_urls import FAULT_URLS
from scraper.testsite.faults import KINDS as FAULT_KINDS
from scraper.testsite.faults import FaultRule
from scraper.testsite.pages import ROBOTS_TXT, render_listing
from scraper.testsite.server import TestSite
from scraper.testsite.stats import (
    RequestRecord,
    SiteStats,
    max_overlap_per_host,
    min_start_gap_per_host,
)

__all__ = [
    "FAULT_KINDS", "FAULT_URLS", "MARKUPS", "ROBOTS_TXT", "FaultRule", "RequestRecord",
    "SiteModel", "SiteStats", "TestSite", "Topic", "info_path", "max_overlap_per_host",
    "min_start_gap_per_host", "related_path", "render_article", "render_listing",
]
