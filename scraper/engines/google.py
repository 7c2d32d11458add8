"""Google: the first results carry base64 `data:image/jpeg` thumbnails, later ones `data-src`
or `src` on gstatic; the full-size URLs are not in the markup but in the page's data blobs
(`AF_initDataCallback`), as `["https://…", height, width]` triples in result order."""

from scraper.engines import Engine

COLLECT_JS = r"""
const thumbs = Array.from(document.querySelectorAll('div[data-ri] img, img.rg_i, img.YQ4gaf'))
  .map(img => img.getAttribute('data-src') || img.getAttribute('src'));
const fulls = [];
for (const s of document.querySelectorAll('script')) {
  const text = s.textContent || '';
  if (!text.includes('AF_initDataCallback')) continue;
  const re = /\["(https?:\/\/[^"]+?)",\s*(\d+),\s*(\d+)\]/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    const url = JSON.parse('"' + m[1] + '"');
    if (!url.includes('gstatic.com')) fulls.push(url);  // one full-size triple per result
  }
}
const pages = Array.from(document.querySelectorAll('div[data-ri] a[data-page], div[data-ri] a'))
  .map(a => a.getAttribute('data-page') || null);
return thumbs.map((t, i) => ({full: fulls[i] || null, thumb: t || null, page: pages[i] || null}));
"""

ENGINE = Engine(
    name="google",
    base_url="https://www.google.com",
    search_path="/search?q={q}&tbm=isch&hl=en",
    collect_js=COLLECT_JS,
    more_selector="input.mye4qd, input[value='Show more results']",
    end_selector="div.OuJzKb.Yu2Dnd, div[data-end-of-results]",
)
