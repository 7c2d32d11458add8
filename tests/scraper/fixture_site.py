"""A stand-in for the three image-search engines and the image hosts behind them, on 127.0.0.1.

Result pages follow each engine's real markup (see scraper/engines/), grow by JavaScript as
the page scrolls, hide more results behind a button, and link images that misbehave in every
way the scraper must survive. Queries containing "captcha", "consent" or "nothing" get a
captcha page, a consent wall, or a page whose layout has no results we recognise; "drift" gets
result containers without their full-size URLs (a layout the parser no longer understands), and
"hundred" gets Google's current layout with 100 well-behaved results. `/google/` serves Google's
current layout, `/google-2022/` the AF_initDataCallback one.

Run it for a container smoke test or a benchmark:
    python -m tests.scraper.fixture_site --port 8765
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import html
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, quote, urlsplit

import numpy as np
from PIL import Image

TOTAL = 30  # results per query page
BATCH = 10  # results shown at first and added per scroll or click


@functools.lru_cache(maxsize=4096)
def picture(name: str, side: int) -> bytes:
    """A distinct JPEG per name; the same name at another size is a near-duplicate."""
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    blocks = np.random.default_rng(seed).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    img = Image.fromarray(blocks).resize((side * 4 // 3, side), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def result_urls(base: str, query: str, i: int) -> tuple[str | None, str]:
    """(full, thumbnail) for result i: most are fine, some full-size links misbehave."""
    tag = f"{hashlib.sha1(query.encode()).hexdigest()[:8]}-{i}"
    full = f"{base}/img/{tag}.jpg"
    thumb = f"{base}/thumb/{tag}.jpg"
    bad = {3: "404", 4: "html", 5: "wrongtype", 7: "truncated", 8: "loop", 9: "huge"}
    if i % 10 == 6 and i > 0:  # the same picture as the previous result: an exact duplicate
        full = f"{base}/img/{hashlib.sha1(query.encode()).hexdigest()[:8]}-{i - 1}.jpg"
    if i % 10 in bad and i < 20:
        full = f"{base}/bad/{bad[i % 10]}"
        if i % 10 in (8, 9):
            thumb = f"{base}/bad/{'tiny' if i % 10 == 8 else 'slow'}"
    return full, thumb


GROW_JS = """
<script>
const all = %s; let shown = 0;
function add(n) {
  const box = document.getElementById('results');
  for (const item of all.slice(shown, shown + n)) box.insertAdjacentHTML('beforeend', item);
  shown = Math.min(all.length, shown + n);
  if (shown >= all.length) document.getElementById('end').style.display = 'block';
  const more = document.getElementById('more');
  if (more) more.style.display = (shown >= %d && shown < all.length) ? 'inline' : 'none';
}
add(%d);
// like the live pages, the next batch loads a screen before the bottom is reached
window.addEventListener('scroll', () => {
  if (%s && 2 * window.innerHeight + window.scrollY >= document.body.scrollHeight) add(%d);
});
</script>
"""


def page(
    items: list[str],
    more: str,
    end: str,
    scroll_grows: bool,
    extra: str = "",
    button_after: int = BATCH,
) -> str:
    grow = GROW_JS % (
        json.dumps(items),
        button_after,
        BATCH,
        "true" if scroll_grows else "false",
        BATCH,
    )
    return (
        "<!doctype html><html><head><title>results</title><style>"
        ".r{display:inline-block;width:300px;height:260px;margin:4px} img{width:280px}"
        "</style></head><body><div id='results'></div>"
        f"{more}{end}{extra}{grow}</body></html>"
    )


def bing_page(base: str, query: str) -> str:
    items = []
    for i in range(TOTAL):
        full, thumb = result_urls(base, query, i)
        murl = None if "drift" in query else full
        m = html.escape(json.dumps({"murl": murl, "turl": thumb, "purl": f"{base}/p/{i}"}))
        items.append(
            f"<div class='r'><a class='iusc' m=\"{m}\" href='#'><img class='mimg' "
            "src='data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=='"
            f" data-src='{thumb}'></a></div>"
        )
    end = "<div class='bop_end' id='end' style='display:none'>End of results</div>"
    return page(items, "", end, scroll_grows=True)


PLACEHOLDER = "data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="


def inline_thumb(thumb: str) -> str | None:
    """The thumbnail as the base64 `data:` URI Google inlines, for a well-behaved one."""
    if "/thumb/" not in thumb:
        return None
    tag = thumb.rsplit("/", 1)[1].removesuffix(".jpg")
    return "data:image/jpeg;base64," + base64.b64encode(picture(tag, 96)).decode()


def js_string(text: str) -> str:
    """A JSON string escaped as Google's inline scripts escape it (`=` and `&` as \\u00xx)."""
    return json.dumps(text).replace("=", "\\u003d").replace("&", "\\u0026")


