"""Google Images' result layouts, newest first, each read by its own parser.

Every parser takes the snapshot that google.READ_JS returns and gives one Source per result
container of its layout (none when the page is not in that layout):

- current (2024-): `div[data-docid]` containers; the full-size URLs are only in an inline
  data blob (`var m={…}`), one entry per result,
  `[0,"<docid>",["<thumb>",h,w],["<full>",h,w],…,{"2003":[null,"<ref>","<page>","<title>"…]}]`.
- AF_initDataCallback (2021-2023): `div[data-ri]` tiles; full-size URLs as
  `["https://…", h, w]` triples in `AF_initDataCallback` blobs, in result order.
- rg_meta (-2020): each tile's `div.rg_meta` holds JSON with `ou` (full), `tu`, `ru`.
- basic HTML (what a plain HTTP client gets): thumbnails and source pages, no full size.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scraper.engines import Source

Snapshot = dict[str, Any]
_STR = r'"((?:[^"\\]|\\.)*)"'  # a JSON string's body, escapes kept
ENTRY = re.compile(
    rf'\[0,\s*"([^"\\]+)",\s*\[{_STR},\s*\d+,\s*\d+\],\s*\[{_STR},\s*\d+,\s*\d+\]'
)  # [0,"<docid>",["<thumbnail>",h,w],["<full size>",h,w]
PAGE = re.compile(rf'"2003":\s*\[null,\s*{_STR},\s*{_STR}')  # [null,"<ref docid>","<page>"
TRIPLE = re.compile(rf"\[{_STR},\s*\d+,\s*\d+\]")


def parse_current(snap: Snapshot) -> list[Source]:
    items = snap.get("items") or []
    blob = blob_entries(snap.get("scripts") or []) if items else {}
    sources = []
    for item in items:
        thumb, full, page = blob.get(item["id"], (None, None, None))
        link_full, link_page = _imgres(item.get("imgres"))
        sources.append(
            Source(
                "google",
                full or link_full,
                item.get("thumb") or thumb,  # an inline thumbnail costs no download
                item.get("page") or page or link_page,
                item_id=f"docid:{item['id']}",
            )
        )
    return sources


def blob_entries(scripts: list[str]) -> dict[str, tuple[str | None, str | None, str | None]]:
    """docid → (thumbnail, full size, page) from the current layout's data blob."""
    out: dict[str, tuple[str | None, str | None, str | None]] = {}
    for text in scripts:
        matches = list(ENTRY.finditer(text))
        for m, following in zip(matches, [*matches[1:], None], strict=True):
            end = following.start() if following else len(text)
            page = PAGE.search(text, m.end(), end)  # this entry's page, before the next entry
            out[m[1]] = (_unescape(m[2]), _unescape(m[3]), _unescape(page[2]) if page else None)
    return out


def parse_rg_meta(snap: Snapshot) -> list[Source]:
    sources = []
    for tile in snap.get("tiles") or []:
        if tile.get("meta") is None:
            continue
        try:
            meta = json.loads(tile["meta"])
        except ValueError:
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        thumb = meta.get("tu") or tile.get("thumb")
        sources.append(Source("google", meta.get("ou"), thumb, meta.get("ru") or tile.get("page")))
    return sources


def parse_af_init(snap: Snapshot) -> list[Source]:
    tiles = [t for t in snap.get("tiles") or [] if t.get("meta") is None]
    fulls = af_init_full_urls(snap.get("scripts") or [])
    return [
        Source("google", fulls[i] if i < len(fulls) else None, t.get("thumb"), t.get("page"))
        for i, t in enumerate(tiles)
    ]


def af_init_full_urls(scripts: list[str]) -> list[str]:
    """The full-size URL triples in `AF_initDataCallback` blobs, in result order."""
    urls = []
    for text in scripts:
        if "AF_initDataCallback" not in text:
            continue
        for m in TRIPLE.finditer(text):
            url = _unescape(m[1]) or ""
            if url.startswith("http") and "gstatic.com" not in url:  # thumbnails are on gstatic
                urls.append(url)
    return urls


def parse_basic(snap: Snapshot) -> list[Source]:
    sources = []
    for cell in snap.get("basic") or []:
        href = cell.get("href") or ""
        page = parse_qs(urlsplit(href).query).get("q", [None])[0]
        sources.append(Source("google", None, cell.get("thumb"), page))
    return sources


LAYOUTS = (
    ("current", parse_current),
    ("rg_meta", parse_rg_meta),
    ("AF_initDataCallback", parse_af_init),
    ("basic HTML", parse_basic),
)


def _imgres(href: str | None) -> tuple[str | None, str | None]:
    """(imgurl, imgrefurl) of a hovered result's /imgres? link."""
    if not href:
        return None, None
    params = parse_qs(urlsplit(href).query)
    return params.get("imgurl", [None])[0], params.get("imgrefurl", [None])[0]


def _unescape(raw: str | None) -> str | None:
    """A JSON string body (`\\u003d`, `\\u0026`, `\\/`) as text."""
    if raw is None:
        return None
    try:
        text: str = json.loads(f'"{raw}"')
        return text
    except ValueError:
        return raw
