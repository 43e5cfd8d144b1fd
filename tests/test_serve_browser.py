"""`cvstream serve` as a real browser uses it: headless Chromium (Debian's `chromium` and `chromium-driver`, driven
by selenium) runs the web app's loop from a page on an allowed origin, and a page on another origin tries both a
CORS and a no-cors request. `.ci/run` installs Chromium when it is missing: these tests never skip."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from cvstream.mock.server import MockServer
from tests.serve_support import TEXT, Served

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
TOKEN = "browser-token-0123456789"

# The web app's loop, verbatim (plus an optional bearer token), as an async selenium script; a careful
# client additionally notes an `error` in a data event.
APP_LOOP = """
const [url, headers, careful, done] = arguments;
(async () => {
  const res = await fetch(url, {method: "POST", headers: {"content-type": "application/json", ...headers},
                                body: JSON.stringify({prompt: "hi"})});
  if (!res.ok) throw new Error("HTTP " + res.status);
  let result = ""; let cut = null;
  const reader = res.body.getReader(); const decoder = new TextDecoder();
  while (true) {
    const { done, value } = await reader.read(); if (done) break;
    const lines = decoder.decode(value).split("\\n").filter(l => l.startsWith("data: "));
    for (const line of lines) { const data = line.slice(6); if (data === "[DONE]") break;
      const event = JSON.parse(data); if (careful && event.error) cut = event.error.type;
      result += event.text; }
  }
  return {text: result, cut};
})().then(done, error => done({failed: String(error)}));
"""
NO_CORS = """
const [url, done] = arguments;
fetch(url, {method: "POST", mode: "no-cors", headers: {"content-type": "text/plain"}, body: '{"prompt": "hi"}'})
  .then(res => done({type: res.type}), error => done({failed: String(error)}));
"""


class _Page(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = b"<!doctype html><title>front-end</title><p>the web app"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def page_origin() -> Iterator[Callable[[], str]]:
    """Serve a blank page on a new loopback port: each is a web origin of its own."""
    servers: list[ThreadingHTTPServer] = []

    def start() -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://localhost:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    assert chromium and driver_path, "install Chromium: apt-get install -y chromium chromium-driver (.ci/run does)"
    profile = tempfile.mkdtemp(prefix="cvstream-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _run(browser: webdriver.Chrome, page: str, script: str, *args: Any) -> dict[str, Any]:
    browser.get(page)
    result: dict[str, Any] = browser.execute_async_script(script, *args)
    return result


@pytest.mark.timeout(120)
def test_a_page_on_an_allowed_origin_streams_the_whole_answer(
    serve: Callable[..., Served], browser: webdriver.Chrome, page_origin: Callable[[], str]
) -> None:
    page = page_origin()
    served = serve(cors_origins=[page], token=TOKEN)
    result = _run(browser, page, APP_LOOP, served.url + "/api/ai/stream", {"authorization": f"Bearer {TOKEN}"}, True)
    assert result == {"text": TEXT, "cut": None}
    served.log.wait_for(r"^OPTIONS /api/ai/stream 200 ")  # the preflight Chromium sent for the JSON body
    served.log.wait_for(r"^POST /api/ai/stream 200 .* ok$")


@pytest.mark.timeout(120)
def test_a_page_on_another_origin_never_causes_an_upstream_call(
    serve: Callable[..., Served],
    mock: MockServer,
    browser: webdriver.Chrome,
    page_origin: Callable[[], str],
) -> None:
    allowed, other = page_origin(), page_origin()
    served = serve(mock, cors_origins=[allowed])
    url = served.url + "/api/ai/stream"
    refused = _run(browser, other, APP_LOOP, url, {}, True)
    assert "Failed to fetch" in refused["failed"]  # refused at the preflight
    served.log.wait_for(r"^OPTIONS /api/ai/stream 403 .* refused: requests from the web origin")
    opaque = _run(browser, other, NO_CORS, url)
    assert opaque == {"type": "opaque"}  # the page cannot tell, but serve refused it
    served.log.wait_for(r"^POST /api/ai/stream 403 .* refused: requests from the web origin")
    assert mock.records == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fault", ["error_event", "reset"])
def test_a_cut_answer_is_visible_to_the_page(
    serve: Callable[..., Served],
    mock_server: Callable[..., MockServer],
    browser: webdriver.Chrome,
    page_origin: Callable[[], str],
    fault: str,
) -> None:
    page = page_origin()
    served = serve(mock_server(fault=fault, text="one two three four five"), cors_origins=[page])
    url = served.url + "/api/ai/stream"
    assert _run(browser, page, APP_LOOP, url, {}, False) == {"text": "one two three", "cut": None}
    careful = _run(browser, page, APP_LOOP, url, {}, True)
    assert careful == {
        "text": "one two three",
        "cut": "overloaded" if fault == "error_event" else "upstream_incomplete",
    }