def current_google_results(base: str, query: str) -> list[tuple[str, str, str]]:
    """(full, thumb, page) per result: 100 clean ones for a "hundred" query, else the usual
    misbehaving 30."""
    if "hundred" in query:
        tag = hashlib.sha1(query.encode()).hexdigest()[:8]
        return [
            (
                f"{base}/img/{tag}-{i}.jpg?w=1024&h=768",
                f"{base}/thumb/{tag}-{i}.jpg",
                f"{base}/p/{i}",
            )
            for i in range(100)
        ]
    return [(*result_urls(base, query, i), f"{base}/p/{i}") for i in range(TOTAL)]


def current_google_item(i: int, full: str, thumb: str, page_url: str) -> str:
    """One result container: a dozen inline thumbnails, a few URLs, then placeholders;
    every 25th was hovered, so it carries an /imgres? link."""
    src = (inline_thumb(thumb) if i < 12 else thumb if i < 20 else None) or PLACEHOLDER
    link = f"/imgres?imgurl={quote(full, safe='')}&imgrefurl={quote(page_url, safe='')}"
    href = f" href='{html.escape(link)}'" if i % 25 == 24 else ""
    return (
        f"<div jsname='dTDiAc' class='eA0Zlc r' data-docid='doc{i}' data-ref-docid='ref{i}' "
        f"data-lpage='{html.escape(page_url)}'><a{href}><g-img><img class='YQ4gaf' "
        f"src='{src}'></g-img></a></div>"
    )


def current_google_blob(results: list[tuple[str, str, str]]) -> str:
    """`var m={…}`: one entry per result keyed by docid, among entries that are not results."""
    entries = ['"noise":[2,null,["https://encrypted-tbn0.gstatic.com/logo",40,40]]']
    for i, (full, thumb, page_url) in enumerate(results):
        entries.append(
            f'"k{i}":[1,[0,"doc{i}",[{js_string(thumb)},96,128],[{js_string(full)},768,1024],'
            f'null,0,"rgb(120,80,40)",null,0,{{"2003":[null,"ref{i}",{js_string(page_url)},'
            f'"Result {i}",null,"example.com"]}}]]'
        )
    return "<script>var m={" + ",".join(entries) + "};window.W_jd=m;</script>"


def google_page(base: str, query: str) -> str:
    """Google's current layout (`udm=2`); a "drift" query leaves the data blob out."""
    results = current_google_results(base, query)
    items = [current_google_item(i, *result) for i, result in enumerate(results)]
    blob = "" if "drift" in query else current_google_blob(results)
    viewer = (  # the image viewer's side panel, with an older-style tile
        "<div data-ri='0' style='position:fixed;top:0;right:0'>"
        f"<img class='rg_i' style='width:60px' src='{base}/thumb/viewer.jpg'></div>"
    )
    end = (
        "<div data-end-of-results id='end' style='display:none'>"
        "Looks like you've reached the end</div>"
    )
    return page(items, "", end, scroll_grows=True, extra=blob + viewer)


def google_2022_page(base: str, query: str) -> str:
    """Google's 2021-2023 layout: `div[data-ri]` tiles, full size in AF_initDataCallback."""
    items, blob = [], []
    for i in range(TOTAL):
        full, thumb = result_urls(base, query, i)
        if i < 5:  # the first results inline their thumbnails
            tag = thumb.rsplit("/", 1)[1].removesuffix(".jpg")
            data = base64.b64encode(picture(tag, 96)).decode()
            img = f"<img class='rg_i' src='data:image/jpeg;base64,{data}'>"
        else:
            img = f"<img class='rg_i' data-src='{thumb}' src='data:image/gif;base64,R0lGOD=='>"
        items.append(f"<div class='r' data-ri='{i}'><a data-page='{base}/p/{i}'>{img}</a></div>")
        blob.append(
            [
                f"id{i}",
                [f"https://encrypted-tbn0.gstatic.com/images?q={i}", 96, 128],
                [full, 768, 1024],
            ]
        )
    data = json.dumps(blob, separators=(",", ":"))  # compact, as the live page has it
    script = f"<script>AF_initDataCallback({{key: 'ds:1', data: {data}}});</script>"
    more = (
        "<input class='mye4qd' id='more' type='button' value='Show more results' "
        "style='display:none' onclick='add(10)'>"
    )
    end = (
        "<div data-end-of-results id='end' style='display:none'>"
        "Looks like you've reached the end</div>"
    )
    return page(items, more, end, scroll_grows=True, extra=script, button_after=20)


