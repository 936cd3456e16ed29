"""Sending one message to one target: Apprise (the library's own clients for mail, chat and
push services) or a webhook (a JSON POST through httpx, signed when the target has a secret).

Targets are the user's own config, like the archive's server: they may be on loopback or a
private network (a local ntfy, a mail relay on the LAN, a receiver on 127.0.0.1), so no
address policy applies to them. A webhook's redirects are not followed (its signature and
payload go to the URL configured, nowhere else), and proxy variables are not read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from scraper.config import DEFAULT_USER_AGENT, NotifyTarget
from scraper.watch.notify_message import Message, signature

# Seconds a target may take to answer before the send counts as failed.
SEND_TIMEOUT = 20.0
# Characters of a receiver's answer kept as the error.
ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    detail: str  # the answer (HTTP status, Apprise's own words); the error when not ok


def send_message(target: NotifyTarget, message: Message, *,
                 timeout: float = SEND_TIMEOUT) -> SendResult:
    """Send `message` to `target`; never raises for a failure of the target's (it is the
    result), so that one target's trouble never keeps the others from their messages."""
    try:
        if target.kind == "webhook":
            return _webhook(target, message, timeout)
        return _apprise(target, message, timeout)
    except Exception as exc:  # noqa: BLE001 - a third-party client's error is the result
        return SendResult(False, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])


def _webhook(target: NotifyTarget, message: Message, timeout: float) -> SendResult:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": DEFAULT_USER_AGENT,
        # The same id for the same changes to the same target: receivers drop copies.
        "Idempotency-Key": message.delivery_id,
        "X-Scraper-Delivery": message.delivery_id,
    }
    if target.secret_value is not None:
        headers["X-Scraper-Signature"] = signature(target.secret_value.reveal(),
                                                   message.payload)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        try:
            answer = client.post(target.url_value.reveal(), content=message.payload,
                                 headers=headers)
        except httpx.HTTPError as exc:
            return SendResult(False, f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
    if 200 <= answer.status_code < 300:
        return SendResult(True, f"HTTP {answer.status_code}")
    text = " ".join(answer.text.split())[:ERROR_CHARS]
    return SendResult(False, f"HTTP {answer.status_code}" + (f": {text}" if text else ""))


def _apprise(target: NotifyTarget, message: Message, timeout: float) -> SendResult:
    import apprise  # loads its plugins: only when an Apprise target sends

    asset = apprise.AppriseAsset()
    notifier = apprise.Apprise(asset=asset)
    plugin = apprise.Apprise.instantiate(target.url_value.reveal(), asset=asset)
    if plugin is None:
        return SendResult(False, "Apprise does not understand the URL")
    plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout
    notifier.add(plugin)
    capture = apprise.LogCapture(level=logging.WARNING,  # type: ignore[no-untyped-call]
                                 fmt="%(message)s")
    with capture as captured:
        ok = notifier.notify(title=message.title, body=message.body,
                             body_format=apprise.NotifyFormat.TEXT)
        said = " ".join(str(captured.getvalue()).split())[-ERROR_CHARS:]
    if ok:
        return SendResult(True, "sent")
    return SendResult(False, said or "Apprise could not send the message")
