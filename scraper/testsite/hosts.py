"""The built-in site on several loopback addresses as distinct hosts.

One site (same model, same content) listens on 127.0.0.1 .. 127.0.0.N, all on one port.
Each encyclopedia page has a home host: topic i's listing pages, article and image live on
host i mod N, a category on a host picked by a hash of its name, the home page on the first
host. Links to those pages are made absolute, pointing at the home host, so a crawl that
starts at the first host's /related/NATO reaches every host; a request for such a page on
another host is answered 404, so a link pointing at the wrong host shows. Everything else
(robots.txt, fault URLs, control endpoints, the out-of-scope pages) is served on every host.

With one host nothing is rewritten: the pages keep their root-relative links, byte for byte.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from urllib.parse import unquote

from scraper.testsite.content import SiteModel

FIRST_OCTET = 1  # the first host is 127.0.0.1, so that one host is the site as it always was
MAX_HOSTS = 254  # 127.0.0.1 .. 127.0.0.254


def host_addresses(count: int) -> tuple[str, ...]:
    """The loopback addresses of a site served on `count` hosts, first host first."""
    if not 1 <= count <= MAX_HOSTS:
        raise ValueError(f"hosts must be between 1 and {MAX_HOSTS}, got {count}")
    return tuple(f"127.0.0.{FIRST_OCTET + i}" for i in range(count))


def page_owner(model: SiteModel, path: str, hosts: int) -> int | None:
    """Which host (0-based) serves a decoded path, or None when every host serves it.

    A path naming no topic (an unknown slug) has no owner: every host answers it 404.
    """
    if path == "/":
        return 0
    slug = ""
    if path.startswith("/related/"):
        slug = path[9:]
    elif path.startswith("/info/"):
        slug = path[6:]
    elif path.startswith("/img/") and path.endswith(".jpg"):
        slug = path[5:-4]
    elif path.startswith("/category/") and len(path) > 10:
        # crc32, not hash(): the spread must not depend on PYTHONHASHSEED.
        return zlib.crc32(path[10:].encode("utf-8")) % hosts
    else:
        return None
    try:
        return model.index[model.find(slug.replace(" ", "_"))] % hosts
    except KeyError:
        return None


# href="/..." and src="/..." in the site's own markup (always double-quoted), to the paths
# page_owner may give a host: the others (/w/, /private/, ...) are many and stay as they are.
_LOCAL_LINK = re.compile(rb'(\b(?:href|src)=")(/(?:(?:related|info|img|category)/[^"]*)?)"')


def spread_links(body: bytes, owner: Callable[[str], int | None], origins: tuple[str, ...],
                 seen: dict[bytes, bytes] | None = None) -> bytes:
    """A page with every root-relative link to an owned page made absolute on its host.

    `owner` maps a decoded path to its host (page_owner); `origins` are the hosts'
    "http://127.0.0.k:port". Links to pages every host serves stay root-relative. `seen`
    keeps rewritten links from page to page (valid as long as `origins`): the pages of a
    site link the same few thousand paths over and over.
    """
    if seen is None:
        seen = {}

    def rewrite(match: re.Match[bytes]) -> bytes:
        link = match.group(2)
        done = seen.get(link)
        if done is None:
            raw_path = link.split(b"?", 1)[0].split(b"#", 1)[0].decode("utf-8", "replace")
            host = owner(unquote(raw_path, errors="replace"))
            done = seen[link] = link if host is None else origins[host].encode() + link
        return match.group(1) + done + b'"'

    return _LOCAL_LINK.sub(rewrite, body)


def crawl_config(name: str, start_url: str, hosts: tuple[str, ...], *, concurrency: int = 4,
                 delay: float = 0.05, max_depth: int = 50) -> str:
    """A crawl config (YAML) of the built-in site as config/testsite.yaml has it, with every
    host in scope.domains: a crawl limited to the first host would refuse the links to the
    others as out of scope. The crawler's concurrency and delay then hold per host."""
    return (
        f"name: {json.dumps(name)}\n"
        f"start_urls: [{json.dumps(start_url)}]\n"
        "parser: auto\n"
        "follow: [related, more_info]\n"
        f"scope: {{domains: [{', '.join(hosts)}], include: [\"^/related/\", \"^/info/\"]}}\n"
        f"max_depth: {max_depth}\n"
        f"politeness: {{concurrency: {concurrency}, delay: {delay}, robots_txt: true}}\n"
        "network: {allow_loopback: true}\n")