def yahoo_page(base: str, query: str) -> str:
    items = []
    for i in range(TOTAL):
        full, thumb = result_urls(base, query, i)
        # the live site drops the scheme (imgurl=host/path); keep it here: no TLS on 127.0.0.1
        stripped = "" if "drift" in query else full or ""
        page_url = quote(f"{base}/p/{i}", safe="")
        href = f"/images/view?imgurl={quote(stripped, safe='')}&rurl={page_url}"
        items.append(f"<li class='r'><a href='{href}'><img data-src='{thumb}'></a></li>")
    more = (
        "<button name='more-res' id='more' style='display:none' onclick='add(10)'>"
        "Show more images</button>"
    )
    end = "<div id='sres-end' style='display:none'>no more</div>"
    body = page(items, more, end, scroll_grows=False, button_after=BATCH)
    return body.replace("<div id='results'></div>", "<ul id='sres'><span id='results'></span></ul>")


BLOCKED = {
    "captcha": "<html><body><form id='captcha-form'>Our systems have detected unusual traffic."
    "</form></body></html>",
    "consent": "<html><body><form action='https://consent.example/save'>Before you continue"
    "</form></body></html>",
    "nothing": "<html><body><div class='new-layout'>results moved</div></body></html>",
}


class Site(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; with Nagle on, each reused connection would
    # stall 40 ms on the client's delayed ACK, which no real image host (TCP_NODELAY) adds.
    disable_nagle_algorithm = True
    delay = 0.0  # seconds added to each image response (the benchmark's 20 ms)
    hits: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = parse_qs(parts.query)
        base = f"http://{self.headers['Host']}"
        with self.lock:
            key = parts.path.split("/")[1] if "/" in parts.path else parts.path
            self.hits[key] = self.hits.get(key, 0) + 1
        query = (params.get("q") or params.get("p") or [""])[0]
        pages = {
            "/bing/images/search": bing_page,
            "/google/search": google_page,
            "/google-2022/search": google_2022_page,
            "/yahoo/search/images": yahoo_page,
        }
        if parts.path in pages:
            blocked = next((v for k, v in BLOCKED.items() if k in query), None)
            body = blocked or pages[parts.path](base, query)
            self.send(200, "text/html", body.encode())
            return
        if parts.path.startswith(("/img/", "/thumb/")):
            if self.delay:
                time.sleep(self.delay)
            name = parts.path.rsplit("/", 1)[1].removesuffix(".jpg")
            side = 480 if parts.path.startswith("/img/") else 96
            self.send(200, "image/jpeg", picture(name, side))
            return
        if parts.path.startswith("/flaky/"):  # 503 on the first try of each path, then fine
            with self.lock:
                first = self.hits.setdefault(parts.path, 0) == 0
                self.hits[parts.path] += 1
            if first:
                self.send(503, "text/plain", b"busy", extra={"Retry-After": "0"})
            else:
                self.send(200, "image/jpeg", picture(parts.path, 200))
            return
        self.misbehave(parts.path.removeprefix("/bad/"))

    def misbehave(self, how: str) -> None:
        if how == "html":
            self.send(200, "image/jpeg", b"<html><body>Not found</body></html>")
        elif how == "wrongtype":
            self.send(200, "application/pdf", b"%PDF-1.4")
        elif how == "truncated":
            whole = picture("truncated", 300)
            self.send(200, "image/jpeg", whole[: len(whole) // 2])
        elif how == "loop":
            self.send(302, "text/plain", b"", extra={"Location": "/bad/loop"})
        elif how == "huge":
            self.send(200, "image/jpeg", b"\xff" * (3 * 1024 * 1024))
        elif how == "tiny":
            buf = io.BytesIO()
            Image.new("RGB", (16, 16), (200, 0, 0)).save(buf, "PNG")
            self.send(200, "image/png", buf.getvalue())
        elif how == "slow":
            time.sleep(2.0)  # longer than the tests' read timeout
            self.send(200, "image/jpeg", picture("slow", 200))
        else:
            self.send(404, "text/plain", b"missing")

    def send(
        self,
        status: int,
        kind: str,
        body: bytes,
        engine: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to do

    def log_message(self, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def start(port: int = 0, delay: float = 0.0, host: str = "127.0.0.1") -> tuple[Server, str]:
    Site.delay = delay
    server = Server((host, port), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host if host != '0.0.0.0' else '127.0.0.1'}:{server.server_address[1]}"


def engine_urls(base: str) -> list[str]:
    return [f"{name}={base}/{name}" for name in ("google", "bing", "yahoo")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0: every loopback address")
    args = parser.parse_args()
    server, base = start(args.port, args.delay_ms / 1000, args.host)
    print(" ".join(f"--engine-url {pair}" for pair in engine_urls(base)), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
