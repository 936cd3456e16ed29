"""The sitemap keys of a config: `sitemaps:` and `start:`, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper.config import CrawlConfig, config_to_yaml, load_config, load_config_text
from scraper.errors import ConfigError


def test_sitemaps_alone_seed_a_config_whose_scope_is_their_hosts() -> None:
    cfg = load_config_text("name: s\nsitemaps: ['https://example.org/sitemap.xml']\n", "s.yaml")
    assert cfg.start_urls == ()
    assert cfg.sitemaps == ("https://example.org/sitemap.xml",)
    assert cfg.start == "urls"
    assert cfg.scope.domains == ("example.org",)
    assert load_config_text(config_to_yaml(cfg), "s.yaml") == cfg
    # The start URLs' hosts and the sitemaps' are the scope when it names none.
    both = load_config_text("name: s\nstart_urls: ['https://example.org/']\n"
                            "sitemaps: ['https://maps.example.net/s.xml']\n")
    assert both.scope.domains == ("example.org", "maps.example.net")


def test_start_sitemap_with_start_urls() -> None:
    cfg = load_config_text("name: s\nstart_urls: ['https://example.org/']\nstart: sitemap\n")
    assert cfg.start == "sitemap"
    assert load_config_text(config_to_yaml(cfg)) == cfg


@pytest.mark.parametrize(("text", "message"), [
    ("name: s\nsitemaps: https://example.org/s.xml\n",
     "s.yaml:2: sitemaps: must be a list"),
    ("name: s\nsitemaps:\n  - https://example.org/s.xml\n  - ftp://example.org/s.xml\n",
     "s.yaml:4: sitemaps[1]: "),
    ("name: s\nscope: {domains: [example.org]}\nsitemaps: ['https://other.org/s.xml']\n",
     ("s.yaml:3: sitemaps[0]: 'https://other.org/s.xml': its host 'other.org' is not in "
     "scope.domains (example.org)")),
    ("name: s\nstart_urls: ['https://example.org/']\nstart: robots\n",
     "s.yaml:3: start: must be one of urls, sitemap, got 'robots'"),
    ("name: s\nsitemaps: ['https://example.org/s.xml']\nstart: sitemap\n",
     "s.yaml:3: start: `start: sitemap` reads the robots.txt of the start URLs' hosts"),
    ("name: s\n", ("s.yaml:1: start_urls: missing: every config needs a name and start_urls"
                  " (or sitemaps)")),
    (("name: s\nstart_urls: ['https://example.org/']\nsource: mediawiki\n"
     "sitemaps: ['https://example.org/s.xml']\n"),
     "s.yaml:4: sitemaps: only used with `source: html`"),
])
def test_bad_sitemap_keys_are_refused_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "s.yaml")
    assert str(caught.value).startswith(message), str(caught.value)


def test_both_keys_set_to_other_than_their_defaults_load(tmp_path: Path) -> None:
    """every_key.yaml cannot hold them (its source is a wiki): here they are, from a file."""
    path = tmp_path / "every.yaml"
    path.write_text("name: s\nstart_urls: ['https://example.org/']\nstart: sitemap\n"
                    "sitemaps: ['https://example.org/sitemap.xml', "
                    "'https://example.org/news.xml.gz']\n")
    cfg = load_config(str(path))
    assert cfg.start == "sitemap" != CrawlConfig(name="x", start_urls=()).start
    assert cfg.sitemaps == ("https://example.org/sitemap.xml", "https://example.org/news.xml.gz")
