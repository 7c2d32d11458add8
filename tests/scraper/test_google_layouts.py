"""Google's layout parsers on small snapshots, as google.READ_JS returns them."""

from __future__ import annotations

import json

from scraper.engines import google
from scraper.engines.google_layouts import blob_entries

BLOB = (
    'var m={"x":[2,["https://encrypted-tbn0.gstatic.com/a",9,9]],'
    '"k1":[1,[0,"d1",["https://t.example/1",96,128],["https://i.example/1.jpg?a\\u003d1\\u0026b\\u003d2",768,1024],'
    'null,0,{"2003":[null,"r1","https://page.example/1","One"]}]],'
    '"k2":[1,[0,"d2",["https://t.example/2",96,128],["https://i.example/2.jpg",700,900],null]]};'
)


def test_the_current_blob_is_joined_by_docid_with_its_escapes_undone() -> None:
    entries = blob_entries([BLOB])
    assert entries == {
        "d1": ("https://t.example/1", "https://i.example/1.jpg?a=1&b=2", "https://page.example/1"),
        "d2": ("https://t.example/2", "https://i.example/2.jpg", None),  # no page: none borrowed
    }


def test_current_layout_prefers_the_blob_and_falls_back_to_a_hovered_link() -> None:
    snap = {
        "items": [
            {"id": "d2", "page": "https://p.example/2", "thumb": None, "imgres": None},
            {
                "id": "d9",
                "page": None,
                "thumb": "data:image/jpeg;base64,AAAA",
                "imgres": "https://g/imgres?imgurl=https%3A%2F%2Fi.example%2F9.png"
                "&imgrefurl=https%3A%2F%2Fp.example%2F9",
            },
        ],
        "tiles": [{"thumb": "https://old/tile", "page": None, "meta": None}],  # the viewer's
        "scripts": [BLOB],
    }
    parsed = google.parse(snap)
    assert parsed.layout == "current"
    assert [(s.item_id, s.full, s.thumb, s.page_url) for s in parsed.sources] == [
        ("docid:d2", "https://i.example/2.jpg", "https://t.example/2", "https://p.example/2"),
        (
            "docid:d9",
            "https://i.example/9.png",
            "data:image/jpeg;base64,AAAA",
            "https://p.example/9",
        ),
    ]


def test_rg_meta_tiles_carry_their_own_urls() -> None:
    meta = json.dumps({"ou": "https://i.example/a.jpg", "tu": "https://t/a", "ru": "https://p/a"})
    snap = {"tiles": [{"thumb": None, "page": None, "meta": meta}, {"meta": "{broken"}]}
    parsed = google.parse(snap)
    assert parsed.layout == "rg_meta"
    assert [(s.full, s.thumb, s.page_url) for s in parsed.sources] == [
        ("https://i.example/a.jpg", "https://t/a", "https://p/a"),
        (None, None, None),
    ]


def test_af_init_triples_fill_the_tiles_in_order_without_gstatic_thumbnails() -> None:
    script = (
        'AF_initDataCallback({key: "ds:1", data: [["a",["https://encrypted-tbn0.gstatic.com/1",'
        '96,128],["https://i.example/1.jpg",768,1024]],["b",["https://i.example/2\\u003d.jpg",5,6]]]});'
    )
    snap = {"tiles": [{"thumb": "t1", "page": "p1"}, {"thumb": "t2"}, {"thumb": "t3"}]}
    parsed = google.parse({**snap, "scripts": [script]})
    assert parsed.layout == "AF_initDataCallback"
    assert [s.full for s in parsed.sources] == [
        "https://i.example/1.jpg",
        "https://i.example/2=.jpg",
        None,
    ]


def test_the_basic_html_page_has_thumbnails_and_pages_but_no_full_size() -> None:
    snap = {"basic": [{"thumb": "https://t/b", "href": "https://g/url?q=https://p.example/b&sa=U"}]}
    parsed = google.parse(snap)
    assert parsed.layout == "basic HTML" and parsed.with_full == 0
    assert [(s.thumb, s.page_url) for s in parsed.sources] == [
        ("https://t/b", "https://p.example/b")
    ]


def test_a_page_in_no_known_layout_has_no_sources() -> None:
    assert google.parse({"items": [], "tiles": [], "basic": [], "scripts": []}).sources == []
    assert google.parse(None).layout is None
