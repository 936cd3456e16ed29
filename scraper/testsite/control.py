"""Control endpoints (/_control/...): drive a site running in another process with JSON over HTTP.

Robots.txt disallows /_control/ and no page links to it; its requests are left out of the stats.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from scraper.testsite.content import Topic
from scraper.testsite.faults import FaultRule
from scraper.testsite.overload import Overload
from scraper.testsite.protocol import Reply, Request

if TYPE_CHECKING:
    from scraper.testsite.app import SiteApp

JSON = b"Content-Type: application/json\r\nCache-Control: no-store\r\n"
EDIT_KEYS = frozenset({"summary", "append_sentence", "prepend_sentence", "add_related", "remove_related", "infobox",
                       "reorder_sections", "add_category", "remove_category", "touch",
                       "add_entry", "remove_entry"})


def topic_to_dict(topic: Topic, *, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": topic.slug, "title": topic.title, "revision": topic.revision,
        "revision_id": topic.revision_id, "revised_at": topic.revised_at,
        "related": list(topic.related),
    }
    if full:
        summary, truncated = topic.summary()
        data.update(kind=topic.kind, lead=topic.lead, summary=summary,
                    summary_truncated=truncated, sections=[list(s) for s in topic.sections],
                    infobox=[list(kv) for kv in topic.infobox], categories=list(topic.categories))
    return data


def _json(status: int, data: Any) -> Reply:
    return Reply(status, json.dumps(data, ensure_ascii=False).encode() + b"\n", JSON,
                 immediate=True)


class Control:
    def __init__(self, app: SiteApp) -> None:
        self.app = app

    def handle(self, req: Request) -> Reply:
        name = req.path[len("/_control/"):].strip("/")
        try:
            data = json.loads(req.body) if req.body else {}
            if not isinstance(data, dict):
                raise TypeError("the request body must be a JSON object")
            return self._dispatch(req.method, name, data, req.query)
        except KeyError as exc:
            return _json(404, {"error": str(exc.args[0]) if exc.args else str(exc)})
        except (ValueError, TypeError) as exc:
            return _json(400, {"error": str(exc)})

    def _dispatch(self, method: str, name: str, data: dict[str, Any], query: str) -> Reply:
        app = self.app
        if name == "stats" and method == "GET":
            with_log = parse_qs(query).get("log", ["1"])[-1] not in ("0", "false", "no")
            return _json(200, app.recorder.snapshot().to_dict(log=with_log))
        if name == "reset" and method == "POST":
            app.reset(stats=bool(data.get("stats", True)), faults=bool(data.get("faults", False)),
                      content=bool(data.get("content", False)))
            return _json(200, {"ok": True})
        if name == "edit" and method == "POST":
            slug = data.pop("slug", None)
            if not isinstance(slug, str):
                raise ValueError('edit needs "slug" (a topic slug or title)')
            unknown = set(data) - EDIT_KEYS
            if unknown:
                raise ValueError(f"unknown edit keys: {', '.join(sorted(unknown))}; known: "
                                 f"{', '.join(sorted(EDIT_KEYS))}")
            return _json(200, topic_to_dict(app.edit(slug, **data), full=True))
        if name == "faults" and method == "GET":
            return _json(200, {"rules": [r.to_dict() for r in app.faults.rules]})
        if name == "faults" and method == "POST":
            if data.get("clear"):
                app.faults.clear()
                app.fault_urls.reset()
                return _json(200, {"rules": []})
            raw = data.get("rules", [data])
            rules = [FaultRule.from_dict(r) for r in raw]  # all checked before any is added
            return _json(200, {"rules": [app.add_fault(r).to_dict() for r in rules]})
        if name == "markup" and method == "POST":
            app.set_markup(str(data.get("markup", "")))
            return _json(200, {"markup": app.markup})
        if name == "settings":
            if method == "POST":
                if "latency_ms" in data:
                    latency = float(data["latency_ms"])
                    if latency < 0:
                        raise ValueError(f"latency_ms must be >= 0, got {latency}")
                    app.latency = latency / 1000
                if "volatile_footer" in data:
                    app.volatile_footer = bool(data["volatile_footer"])
                if "sitemaps" in data:
                    app.sitemaps = bool(data["sitemaps"])
                if "markup" in data:
                    app.set_markup(str(data["markup"]))
                if "overload" in data:
                    spec = data["overload"]
                    if spec is not None and not isinstance(spec, dict):
                        raise ValueError('"overload" must be null or an object such as '
                                         '{"capacity": 4, "latency_ms": 50}')
                    app.overload = None if spec is None else Overload.from_dict(spec)
            return _json(200, self.settings())
        if name == "topics" and method == "GET":
            model = app.model
            return _json(200, {"topics": [topic_to_dict(model.topic(s)) for s in model.slugs]})
        if name.startswith("topic/") and method == "GET":
            return _json(200, topic_to_dict(app.model.topic(app.model.find(name[6:])), full=True))
        raise KeyError(f"no control endpoint {method} /_control/{name}")

    def settings(self) -> dict[str, Any]:
        app = self.app
        return {"seed": app.model.seed, "pages": app.model.pages, "page_kb": app.model.page_kb,
                "markup": app.markup, "latency_ms": app.latency * 1000,
                "volatile_footer": app.volatile_footer, "base_url": app.base_url,
                "sitemaps": app.sitemaps,
                "overload": None if app.overload is None else app.overload.to_dict(),
                "base_urls": list(app.origins)}
