"""Bing: each result is an `a.iusc` whose JSON `m` attribute holds `murl` (full size),
`turl` (thumbnail) and `purl` (page); thumbnails in `img.mimg` load lazily behind `data:` GIF
placeholders."""

from scraper.engines import Engine, Parsed, sources_from_items

READ_JS = """
return Array.from(document.querySelectorAll('a.iusc')).map(a => {
  let m = {};
  try { m = JSON.parse(a.getAttribute('m') || '{}'); } catch (e) {}
  const img = a.querySelector('img.mimg');
  let thumb = m.turl || null;
  if (!thumb && img) {
    const src = img.getAttribute('src') || '';
    thumb = img.getAttribute('data-src') || (src.startsWith('data:image/gif') ? null : src);
  }
  return {full: m.murl || null, thumb: thumb, page: m.purl || null};
});
"""


def parse(items: list[dict[str, str]] | None) -> Parsed:
    return Parsed("a.iusc", sources_from_items("bing", items))


ENGINE = Engine(
    name="bing",
    base_url="https://www.bing.com",
    search_path="/images/search?q={q}&form=HDRSC2&first=1",
    read_js=READ_JS,
    parse=parse,
    more_selector="a.btn_seemore, input.btn_seemore",
    end_selector="#mmComponent_images_2 .mm_seemore_end, .bop_end",
)
