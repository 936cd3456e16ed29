"""Write docs/serve.png: `scraper serve` showing a diff in the demo archive.

    .venv/bin/python tools/serve_screenshot.py [-o docs/serve.png]

Builds the demo archive (scraper.demo: the built-in site crawled, three pages edited,
crawled again) in a temporary folder, serves it with `scraper serve`'s application on a free
loopback port, and has Debian's chromium (through Playwright, by its executable path; no
browser download) photograph the diff of the demo's edit to NATO.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import uvicorn
from playwright.sync_api import sync_playwright

from scraper.demo import run_demo
from scraper.serve import ServeSettings, create_app
from scraper.serve.listening import listening_socket

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "serve.png")
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=760)
    args = parser.parse_args()
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        raise SystemExit("no chromium on PATH (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as workdir:
        demo = run_demo(workdir, say=lambda line: print(line, file=sys.stderr))
        app = create_app(ServeSettings(archive=demo.archive_path))
        sock = listening_socket("127.0.0.1", 0)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=browser_path,
                                                     args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": args.width, "height": args.height},
                                        color_scheme="light")
                page.goto(f"{base}/diff?{urlencode({'url': demo.edited_url})}")
                args.output.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.output))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=20)
            sock.close()
    print(f"wrote {args.output} ({args.output.stat().st_size / 1024:.0f} KB)", file=sys.stderr)


if __name__ == "__main__":
    main()
