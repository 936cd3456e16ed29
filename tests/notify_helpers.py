"""What the notification tests share: a webhook receiver and an SMTP server on loopback, and a
crawl config of four article pages of the built-in site that notifies both."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from scraper.testsite import TestSite

SECRET = "test-hook-secret"
EDITED = ("NATO", "Warsaw_Pact", "Cold_War")  # three pages the tests edit
UNEDITED = "North_Atlantic_Treaty"


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def data(self) -> Any:
        return json.loads(self.body)

    @property
    def signature_ok(self) -> bool:
        expected = "sha256=" + hmac.new(SECRET.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-scraper-signature", ""))


@dataclass
class Receiver:
    """A webhook receiver: answers each POST with the next of `answers` (then 204), or with
    "hang" holds the request open, unanswered, until `release` is set. `received` lists every
    request read; `accepted` those answered 2xx, deduplicated by Idempotency-Key as a
    receiver that keeps the ids it has seen would."""

    url: str = ""
    answers: list[int | str] = field(default_factory=list)
    received: list[Delivery] = field(default_factory=list)
    accepted: dict[str, Delivery] = field(default_factory=dict)
    accepted_count: int = 0  # 2xx answers, duplicates included
    hanging: threading.Event = field(default_factory=threading.Event)  # set: one is held
    release: threading.Event = field(default_factory=threading.Event)


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            delivery = Delivery({k.lower(): v for k, v in self.headers.items()}, body)
            receiver.received.append(delivery)
            answer = receiver.answers.pop(0) if receiver.answers else 204
            if answer == "hang":
                receiver.hanging.set()
                receiver.release.wait(60)
                self.close_connection = True
                return
            assert isinstance(answer, int)
            if 200 <= answer < 300:
                receiver.accepted_count += 1
                receiver.accepted.setdefault(delivery.headers["idempotency-key"], delivery)
            self.send_response(answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    port: int = 0
    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(  # type: ignore[arg-type]
            envelope.content, policy=email.policy.default))
        return "250 OK"

    def text(self, index: int) -> str:
        part = self.messages[index].get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[attr-defined]


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    mailbox = Mailbox(port=port)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


def notify_config(site: TestSite, receiver: Receiver, mailbox: Mailbox | None) -> str:
    """Four article pages, each fetched every run (recrawl_after 0s), nothing followed."""
    urls = ", ".join(f'"{site.url("/info/" + slug)}"' for slug in (*EDITED, UNEDITED))
    mail = (f'  - apprise: "mailto://127.0.0.1:{mailbox.port}?from=scraper@example.org'
            f'&to=watcher@example.org"\n') if mailbox else ""
    return (f"name: watched\nstart_urls: [{urls}]\nmax_depth: 0\nrecrawl_after: 0s\n"
            "politeness: {concurrency: 4, delay: 0, robots_txt: false}\n"
            "network: {allow_loopback: true}\n"
            f"notify:\n  - webhook: \"{receiver.url}\"\n    secret: \"${{NOTIFY_TEST_SECRET}}\"\n"
            + mail)
