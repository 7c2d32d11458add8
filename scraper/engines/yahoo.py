"""Yahoo: results are `li` items under `#sres`; the thumbnail is `img[data-src]` and the
full-size URL is the `imgurl=` parameter of the result's link (`rurl=` is the page)."""

from scraper.engines import Engine, Parsed, sources_from_items

READ_JS = """
return Array.from(document.querySelectorAll('#sres li')).map(li => {
  const a = li.querySelector('a');
  const img = li.querySelector('img');
  let full = null, page = null;
  if (a && a.href) {
    const params = new URL(a.href, location.href).searchParams;
    full = params.get('imgurl');
    page = params.get('rurl');
    if (full && !/^https?:/.test(full)) full = 'https://' + full;
  }
  const thumb = img ? (img.getAttribute('data-src') || img.getAttribute('src')) : null;
  return {full: full, thumb: thumb, page: page};
});
"""


def parse(items: list[dict[str, str]] | None) -> Parsed:
    return Parsed("#sres li", sources_from_items("yahoo", items))


ENGINE = Engine(
    name="yahoo",
    base_url="https://images.search.yahoo.com",
    search_path="/search/images?p={q}",
    read_js=READ_JS,
    parse=parse,
    more_selector="button[name='more-res'], button.more-res",
    end_selector="#sres-end, .no-more-results",
)
