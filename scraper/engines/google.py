"""Google Images: the page script gathers what every known layout needs (result containers,
their thumbnails, links and data scripts); google_layouts reads it, the newest layout that has
containers on the page winning. Placeholder GIFs (`data:image/gif`) are not thumbnails."""

from __future__ import annotations

from scraper.engines import Engine, Parsed
from scraper.engines.google_layouts import LAYOUTS, Snapshot

READ_JS = r"""
const thumbOf = (img) => {
  const src = img ? (img.getAttribute('data-src') || img.getAttribute('src')) : null;
  return src && !src.startsWith('data:image/gif') ? src : null;
};
const all = (sel) => Array.from(document.querySelectorAll(sel));
const items = all('div[jsname="dTDiAc"], div.eA0Zlc, div[data-docid][data-lpage]').map(d => {
  const link = d.querySelector('a[href*="/imgres?"]');
  return {id: d.getAttribute('data-docid'), page: d.getAttribute('data-lpage'),
          thumb: thumbOf(d.querySelector('g-img img, img')), imgres: link ? link.href : null};
}).filter(i => i.id);
const tiles = all('div[data-ri], div.rg_bx').map(d => {
  const link = d.querySelector('a[data-page]');
  const meta = d.querySelector('.rg_meta');
  return {thumb: thumbOf(d.querySelector('img.rg_i, img')),
          page: link ? link.getAttribute('data-page') : null,
          meta: meta ? meta.textContent : null};
});
const basic = all('table.GpQGbf td.e3goi').map(td => {
  const link = td.querySelector('a[href^="/url?q="]');
  return {thumb: thumbOf(td.querySelector('img.yWs4tf, img')), href: link ? link.href : null};
});
const scripts = all('script').map(s => s.textContent || '')
  .filter(t => t.includes('"2003":') || t.includes('AF_initDataCallback'));
return {items, tiles, basic, scripts};
"""


def parse(snapshot: Snapshot | None) -> Parsed:
    for layout, read in LAYOUTS:
        sources = read(snapshot or {})
        if sources:
            return Parsed(layout, sources)
    return Parsed(None, [])


ENGINE = Engine(
    name="google",
    base_url="https://www.google.com",
    search_path="/search?q={q}&udm=2&hl=en",
    read_js=READ_JS,
    parse=parse,
    more_selector="input.mye4qd, input[value='Show more results']",
    end_selector="div.OuJzKb.Yu2Dnd, div[data-end-of-results]",
)
