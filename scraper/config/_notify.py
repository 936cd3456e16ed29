"""The `notify:` key: where to tell a person that pages changed (issue 19).

Each entry is one target: `apprise: URL` (any Apprise URL: mail, Slack, Matrix, ntfy, ...)
or `webhook: URL` (a JSON POST), with optional `secret:` (webhooks: the HMAC-SHA256 key),
`on:` (the kinds of change it wants, NOTIFY_KINDS) and `match:` (a regex on the page URL).

URLs and the secret may name environment variables (`${NAME}`) or files (`${file:PATH}`),
expanded on loading (scraper.config.secrets) into Secret values that never print. The record
also keeps the text as written: the target's key and what `config show` and a run row show.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from scraper.config._fields import _check_keys, _Ctx, _describe, _list, _regex, _text
from scraper.config._model import DEFAULT_NOTIFY_ON, NOTIFY_KINDS, NotifyTarget
from scraper.config.secrets import REDACTED, Secret, expand_secrets

_ENV_REFERENCE = re.compile(r"\$\{[^}]*\}")


def _expanded(ctx: _Ctx, key: str, text: str) -> Secret:
    return expand_secrets(text, key=key, base_dir=os.path.dirname(ctx.path) or ".",
                          path=ctx.path, line=ctx.line(key))


def _target_url(ctx: _Ctx, key: str, value: Any, *, webhook: bool) -> tuple[str, Secret]:
    text = _text(ctx, key, value)
    assert text is not None
    text = text.strip()
    secret = _expanded(ctx, key, text)
    url = secret.reveal()
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ctx.error(key, "must be one URL without spaces or control characters")
    parts = urlsplit(url)
    if webhook:
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ctx.error(key, f"must be an http or https URL with a host, got "
                                 f"{redact_target_url(text)!r}")
    elif not parts.scheme or "://" not in url:
        raise ctx.error(key, "must be an Apprise URL such as mailto://user:pass@host or "
                             f"ntfy://topic, got {redact_target_url(text)!r}")
    else:
        # Imported here: Apprise loads its plugins on first use, which only a config with an
        # `apprise:` target should pay for.
        from apprise import Apprise

        if Apprise.instantiate(url) is None:
            raise ctx.error(key, f"Apprise does not understand the URL "
                                 f"{redact_target_url(text)!r} (unknown scheme, or a part "
                                 "missing); see https://github.com/caronc/apprise/wiki")
    return text, secret


def _kinds(ctx: _Ctx, key: str, value: Any) -> tuple[str, ...]:
    def kind(ctx: _Ctx, key: str, item: Any) -> str:
        if not isinstance(item, str) or item not in NOTIFY_KINDS:
            raise ctx.error(key, f"must be one of {', '.join(NOTIFY_KINDS)}, got "
                                 f"{_describe(item)}")
        return item

    kinds = tuple(dict.fromkeys(_list(ctx, key, value, kind)))
    if not kinds:
        raise ctx.error(key, f"must list at least one of {', '.join(NOTIFY_KINDS)} "
                             "(leave the key out for the default)")
    return kinds


def _target(ctx: _Ctx, key: str, value: Any) -> NotifyTarget:
    if not isinstance(value, Mapping):
        raise ctx.error(key, f"must be a mapping such as {{webhook: URL}} or "
                             f"{{apprise: URL}}, got {_describe(value)}")
    _check_keys(ctx, key, value, ("apprise", "webhook", "secret", "on", "match"))
    sinks = [name for name in ("apprise", "webhook") if name in value]
    if len(sinks) != 1:
        raise ctx.error(key, "must have exactly one of `apprise: URL` or `webhook: URL`")
    kind = sinks[0]
    url, url_value = _target_url(ctx, f"{key}.{kind}", value[kind], webhook=kind == "webhook")
    secret = secret_value = None
    if "secret" in value:
        if kind != "webhook":
            raise ctx.error(f"{key}.secret", "only a webhook is signed; an Apprise target "
                                             "carries its credentials in its URL")
        secret = _text(ctx, f"{key}.secret", value["secret"])
        assert secret is not None
        secret_value = _expanded(ctx, f"{key}.secret", secret)
        if not secret_value.reveal():
            raise ctx.error(f"{key}.secret", "is empty once its variables are expanded")
    on = _kinds(ctx, f"{key}.on", value["on"]) if "on" in value else DEFAULT_NOTIFY_ON
    match = _regex(ctx, f"{key}.match", value["match"]) if "match" in value else None
    return NotifyTarget(kind=kind, url=url, url_value=url_value, secret=secret,
                        secret_value=secret_value, on=on, match=match)


def notify_targets(ctx: _Ctx, key: str, value: Any) -> tuple[NotifyTarget, ...]:
    """The `notify:` list, checked; errors name the entry (`notify[1].webhook`)."""
    if value is None:
        return ()
    targets = _list(ctx, key, value, _target)
    seen: dict[tuple[str, str], int] = {}
    for i, target in enumerate(targets):
        first = seen.setdefault((target.kind, target.url), i)
        if first != i:
            raise ctx.error(f"{key}[{i}].{target.kind}", f"the same target as {key}[{first}]: "
                                                         "it would get every message twice")
    return targets


_SHOWN_HOST = re.compile(r"(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+|localhost|\[[0-9A-Fa-f:.]+\]")


def redact_target_url(url: str) -> str:
    """A target URL as messages and `config show` print it: the scheme, and the host when it
    is a host name or an address (`slack://TOKEN/...` has a token there), with any user
    part, path or query replaced by `***`: Apprise URLs carry credentials in every part."""
    scheme, sep, rest = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return REDACTED
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    tail = rest[len(netloc):]
    _userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.rpartition(":") if not hostport.endswith("]") else (
        hostport, "", "")
    if not colon or not port.isdigit():
        host, port = hostport, ""
    shown = f"{scheme}://" + (f"{REDACTED}@" if at else "")
    shown += (host + (f":{port}" if port else "")) if _SHOWN_HOST.fullmatch(host) else REDACTED
    if tail.split("?", 1)[0].split("#", 1)[0] not in ("", "/"):
        shown += "/" + REDACTED
    if "?" in tail:
        shown += "?" + REDACTED
    return shown


def notify_to_plain(target: NotifyTarget) -> dict[str, Any]:
    """One target as `config show` and a run row keep it: no secret values."""
    data: dict[str, Any] = {target.kind: _shown(target.url)}
    if target.secret is not None:
        data["secret"] = target.secret if _ENV_REFERENCE.fullmatch(target.secret) else REDACTED
    data["on"] = list(target.on)
    if target.match is not None:
        data["match"] = target.match.pattern
    return data


def _shown(url: str) -> str:
    # A URL that is one ${NAME} reference holds no secret itself; any other may.
    return url if _ENV_REFERENCE.fullmatch(url) else redact_target_url(url)
