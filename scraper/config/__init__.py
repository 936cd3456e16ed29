"""YAML crawl configs -> frozen CrawlConfig records: defaults, validation, overrides.

    load_config(path, overrides=...)   read a file (the only I/O here: one read)
    load_config_text(text, path)       the same from text
    config_to_dict / config_to_yaml    the merged result, in the file's shape
    parse_overrides(["k=v", ...])      `--set` strings -> an overrides mapping

Precedence: the dataclass defaults (_model.py) < the file < overrides (CLI flags).
Errors are ConfigError with the file, line and dotted key (`politeness.delay`).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from scraper.config._fields import _Ctx, parse_size
from scraper.config._model import (
    DEFAULT_USER_AGENT,
    FOLLOW_KINDS,
    PARSERS,
    SOURCES,
    BasicAuth,
    CrawlConfig,
    FileCookie,
    MediaWikiSource,
    Network,
    NotifyTarget,
    Politeness,
    RecrawlRule,
    RequestSettings,
    Scope,
    Selectors,
)
from scraper.config._notify import notify_to_plain
from scraper.config._request import redact_url, request_to_dict
from scraper.config._schema import FIELD_OF_KEY, build_config, set_override
from scraper.config._yaml import check_shape, read_config_file, read_yaml
from scraper.config.secrets import Secret, expand_secrets
from scraper.errors import ConfigError

__all__ = [
    "DEFAULT_USER_AGENT", "FOLLOW_KINDS", "PARSERS", "SOURCES",
    "BasicAuth", "CrawlConfig", "FileCookie", "MediaWikiSource", "Network", "NotifyTarget",
    "Politeness", "RecrawlRule", "RequestSettings", "Scope", "Secret", "Selectors",
    "config_to_dict", "config_to_yaml", "expand_secrets", "load_config", "load_config_text",
    "parse_overrides", "parse_size",
]


def load_config(
    path: str | os.PathLike[str], *, overrides: Mapping[str, Any] | None = None
) -> CrawlConfig:
    """Read and validate the YAML config at `path`; `overrides` win over the file.

    :param overrides: flat keys (`max_pages`) or dotted ones (`politeness.delay`) with Python
        values, checked like the file's; a None value means "not given" and is skipped.

    Reads this one file and nothing else: no fetching, no writing. Raises ConfigError.
    """
    name = os.fspath(path)
    return load_config_text(read_config_file(name), name, overrides=overrides)


def load_config_text(
    text: str, path: str = "<string>", *, overrides: Mapping[str, Any] | None = None
) -> CrawlConfig:
    """Validate config `text`; `path` is used in messages and kept as `CrawlConfig.path`."""
    raw, lines = read_yaml(text, path)
    ctx = _Ctx(path, lines)
    for key, value in (overrides or {}).items():
        if value is not None:  # None: a CLI flag that was not given
            set_override(ctx, raw, str(key), value)
    return build_config(ctx, raw)



def config_to_dict(cfg: CrawlConfig) -> dict[str, Any]:
    """The config as plain JSON-ready data in the file's shape (regexes as patterns, durations
    in seconds, sizes in bytes); loading it again gives the same config, except that the
    password of an `archive:` URL, of a `network.proxy` URL and every value of `request:`
    show as `***` (this is what `config show` prints and what
    a run row keeps). `path` is left out."""
    # (Imported here: the archive package is not needed to read a config.)
    from scraper.archive.location import redact
    def plain(value: Any) -> Any:
        if isinstance(value, re.Pattern):
            return value.pattern
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return value

    fields = {v: k for k, v in FIELD_OF_KEY.items()}
    data = {fields.get(f.name, f.name): plain(getattr(cfg, f.name))
            for f in dataclasses.fields(cfg) if f.name != "path"}
    if data.get("archive"):
        data["archive"] = redact(data["archive"])
    data["notify"] = [notify_to_plain(target) for target in cfg.notify]
    # Secrets show as `***` (a proxy URL its password only), here and so in every run row.
    data["request"] = request_to_dict(cfg.request)
    if cfg.network.proxy is not None:
        data["network"]["proxy"] = redact_url(cfg.network.proxy.reveal())
    return data


def config_to_yaml(cfg: CrawlConfig) -> str:
    """The config as YAML text that `load_config_text` reads back to the same config."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True,
                          default_flow_style=False)


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings (as given to `--set`) -> an overrides mapping; VALUE is read as YAML,
    so `--set max_pages=10`, `--set follow=[related,see_also]`, `--set politeness.delay=1s`."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected KEY=VALUE, got {item!r}", key="--set")
        try:
            if text.strip():
                check_shape(text, None, key.strip())
            out[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot read the value {text!r}: {exc}", key=key.strip()) from exc
    return out
